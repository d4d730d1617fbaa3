"""Stock-flow accounting of the registry, and results that add up to the household table."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ALL_REGIONS, PEOPLE_MEASURES, REGIONS, indexed
from povsim.households import EXITED, REGISTERED


@pytest.fixture(scope="module", params=["baseline_model", "long_model"])
def model(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def values(model):
    return indexed(model.results())


def years(model):
    return range(2015, model.end_year + 1)


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_registered_people_stock_flow_identity_is_exact(model, values, region):
    for t in years(model):
        prev = values[(t - 1, region, "registered_poor_people")]
        now = values[(t, region, "registered_poor_people")]
        exits = values[(t, region, "exits_people")]
        removed = values[(t, region, "removed_people")]  # the 2015–16 re-check (回头看)
        entries = values[(t, region, "entries_people")]
        assert now == prev - exits - removed + entries, (t, region)


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_registered_households_stock_flow_identity_is_exact(model, values, region):
    for t in years(model):
        prev = values[(t - 1, region, "registered_poor_households")]
        now = values[(t, region, "registered_poor_households")]
        exits = values[(t, region, "exits_households")]
        removed = values[(t, region, "removed_households")]
        entries = values[(t, region, "entries_households")]
        assert now == prev - exits - removed + entries, (t, region)


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_entries_are_new_registrations_plus_reregistrations(model, values, region):
    for t in years(model):
        entries = values[(t, region, "entries_people")]
        assert entries == values[(t, region, "newly_registered_people")] + values[(t, region, "reregistered_people")]


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_exited_stock_flow_identity(model, values, region):
    """Households leave 'exited' only by re-registration."""
    for t in years(model):
        prev = values[(t - 1, region, "exited_people")]
        now = values[(t, region, "exited_people")]
        assert now == prev + values[(t, region, "exits_people")] - values[(t, region, "reregistered_people")]


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_flows_are_bounded_by_the_stocks_they_come_from(model, values, region):
    for t in years(model):
        assert 0 <= values[(t, region, "exits_people")] <= values[(t - 1, region, "registered_poor_people")]
        assert 0 <= values[(t, region, "relapse_people")] <= values[(t - 1, region, "exited_people")]
        assert 0 <= values[(t, region, "reregistered_people")] <= values[(t - 1, region, "exited_people")]


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_income_poor_split_by_registry_status(model, values, region):
    for t in range(2014, model.end_year + 1):
        total = values[(t, region, "poor_people")]
        parts = (
            values[(t, region, "registered_income_poor_people")]
            + values[(t, region, "unregistered_income_poor_people")]
        )
        assert total == parts


def test_people_counts_are_whole_numbers(model):
    df = model.results()  # every channel
    counts = df[df["measure"].isin(PEOPLE_MEASURES)]["value"]
    assert (counts == np.round(counts)).all()
    assert (counts >= 0).all()


def test_regions_add_up_to_national_for_people_measures(model):
    df = model.results()
    df = df[df["measure"].isin(PEOPLE_MEASURES)]
    wide = df.pivot(index=["year", "measure", "channel"], columns="region", values="value").dropna()
    assert (wide[list(REGIONS)].sum(axis=1) == wide["national"]).all()


def test_final_year_measures_recomputed_from_household_table(model, values):
    hh = model.households
    t = model.end_year
    pw = hh.people_weight
    reg = hh.status == REGISTERED
    poor_recomputed = (hh.weight.astype(np.int64) * hh.size)[hh.poor].sum()
    assert values[(t, "national", "poor_people")] == poor_recomputed
    assert values[(t, "national", "registered_poor_people")] == pw[reg].sum()
    assert values[(t, "national", "registered_poor_households")] == hh.weight[reg].sum()
    assert values[(t, "national", "exited_people")] == pw[hh.status == EXITED].sum()
    for r, region in enumerate(REGIONS):
        assert values[(t, region, "poor_people")] == pw[hh.poor & (hh.region == r)].sum()
    # poverty recomputed from income per person against the reported line
    line = values[(t, "national", "poverty_line")]
    assert pw[hh.income / hh.size < line].sum() == poor_recomputed


def test_county_table_holds_the_final_year_counts(model, values):
    t = model.end_year
    counties = model.governance.table()
    last = counties[counties["year"] == t]
    assert len(last) == model.geography.n_counties
    assert last["poor_people"].sum() == values[(t, "national", "poor_people")]
    assert last["registered_poor_people"].sum() == values[(t, "national", "registered_poor_people")]


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_exits_by_channel_add_up_to_all_exits(model, region):
    """Every exit is attributed: exits by channel (programmes and 'own') sum exactly to the
    year's exits."""
    df = model.results()
    ex = df[(df["measure"] == "exits_people") & (df["region"] == region)]
    by_channel = ex[ex["channel"] != "all"].groupby("year")["value"].sum()
    total = ex[ex["channel"] == "all"].set_index("year")["value"]
    assert not by_channel.empty, "exits are reported by channel"
    assert list(by_channel.index) == list(total.index)
    assert (by_channel == total).all()
