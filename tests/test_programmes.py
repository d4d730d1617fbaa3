"""The programmes, their money and exit attribution, as a researcher would check them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import difference_se
from povsim import PovertyModel
from povsim.allocation import apportion, fit_within
from povsim.attribution import ATTRIBUTION_CHANNELS
from povsim.errors import PovsimInputError
from povsim.households import EXITED, REGISTERED
from povsim.money import funds_by_source, pool_funds
from povsim.parameters import ParameterSet, yearly_series
from povsim.programs import CHANNELS

SCALE = 5000
SEEDS = range(1, 11)


def run(end_year: int = 2020, seed: int = 1, scale: float = SCALE, **overrides) -> PovertyModel:
    model = PovertyModel(seed=seed, scale=scale, end_year=end_year, **overrides)
    model.run_model()
    return model


def channel_values(results: pd.DataFrame, measure: str, region: str = "national") -> pd.DataFrame:
    df = results[(results["measure"] == measure) & (results["region"] == region)]
    return df.pivot(index="year", columns="channel", values="value")


@pytest.fixture(scope="module")
def baseline() -> PovertyModel:
    return run()


def test_every_channel_reports_exits_and_spending_every_year(baseline):
    res = baseline.results()
    for measure in ("exits_people", "spending_yuan", "funds_yuan", "beneficiaries_households"):
        table = channel_values(res, measure)
        assert list(table.index) == list(range(2015, 2021)), measure
        for channel in CHANNELS:
            assert channel in table.columns, (measure, channel)
            assert table[channel].notna().all(), (measure, channel)
    spending = channel_values(res, "spending_yuan")
    for channel in CHANNELS:
        assert (spending[channel] > 0).any(), f"{channel} never spends"


@pytest.mark.parametrize("region", ["national", "east", "central", "west"])
def test_channel_exits_sum_exactly_to_total(baseline, region):
    exits = channel_values(baseline.results(), "exits_people", region)
    parts = exits[list(ATTRIBUTION_CHANNELS)].sum(axis=1)
    assert (parts == exits["all"]).all()


def test_channel_spending_sums_to_total(baseline):
    spending = channel_values(baseline.results(), "spending_yuan")
    np.testing.assert_allclose(spending[list(CHANNELS)].sum(axis=1), spending["all"], rtol=1e-9)


def test_spending_stays_within_funds_in_expectation(baseline):
    """Pool channels spend no more than their funds (the marginal enrolment is randomised,
    so allow a few agents' worth of slack at this coarse scale)."""
    res = baseline.results()
    spending = channel_values(res, "spending_yuan")
    funds = channel_values(res, "funds_yuan")
    for channel in ("industry", "employment", "ecology", "education", "credit", "relocation"):
        total_spent, total_funds = spending[channel].sum(), funds[channel].sum()
        assert total_spent <= total_funds * 1.10, channel


def test_budget_cut_never_lowers_poverty_on_average():
    """Over ten seeds, halving every programme's money does not give fewer poor in 2020."""
    base = [run(seed=s).national("poor_people") for s in SEEDS]
    cut = [run(seed=s, **{"budget.scale": 0.5}).national("poor_people") for s in SEEDS]
    assert np.mean(cut) >= np.mean(base)
    assert np.mean(cut) > np.mean(base) * 1.02  # and the cut matters


@pytest.mark.parametrize("channel", CHANNELS)
def test_switching_a_channel_off_removes_its_spending_and_exits(channel):
    model = run(end_year=2018, **{f"programs.{channel}.enabled": False})
    res = model.results()
    assert (channel_values(res, "spending_yuan")[channel] == 0).all()
    assert (channel_values(res, "exits_people")[channel] == 0).all()
    assert (channel_values(res, "beneficiaries_households")[channel] == 0).all()


def labour_limited(hh) -> np.ndarray:
    """Households without a worker, or with a working-age member who cannot work (recomputed from
    the member counts)."""
    inactive = hh.size.astype(int) - hh.children - hh.workers - hh.elderly
    return (hh.workers == 0) | (inactive > 0)


def test_floor_lifts_every_covered_household_to_its_county_standard():
    """Each year the floor pays the gap to the county's 低保 standard: every household it paid ends
    the year at or above its county's standard, and every one of them has limited labour; the
    floor reaches registered and other households alike, and qualifying households it does not
    cover (take-up, assessment) stay below."""
    model = PovertyModel(seed=3, scale=SCALE, end_year=2020)
    floor = model.programme("floor")
    while model.running:
        model.step()
        hh = model.households
        paid = model.ledger.gain_row(floor.index) > 0
        standard = floor.standard(model.year)[hh.county]
        income_pc = hh.income / hh.size
        assert paid.sum() > 10, model.year
        assert (income_pc[paid] >= standard[paid] - 1e-6).all(), model.year
        assert labour_limited(hh)[paid].all(), model.year
        assert paid[hh.status == 0].any() and paid[hh.status != 0].any(), model.year
        assert (paid & (hh.workers > 0)).any(), model.year  # partly lost labour counts too
        left_below = labour_limited(hh) & ~paid & (income_pc < standard)
        assert left_below.any(), model.year
        # covered households below their standard left unpaid: the means test assessed them above it
        before_floor = (hh.income - model.ledger.gain_row(floor.index)) / hh.size
        assessed_out = floor.covered & labour_limited(hh) & (before_floor < standard) & ~paid
        assert assessed_out.any(), model.year


def test_without_the_floor_households_without_labour_stay_below_the_standard():
    model = PovertyModel(seed=3, scale=SCALE, end_year=2016, **{"programs.floor.enabled": False})
    model.run_model()
    hh = model.households
    floor = model.programme("floor")
    without_labour = (hh.status != 0) & (hh.workers == 0)
    assert (hh.income_pc[without_labour] < floor.standard(model.year)[hh.county[without_labour]]).any()
    assert (channel_values(model.results(), "spending_yuan")["floor"] == 0).all()


def test_floor_standards_follow_the_documented_average_and_reach_the_line_by_2020(baseline):
    """County standards average the Ministry of Civil Affairs' national figure over rural people, are
    lower in poor counties and spread across counties (some below the line in 2016), and by 2020
    none is below the line (两线合一)."""
    floor = baseline.programme("floor")
    documented = baseline.params["programs.floor.standard"]
    assert documented["2016"] == 3744 and documented["2017"] == 4301
    rural = baseline.governance.rural_people
    poor = baseline.geography.county_poor
    assert np.average(floor.county_factor, weights=rural) == pytest.approx(1.0)
    assert floor.county_factor[poor].mean() < floor.county_factor[~poor].mean()
    for year in (2015, 2016, 2017):
        assert floor.national_standard(year) == documented[str(year)]
        assert np.average(floor.standard(year), weights=rural) >= documented[str(year)]
    line_2016 = baseline.params["economy.poverty_line.documented"]["2016"]
    assert (floor.standard(2016) < line_2016).any() and (floor.standard(2016) > line_2016).any()
    line_2020 = line_2016 * (1 + baseline.params["economy.poverty_line.uprating"]) ** 4
    assert floor.lowest_standard(2020) == pytest.approx(line_2020)
    assert (floor.standard(2020) >= line_2020 - 1e-9).all()
    assert floor.lowest_standard(2016) < floor.lowest_standard(2018) < floor.lowest_standard(2020)


def test_registry_link_brings_the_qualifying_registered_into_dibao_at_an_even_pace():
    """From 2017 the floor covers each year a share 1 / (years left to 2020) of the qualifying
    registered (or supported exited) households it did not cover yet — a quarter in 2017, all of
    them in 2020 (应保尽保 by 2020) — and none before 2017."""
    model = PovertyModel(seed=5, scale=SCALE, end_year=2020)
    floor, hh = model.programme("floor"), model.households
    years = model.governance.support_years
    while model.running:
        y = model.year + 1
        before = floor.covered.copy()
        supported = (hh.status == 1) | ((hh.status == 2) & (y - hh.exit_year <= years))
        model.step()
        # who qualified this year: limited labour, assessed (the year's means-test draw) below standard
        before_floor = (hh.income - model.ledger.gain_row(floor.index)) / hh.size
        standard = floor.standard(y)[hh.county]
        qualifies = labour_limited(hh) & (before_floor * floor.assessment_error() < standard)
        candidates = qualifies & supported & ~before
        newly = floor.covered & ~before
        assert not (newly & ~qualifies).any(), y
        share = newly[candidates].mean()
        if y < 2017:
            assert not newly.any(), y
        elif y < 2020:
            expected = 1 / (2020 - y + 1)
            assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / candidates.sum()), (y, share)
        else:
            assert share == 1.0


