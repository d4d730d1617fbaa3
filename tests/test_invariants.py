"""The model's registry flows, sustained exits, funds and spending agree with what is recomputed from
the household table and the parameters (:mod:`invariants`), over several seeds, end years, budget
levers and a scenario file, every year and region; and the budget levers move exactly the money
they name."""

from __future__ import annotations

import pytest

from conftest import WEAK_GROWTH
from invariants import (
    POOL_CHANNELS,
    Observed,
    check_exits_and_relapse,
    check_funds,
    check_spending,
    check_sustained_exits,
    documented_funds,
    reported,
    run_observed,
)
from povsim import PovertyModel
from povsim.programs import CHANNELS

RUNS = {
    "baseline-seed1-2020": dict(seed=1, end_year=2020),
    "baseline-seed7-2018": dict(seed=7, end_year=2018),
    "budget0.8-seed3-2019": dict(seed=3, end_year=2019, **{"budget.scale": 0.8}),
    "relocation2-carry0.5-seed4-2018": dict(
        seed=4, end_year=2018, **{"budget.channel_scale.relocation": 2.0, "budget.carry_over": 0.5}
    ),
    "weak_growth-seed5-2019": dict(scenario=WEAK_GROWTH, seed=5, end_year=2019),
    "1to1000-seed2-2018": dict(seed=2, end_year=2018, scale=1000, poor_area_scale=1000),
}
"""Runs at the scenario's sampling design (1 : 500 in the poor areas, 1 : 5000 elsewhere) unless said."""


@pytest.fixture(scope="module", params=list(RUNS), ids=list(RUNS))
def observed(request) -> Observed:
    return run_observed(**RUNS[request.param])


def test_exits_and_relapse_are_recomputed_from_the_household_table(observed):
    """Every year and region, exits are the households whose exit year became the year, and relapse is
    the exited households that fell below the line this year; exactly those have a new relapse record
    (``relapse_year``, ``relapses``), and the by-years-since-exit rows split them."""
    check_exits_and_relapse(observed)


def test_sustained_exits_are_a_cohorts_exits_less_its_relapses_within_three_years(observed):
    """Each cohort judged by the end of the run: its reported sustained exits are its exits less those
    that relapsed within three years, by region, whether relapse is read from the yearly status and
    poverty columns or from the households' ``exit_year`` and ``relapse_year``."""
    cohorts = check_sustained_exits(observed)
    assert cohorts == [y for y in range(2015, observed.model.end_year - 2)]
    assert cohorts, "the run is too short to judge a cohort"


def test_relapse_is_not_vacuous(observed):
    """The runs above have exits and relapses in every year after the first, so the checks compare
    real numbers, and some of each cohort relapsed, so sustained exits are fewer than exits."""
    res = observed.results()
    for measure in ("exits_people", "relapse_people"):
        values = reported(res, measure)["national"].loc[2016:]
        assert (values > 0).all(), measure
    sustained = reported(res, "sustained_exits_people")["national"]
    exits = reported(res, "exits_people")["national"]
    for cohort in sustained.index:
        assert sustained[cohort] < exits[cohort], cohort


def test_funds_are_the_documented_money_times_the_shares(observed):
    """Every year and budgeted channel, the funds less what was carried over are the documented funds
    by source × the household-programme shares × ``budget.shares`` × ``budget.scale`` ×
    ``budget.channel_scale`` (the relocation financing × the year's share of the plan's people),
    recomputed from the parameters; county funds add up to the channel's; channels add up to ``all``."""
    check_funds(observed)


def test_spending_is_what_beneficiaries_received_plus_documented_unit_costs(observed):
    """Every year, channel and region, spending is the cost the channel recorded for its households;
    nationally it is the cash its beneficiaries received plus its documented unit costs times the
    households it enrolled, counted from its state (projects, placements, moves, trainees, loans,
    houses and water fixed); income is the gains recorded; channels add up to ``all``."""
    check_spending(observed)


