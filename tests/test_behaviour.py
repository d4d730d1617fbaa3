"""The model responds to its parameters the way the mechanisms say it should."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_model, series
from povsim.households import EXITED, REGISTERED

SEEDS = (31, 32, 33)
NO_GROWTH = {
    "economy.growth.farm": 0.0,
    "economy.growth.local_wage": 0.0,
    "economy.growth.migrant_wage": 0.0,
    "economy.growth.business": 0.0,
}
NO_ENTRIES = {
    "governance.recheck.year": 0,  # the re-check adds and removes households on its own
    "registry.entry.identification_prob": 0.0,
    "registry.entry.systematic_identification_prob": 0.0,  # the dynamic management from 2017
    "programs.floor.registry_link_year": 2030,  # a 低保 household that qualifies is registered
    "registry.relapse.reregistration_prob": 0.0,
    "registry.relapse.reregistration_prob_before": 0.0,
    "governance.evaluation.enabled": False,  # the province's pre-evaluation check re-registers false exits
}


def mean_poor_2020(**overrides) -> float:
    return float(np.mean([run_model(seed=s, scale=2000, **overrides).national("poor_people") for s in SEEDS]))


def test_lower_income_growth_means_more_poor_people_in_2020():
    default = mean_poor_2020()
    slow = mean_poor_2020(**NO_GROWTH)
    assert slow > default
    # not a rounding difference: six years of zero market growth leave millions more poor
    assert slow - default > 0.05 * default


def test_poverty_increases_monotonically_as_growth_falls():
    low = mean_poor_2020(**{k: 0.02 for k in NO_GROWTH})
    none = mean_poor_2020(**NO_GROWTH)
    default = mean_poor_2020()
    assert default < low < none


@pytest.fixture(scope="module")
def no_exits():
    return run_model(seed=41, scale=2000, **{"registry.exit.verification_prob": 0.0, "governance.recheck.year": 0})


def test_no_verification_means_no_exits(no_exits):
    df = no_exits.results()
    assert (df[df["measure"] == "exits_people"]["value"] == 0).all()
    assert (df[df["measure"] == "removed_people"]["value"] == 0).all()
    assert (df[df["measure"] == "exits_households"]["value"] == 0).all()
    assert (df[df["measure"] == "relapse_people"]["value"] == 0).all()
    assert not (no_exits.households.status == EXITED).any()
    # the registry only grows
    reg = series(df, "registered_poor_people")
    assert (reg.diff().dropna() >= 0).all()


@pytest.fixture(scope="module")
def no_entries():
    return run_model(seed=42, scale=2000, **NO_ENTRIES)


def test_no_identification_or_reregistration_means_no_entries(no_entries):
    df = no_entries.results()
    for measure in ("entries_people", "entries_households", "newly_registered_people", "reregistered_people"):
        assert (df[df["measure"] == measure]["value"] == 0).all(), measure
    reg = series(df, "registered_poor_people")
    assert (reg.diff().dropna() <= 0).all()
    # nobody registered after 2014
    hh = no_entries.households
    assert (hh.registered_year[hh.status == REGISTERED] <= 2014).all()


def test_identification_alone_stops_new_registrations_only():
    no_identification = {
        "registry.entry.identification_prob": 0.0,
        "registry.entry.systematic_identification_prob": 0.0,
        "programs.floor.registry_link_year": 2030,
        "governance.recheck.year": 0,
    }
    model = run_model(seed=43, scale=2000, **no_identification)
    df = model.results()
    assert (df[df["measure"] == "newly_registered_people"]["value"] == 0).all()
    assert series(df, "reregistered_people").sum() > 0


def test_relapse_zero_in_2015_positive_later(baseline_results):
    relapse = series(baseline_results, "relapse_people")
    assert relapse[2015] == 0  # nobody had exited before the first annual update
    assert relapse.loc[2016:].sum() > 0
    assert relapse[2020] > 0


def test_exits_happen_every_year(baseline_results):
    exits = series(baseline_results, "exits_people")
    assert (exits > 0).all()


def test_reregistration_rises_when_systematic(baseline_results, baseline_model):
    """From 2017 relapsed households are systematically re-registered (004 line 28)."""
    assert baseline_model.params["registry.relapse.reregistration_from_year"] == 2017
    rereg = series(baseline_results, "reregistered_people")
    exited = series(baseline_results, "exited_people")
    before = rereg[2016] / exited[2015]
    after = rereg[2018] / exited[2017]
    assert after > before


def test_higher_verification_means_more_exits():
    low = run_model(seed=44, scale=2000, end_year=2016, **{"registry.exit.verification_prob": 0.3})
    high = run_model(seed=44, scale=2000, end_year=2016, **{"registry.exit.verification_prob": 1.0})
    assert high.national("exited_people") > low.national("exited_people")
    assert high.national("registered_poor_people") < low.national("registered_poor_people")


def test_exits_meet_the_exit_standard():
    """Households that exit in a year have income stably above the line that year, when the
    registry assesses incomes without error and counties are under no pressure to exit."""
    from povsim.registry import exit_eligible

    exact = {"governance.assessment_sigma": 0.0, "governance.exit_pressure.max": 0.0}
    model = run_model(seed=45, scale=2000, end_year=2016, **exact)
    hh = model.households
    exited_now = (hh.status == EXITED) & (hh.exit_year == 2016)
    margin = model.params["registry.exit.income_margin"]
    assert exited_now.any()
    line = model.poverty_line
    assert (hh.income_pc[exited_now] >= line).all()
    # below the 'stably above' margin only when the floor (兜底) guarantees the income
    below_margin = exited_now & (hh.income_pc < line * (1 + margin))
    if below_margin.any():
        floor_gain = model.ledger.gain[model.programme("floor").index]
        assert (floor_gain[below_margin] > 0).all()
    assert hh.two_assurances_three_guarantees()[exited_now].all()
    # the eligibility rule is what the registry applies
    assert not exit_eligible(hh, model.params, model.poverty_line)[hh.status != REGISTERED].any()