def test_floor_does_not_end_when_a_household_leaves_the_registry():
    """低保 is social assistance: without any post-exit support, exited households (and households
    never registered) that qualify are still paid."""
    model = run(end_year=2018, **{"governance.post_exit_support_years": 0})
    hh = model.households
    paid = model.ledger.gain_row(model.programme("floor").index) > 0
    assert paid[hh.status == 2].sum() > 10
    assert paid[hh.status == 0].sum() > 10


def test_dibao_households_that_qualify_are_registered():
    """From the registry link, a non-registered household the floor pays and the registry assesses
    below the line is registered (002 line 488), even when no other household is identified."""
    quiet = {
        "registry.entry.identification_prob": 0.0,
        "registry.entry.systematic_identification_prob": 0.0,
        "governance.entry_quota_share": 10.0,  # no quota binds
    }
    linked = run(end_year=2018, **quiet)
    new = linked.flows.new_registrations
    assert new.sum() > 10
    paid = linked.ledger.gain_row(linked.programme("floor").index) > 0
    assert paid[new].all()
    unlinked = run(end_year=2018, **quiet, **{"programs.floor.registry_link_year": 2030})
    assert unlinked.flows.new_registrations.sum() == 0


def test_no_relocation_outside_the_plan_years_and_within_the_plan():
    model = run(end_year=2020)
    res = model.results()
    spending = channel_values(res, "spending_yuan")["relocation"]
    beneficiaries = channel_values(res, "beneficiaries_households")["relocation"]
    assert spending.loc[2015] == 0 and beneficiaries.loc[2015] == 0
    moved = model.programme("relocation").year_moved > 0
    people = model.households.people_weight[moved].sum()
    # the plan: 9.81M people over 2016–2020 (002 line 62); take-up and funds may keep it lower
    assert 0.5 * 9.81e6 < people <= 9.81e6 * 1.05
    hh = model.households
    assert not hh.hazard_zone[moved].any()
    assert hh.housing_safe[moved].all() and hh.water_safe[moved].all()