# -- the budget levers move exactly what they say ------------------------------------------------
def first_year_funds(**overrides) -> dict[int, dict[str, float]]:
    """National funds by channel of 2015 and 2016 (relocation's first year) at the baseline's
    sampling, seed 1."""
    model = PovertyModel(seed=1, end_year=2016, **overrides)
    model.run_model()
    table = {c: reported(model.results(), "funds_yuan", c)["national"] for c in CHANNELS}
    return {year: {c: float(table[c][year]) for c in CHANNELS} for year in (2015, 2016)}


@pytest.fixture(scope="module")
def base_funds() -> dict[int, dict[str, float]]:
    return first_year_funds()


def first_year(channel: str) -> int:
    """The first year with the channel's money: 2016 for relocation (its plan starts then), else 2015."""
    return 2016 if channel == "relocation" else 2015


def test_budget_scale_scales_every_channels_first_year_funds_exactly(base_funds):
    """``budget.scale`` = 0.8 gives every channel 0.8 × its funds in its first year (the same state
    up to then, nothing carried in): the pool channels, relocation, and the entitlements funded at
    need (the floor's need, read after the other programmes' incomes, is not the same state)."""
    cut = first_year_funds(**{"budget.scale": 0.8})
    for channel in CHANNELS:
        if channel == "floor":
            continue
        year = first_year(channel)
        assert base_funds[year][channel] > 0, channel
        assert cut[year][channel] == pytest.approx(0.8 * base_funds[year][channel], rel=1e-12), channel


@pytest.mark.parametrize("channel", CHANNELS)
def test_channel_scale_moves_its_channel_alone(base_funds, channel):
    """``budget.channel_scale.<channel>`` = 1.5 gives that channel exactly 1.5 × its funds in its
    first year, and every other channel exactly its baseline funds that year (housing excepted when
    relocation moves: moved houses are safe; the floor excepted when another channel changes incomes
    first)."""
    scaled = first_year_funds(**{f"budget.channel_scale.{channel}": 1.5})
    year = first_year(channel)
    assert scaled[year][channel] == pytest.approx(1.5 * base_funds[year][channel], rel=1e-12)
    assert base_funds[year][channel] > 0
    for other in CHANNELS:
        if other == channel or other == "floor" or (channel == "relocation" and other == "housing"):
            continue
        assert scaled[year][other] == base_funds[year][other], (channel, other)


def test_documented_funds_read_the_parameters_as_documented():
    """The recomputation itself, on the documented numbers: the 2015 pool is (46.5bn + 31.6bn) × the
    household-programme share (no pooled funds before 2016); 2018 grows 2017's central and provincial
    funds and 2016's pooled funds at ``budget.growth_after`` (10%) a year; relocation gets
    600bn × 2.49M / 9.81M in 2016 and nothing in 2015."""
    from povsim.parameters import ParameterSet

    p = ParameterSet.defaults()
    share, pooled = p["budget.household_programme_share"], p["budget.pooled_share_to_households"]
    assert p["budget.growth_after"] == 0.10
    money_2015 = documented_funds(p, 2015)
    assert money_2015["industry"] == pytest.approx((46.5e9 + 31.6e9) * share * p["budget.shares"]["industry"])
    assert money_2015["relocation"] == 0.0
    pool_2017 = (86.1e9 + 63.7e9) * share + 234.0e9 * 1.1 * pooled
    assert sum(documented_funds(p, 2017)[c] for c in POOL_CHANNELS) == pytest.approx(pool_2017)
    pool_2018 = (86.1e9 + 63.7e9) * 1.1 * share + 234.0e9 * 1.1**2 * pooled
    assert documented_funds(p, 2018)["credit"] == pytest.approx(pool_2018 * p["budget.shares"]["credit"])
    assert documented_funds(p, 2016)["relocation"] == pytest.approx(600e9 * 2.49e6 / 9.81e6)
    assert documented_funds(p, 2021)["relocation"] == 0.0