@pytest.mark.parametrize("follows", [True, False])
def test_houses_and_water_are_fixed_by_each_poor_countys_planned_exit_year(follows):
    """Recomputed from the household table at the end of 2016: every household registered before
    2016 in a poor county planning to exit in 2016 has a safe house and safe water (its county's
    works ran to its exit plan), while with the plan ignored (``follows_exit_plan`` off, one
    national pace to 2020) many such households still lack them."""
    model = run(end_year=2016, **{"programs.housing.follows_exit_plan": follows})
    hh, gov = model.households, model.governance
    in_plan = gov.plan_year[hh.county] == 2016
    held = ((hh.status == REGISTERED) & (hh.registered_year < 2016)) | ((hh.status == EXITED) & (hh.exit_year == 2016))
    households = in_plan & held
    assert households.sum() > 100
    unsafe = households & ~(hh.housing_safe & hh.water_safe)
    if follows:
        assert not unsafe.any()
    else:
        assert hh.weight[unsafe].sum() > 0.1 * hh.weight[households].sum()


def test_relocation_off_keeps_hazard_zone_households_in_place():
    model = run(end_year=2018, **{"programs.relocation.enabled": False})
    assert not (model.programme("relocation").year_moved > 0).any()


def test_more_money_more_exits_through_the_pool_channels():
    low = run(end_year=2017, **{"budget.scale": 0.5}).results()
    high = run(end_year=2017, **{"budget.scale": 1.5}).results()
    channels = ["industry", "employment", "credit", "education"]
    low_spent = channel_values(low, "spending_yuan")[channels].sum().sum()
    high_spent = channel_values(high, "spending_yuan")[channels].sum().sum()
    assert high_spent > low_spent * 1.5


def test_central_funds_follow_the_documented_series():
    params = ParameterSet.defaults()
    assert funds_by_source(params, 2013)["central"] == 38.0e9  # 004 line 16
    assert funds_by_source(params, 2017)["central"] == 86.1e9  # 004 line 16
    assert funds_by_source(params, 2018)["central"] == pytest.approx(86.1e9 * (1 + params["budget.growth_after"]))
    assert funds_by_source(params, 2015)["pooled_agricultural"] == 0.0  # pooling began in 2016
    assert funds_by_source(params, 2021)["relocation"] == 0.0  # relocation financing is for 2016–2020
    assert pool_funds(params.with_overrides({"budget.scale": 0.5}, "test"), 2017) == pytest.approx(
        0.5 * pool_funds(params, 2017)
    )


def test_yearly_series_rules():
    values = {"2015": 1.0, "2017": 3.0}
    assert yearly_series(values, 2014, 0.1) == 0.0
    assert yearly_series(values, 2016, 0.1) == 1.0
    assert yearly_series(values, 2018, 0.1) == pytest.approx(3.3)
    assert yearly_series(values, 2018, None) == 0.0


def test_apportion_is_exact():
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.random(10) * rng.integers(1, 10**6)
        total = int(rng.integers(0, 10**7))
        out = apportion(total, values)
        assert out.sum() == total
        assert (out >= 0).all()


def test_budget_fitting_respects_priority_and_budget():
    idx = np.arange(10)
    priority = np.array([5, 4, 3, 2, 1, 0, 9, 8, 7, 6], dtype=float)
    amount = np.full(10, 10.0)
    group = np.array([0] * 6 + [1] * 4)
    budget = np.array([30.0, 1000.0])
    chosen = fit_within(idx, priority, amount, group, budget, u=np.ones(10))  # u = 1: marginal never chosen
    assert set(chosen) == {5, 4, 3, 6, 7, 8, 9}
    lucky = fit_within(idx, priority, amount, group, np.array([35.0, 0.0]), u=np.zeros(10))
    assert set(lucky) == {5, 4, 3, 2}  # the marginal one with 5 of its 10 covered, u = 0 < 0.5


def test_pooled_fitting_gives_a_groups_unused_limit_to_its_pool_only():
    # groups 0 and 1 share pool 0, group 2 is alone in pool 1; every candidate costs 10
    idx = np.arange(9)
    priority = np.arange(9, dtype=float)
    amount = np.full(9, 10.0)
    group = np.array([0, 0, 0, 0, 0, 1, 2, 2, 2])
    limit = np.array([20.0, 40.0, 10.0])  # group 1 has one candidate and 30 to spare; group 2 is short by 20
    pool = np.array([0, 0, 1])
    ones = np.ones(9)
    alone = fit_within(idx, priority, amount, group, limit, u=ones)
    assert set(alone) == {0, 1, 5, 6}  # 30 of group 1's limit unused, group 0 short
    pooled = fit_within(idx, priority, amount, group, limit, u=ones, pool=pool, u_pool=ones)
    # group 1's 30 go to group 0's next three candidates, poorest first; nothing crosses to pool 1
    assert set(pooled) == {0, 1, 2, 3, 4, 5, 6}
    assert list(pooled) == sorted(pooled)
    # the marginal candidate of the pooled round is drawn with the pool's own uniforms
    half = fit_within(idx, priority, amount, group, np.array([20.0, 15.0, 10.0]), u=ones, pool=pool, u_pool=np.zeros(9))
    assert set(half) == {0, 1, 2, 5, 6}  # 5 left over covers half of candidate 2, drawn with u = 0
    with pytest.raises(ValueError, match="u_pool"):
        fit_within(idx, priority, amount, group, limit, u=ones, pool=pool)


def test_pooling_keeps_the_expected_total_at_the_limit():
    """The marginal lotteries overshoot a county's limit half the time; pooling only what counties
    leave unused in expectation keeps the expected total at the pool's limit (pooling the realised
    remainders overshot it by ~1%)."""
    rng = np.random.default_rng(0)
    groups, per = 100, 20
    group = np.repeat(np.arange(groups), per)
    idx = np.arange(group.size)
    amount = np.ones(idx.size)
    priority = rng.random(idx.size)
    limit = np.full(groups, 2.5)
    totals = [
        fit_within(
            idx, priority, amount, group, limit, rng.random(idx.size), np.zeros(groups, np.int8), rng.random(idx.size)
        ).size
        for _ in range(400)
    ]
    assert abs(np.mean(totals) - limit.sum()) < 3 * np.std(totals) / np.sqrt(len(totals))


def test_spending_and_headcount_do_not_depend_on_the_scale():
    """County budgets and quotas ration a county's few agents at a coarse scale; what one county
    cannot use goes to its region, so national spending, entries and poverty at the default 1 : 1000
    match 1 : 100 (before, 1 : 1000 spent a quarter less on relocation and registered a fifth fewer
    newly poor)."""
    coarse = [run(2016, seed, 1000).results() for seed in (1, 2, 3, 4)]
    fine = [run(2016, seed, 100).results() for seed in (1, 2)]

    def values(results, measure, channel="all"):
        return np.array([channel_values(r, measure)[channel].loc[2016] for r in results])

    checks = [("spending_yuan", "all"), ("spending_yuan", "relocation"), ("spending_yuan", "industry")]
    checks += [("entries_people", "all"), ("poor_people", "all")]
    for measure, channel in checks:
        c, f = values(coarse, measure, channel), values(fine, measure, channel)
        error = difference_se(c, f)
        assert abs(c.mean() - f.mean()) < 3 * error + 0.01 * f.mean(), (measure, channel, c, f)


def test_coarse_targeting_matches_a_fine_scale(fine_results_2017):
    """A county's handful of agents at 1 : 1000 would put its poorest-first cut-off wherever they
    happen to lie; rationing alike counties' budgets together keeps targeting as sharp as with all
    households, so the 2017 exits and poverty at 1 : 1000 match 1 : 10 within sampling error
    (before, 1 : 1000 exited 0.4M fewer people in 2017: 16.57M against 16.97M)."""
    coarse = [run(2017, seed, 1000).results() for seed in range(1, 11)]
    for measure in ("exits_people", "poor_people"):
        c = np.array([channel_values(r, measure)["all"].loc[2017] for r in coarse])
        f = np.array([channel_values(r, measure)["all"].loc[2017] for r in fine_results_2017])
        error = difference_se(c, f)
        assert abs(c.mean() - f.mean()) < 3 * error, (measure, c, f)


def test_coarse_scales_ration_alike_counties_together():
    """At a coarse scale a county budget enrols the poorest candidates of its cell of alike counties
    (same region, kind, planned exit year and deep-poverty tilt); at 1 : 1 only its own."""
    model = PovertyModel(seed=2, scale=1000, end_year=2015)
    model.step()
    programme = model.programmes[0]
    hh, gov = model.households, model.governance
    idx = np.flatnonzero(programme.registered())
    priority = programme.poorest_first(idx)
    cost = np.full(idx.size, 1000.0)
    cells = gov.model.sampling.rationing_cell[hh.county[idx]]
    # the poor county with the most registered agents, and a budget for a third of its candidates
    counts = np.bincount(hh.county[idx], minlength=model.geography.n_counties) * model.geography.county_poor
    county = int(np.argmax(counts))
    in_cell = cells == gov.model.sampling.rationing_cell[county]
    assert np.unique(hh.county[idx[in_cell]]).size > 5
    budget = np.zeros(model.geography.n_counties)
    budget[county] = (cost * hh.weight[idx])[hh.county[idx] == county].sum() / 3

    chosen = programme.select(idx, priority, cost, budget)
    pos = np.searchsorted(idx, chosen)
    assert in_cell[pos].all() and np.unique(hh.county[chosen]).size > 1
    spent = (cost * hh.weight[idx])[pos].sum()
    assert abs(spent - budget.sum()) <= 1000.0 * hh.weight.max()
    # the poorest of the cell: no candidate left out is poorer than a chosen one (bar the marginal)
    left_out = in_cell.copy()
    left_out[pos] = False
    assert (np.sort(priority[pos])[:-1] <= priority[left_out].min()).all()

    model.scale = 1.0
    own = programme.select(idx, priority, cost, budget)
    assert own.size > 0 and (hh.county[own] == county).all()


def test_exits_credited_to_programmes_and_own_income(baseline):
    exits = channel_values(baseline.results(), "exits_people")
    assert exits["own"].sum() > 0
    programme_exits = exits[list(CHANNELS)].sum().sum()
    assert programme_exits > 0.1 * exits["all"].sum()


def test_sustained_exits_reported_for_cohorts_three_years_back(baseline):
    res = baseline.results()
    sustained = channel_values(res, "sustained_exits_people")
    exits = channel_values(res, "exits_people")
    assert list(sustained.index) == [2015, 2016, 2017]
    assert (sustained["all"] <= exits.loc[sustained.index, "all"]).all()
    assert (sustained["all"] > 0).all()
    cost = channel_values(res, "cost_per_sustained_exit_yuan")
    assert (cost.stack().dropna() > 0).all()  # where a channel had sustained exits


def test_programmes_cut_poverty_against_no_programmes():
    off = {f"programs.{c}.enabled": False for c in CHANNELS}
    with_programmes = np.mean([run(end_year=2017, seed=s).national("poor_people") for s in (1, 2, 3)])
    without = np.mean([run(end_year=2017, seed=s, **off).national("poor_people") for s in (1, 2, 3)])
    assert with_programmes < 0.8 * without


def test_channel_shares_must_sum_to_one():
    with pytest.raises(PovsimInputError, match=r"budget\.shares.*sum to 1"):
        PovertyModel(scale=SCALE, **{"budget.shares": {"industry": 0.9}})
