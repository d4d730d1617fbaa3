"""Registry governance: identification errors, the re-check, false exits and the evaluation,
post-exit support, village and county exit (摘帽)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import difference_se
from povsim import PovertyModel
from povsim.households import EXITED, REGISTERED

SCALE = 5000
SEEDS = range(1, 11)


def run(seed: int = 1, end_year: int = 2020, **overrides) -> PovertyModel:
    model = PovertyModel(seed=seed, scale=SCALE, end_year=end_year, **overrides)
    model.run_model()
    return model


def national(results: pd.DataFrame, measure: str, channel: str = "all") -> pd.Series:
    df = results[(results["measure"] == measure) & (results["region"] == "national") & (results["channel"] == channel)]
    return df.set_index("year")["value"].sort_index()


@pytest.fixture(scope="module")
def baseline() -> PovertyModel:
    return run()


def test_county_and_village_exits_are_cumulative_and_bounded(baseline):
    res = baseline.results()
    counties = national(res, "counties_exited")
    villages = national(res, "villages_exited")
    assert list(counties.index) == list(range(2014, 2021))
    assert (counties.diff().dropna() >= 0).all() and (villages.diff().dropna() >= 0).all()
    assert counties.max() <= 832 and villages.max() <= 128_000
    assert counties[2014] == 0 and villages[2014] == 0
    assert counties[2020] > 0 and villages[2020] > 0


def test_exited_counties_met_the_incidence_threshold(baseline):
    table = baseline.governance.table()
    exits = table[(table["exit_year"] == table["year"]) & (table["status"] == "exited")]
    assert not exits.empty
    limit = exits["region"].map({"east": 0.02, "central": 0.02, "west": 0.03})
    assert (exits["exit_incidence"] < limit).all()  # the incidence freed of agent-sampling noise
    # every poor county appears every year; exit is final
    assert (table.groupby("year")["poor_county"].sum() == 832).all()
    status = table[table["poor_county"]].pivot(index="county", columns="year", values="status")
    exited = status.eq("exited")
    assert (exited.astype(int).diff(axis=1).fillna(0) >= 0).all().all()


def test_counties_csv_is_written(tmp_path):
    from povsim.cli import main

    assert main(["run", "--scale", "20000", "--end-year", "2016", "--out", str(tmp_path), "-q"]) == 0
    table = pd.read_csv(tmp_path / "counties.csv")
    assert {"year", "county", "region", "incidence", "funds_yuan", "status"} <= set(table.columns)
    assert set(table["year"]) == {2014, 2015, 2016}
    assert len(table) == 3 * table["county"].nunique()


def test_recheck_removes_and_adds_in_its_year_only(baseline):
    res = baseline.results()
    removed = national(res, "removed_people")
    assert removed[2015] > 0 and (removed.drop(2015) == 0).all()
    no_recheck = run(end_year=2015, **{"governance.recheck.year": 0}).results()
    assert national(no_recheck, "removed_people")[2015] == 0
    assert national(res, "newly_registered_people")[2015] > national(no_recheck, "newly_registered_people")[2015]


def test_false_exits_are_recorded_and_the_evaluation_detects_some(baseline):
    res = baseline.results()
    false = national(res, "false_exits_people")
    detected = national(res, "false_exits_detected_people")
    assert false.sum() > 0
    assert (detected <= false).all()
    assert detected[2015] == 0  # the first evaluation covers 2016 (004 line 22)
    assert detected.loc[2016:].sum() > 0


def test_no_false_exits_without_assessment_error_or_pressure():
    res = run(end_year=2017, **{"governance.assessment_sigma": 0.0, "governance.exit_pressure.max": 0.0}).results()
    assert (national(res, "false_exits_people") == 0).all()


def test_turning_the_evaluation_off_raises_undetected_false_exits():
    def undetected(model: PovertyModel) -> float:
        hh = model.households
        mask = model.registry.false_exit & (hh.status == EXITED)
        return float(hh.people_weight[mask].sum())

    on = [undetected(run(seed=s, end_year=2018)) for s in SEEDS]
    off = [undetected(run(seed=s, end_year=2018, **{"governance.evaluation.enabled": False})) for s in SEEDS]
    assert np.mean(off) > np.mean(on)
    off_results = run(end_year=2018, **{"governance.evaluation.enabled": False}).results()
    assert (national(off_results, "false_exits_detected_people") == 0).all()


def test_cutting_post_exit_support_raises_relapse():
    """Over ten seeds, ending support at exit raises relapse 2016–2020 against the default."""

    def relapse(**kw) -> float:
        return float(national(run(**kw).results(), "relapse_people").sum())

    default = np.mean([relapse(seed=s) for s in SEEDS])
    none = np.mean([relapse(seed=s, **{"governance.post_exit_support_years": 0}) for s in SEEDS])
    assert none > default


def test_relapse_by_years_since_exit_and_by_channel_add_up(baseline):
    res = baseline.results()
    total = national(res, "relapse_people")
    by_years = sum(national(res, f"relapse_people_{k}") for k in ("1y", "2y", "3y", "4y_plus"))
    assert (by_years == total.loc[by_years.index]).all()
    by_channel = res[(res["measure"] == "relapse_people") & (res["region"] == "national") & (res["channel"] != "all")]
    sums = by_channel.groupby("year")["value"].sum()
    assert (sums == total.loc[sums.index]).all()


def test_registered_measures_gap(baseline):
    res = baseline.results()
    reg = national(res, "registered_poor_people")
    parts = national(res, "registered_income_poor_people") + national(res, "registered_not_income_poor_people")
    assert (parts == reg).all()


def test_entry_quota_limits_new_registrations():
    tight = run(end_year=2016, **{"governance.entry_quota_share": 0.0, "governance.recheck.year": 0}).results()
    assert (national(tight, "newly_registered_people").loc[2015:] == 0).all()


def test_exit_pressure_rises_toward_the_plan_year(baseline):
    gov = baseline.governance
    poor = baseline.geography.county_poor
    assert set(np.unique(gov.plan_year[poor])) == set(range(2016, 2021))
    early = gov.exit_pressure(2015)[poor]
    late = gov.exit_pressure(2020)[poor]
    assert (late >= early).all() and late.max() == pytest.approx(baseline.params["governance.exit_pressure.max"])
    assert (gov.exit_pressure(2020)[~poor] == 0).all()


def test_deep_poverty_counties_are_the_deepest_and_get_more_funds_from_2018(baseline):
    gov, geo = baseline.governance, baseline.geography
    assert gov.deep.sum() == 334
    assert geo.county_intensity[gov.deep].min() >= geo.county_intensity[geo.county_poor & ~gov.deep].max()
    assert (gov.fund_weights(2017) == 1).all()
    assert (gov.fund_weights(2018)[gov.deep] > 1).all()


def test_registry_statuses_stay_consistent(baseline):
    hh = baseline.households
    assert (hh.exit_year[hh.status == EXITED] > 0).all()
    assert (hh.registered_year[hh.status == REGISTERED] >= 2014).all()


def test_without_the_recheck_the_identity_is_exits_and_entries_only():
    """registered(t) = registered(t-1) - exits(t) + entries(t) exactly, every year and region,
    when the 2015–16 re-check (the only source of removals) is off."""
    res = run(end_year=2018, **{"governance.recheck.year": 0}).results()
    allc = res[res["channel"] == "all"].set_index(["year", "region", "measure"])["value"]
    for region in ("national", "east", "central", "west"):
        for t in range(2015, 2019):
            for unit in ("people", "households"):
                prev = allc[(t - 1, region, f"registered_poor_{unit}")]
                now = allc[(t, region, f"registered_poor_{unit}")]
                assert allc[(t, region, f"removed_{unit}")] == 0
                assert now == prev - allc[(t, region, f"exits_{unit}")] + allc[(t, region, f"entries_{unit}")]


def test_no_county_or_village_exits_before_the_exit_mechanism():
    model = PovertyModel(seed=4, end_year=2016)
    while model.running:
        model.step()
    r = model.results()
    nat = r[(r["region"] == "national") & (r["channel"] == "all")].pivot_table(
        index="year", columns="measure", values="value"
    )
    assert nat.loc[2015, "counties_exited"] == 0 and nat.loc[2015, "villages_exited"] == 0
    assert nat.loc[2016, "villages_exited"] > 0
    early = PovertyModel(seed=4, end_year=2015, governance__review__first_year=2015)
    while early.running:
        early.step()
    assert early.governance.villages_exited() > 0


def test_expected_registry_gives_every_county_a_quota():
    model = PovertyModel(seed=3, end_year=2015, scale=4000, poor_area_scale=4000)
    gov = model.governance
    assert (gov.expected_registered > 0).all()
    assert (gov.initial_registered == 0).sum() > 0  # the coarse sample left some counties without registered agents
    assert gov.expected_registered.sum() == pytest.approx(gov.initial_registered.sum(), rel=1e-9)


def test_exit_incidence_removes_sampling_noise_only_at_coarse_scales():
    model = PovertyModel(seed=3, end_year=2016, scale=4000, poor_area_scale=4000)
    model.step()
    gov, geo, hh = model.governance, model.geography, model.households
    people = hh.people_weight.astype(float) * (hh.status == REGISTERED)
    sampled = np.bincount(hh.county, people, geo.n_counties) / gov.rural_people
    denoised = gov.exit_incidence(sampled)
    poor = geo.county_poor
    assert np.isfinite(denoised).all() and (denoised >= 0).all()
    # less spread across poor counties than the sample (the agent-sampling variance is removed) ...
    assert denoised[poor].var() < sampled[poor].var()
    # ... and non-poor counties are untouched, except that a rate is never above 1 (at 1 : 4000 a small
    # county's few agents can stand for more registered people than it has)
    assert np.array_equal(denoised[~poor], np.minimum(sampled[~poor], 1.0))
    model.poor_area_scale = 1.0  # poor areas sampled 1:1: no sampling noise to remove
    assert np.array_equal(gov.exit_incidence(sampled), sampled)


def test_county_rates_without_agents_are_the_regions_not_zero():
    """At a coarse scale a county may hold no exited agent, or no missed poor one; its wrong-exit
    or missed rate is then a draw from what the other counties of its region, kind and planned exit
    year show, not zero (which would pass the evaluation by chance). A draw may be low when counties
    differ much (the county's fixed normal deviate far in the tail), so the check is on the mean of
    the empty counties' rates, and that none is zero."""
    model = PovertyModel(seed=3, end_year=2016, scale=4000, poor_area_scale=4000)
    while model.running:
        model.step()
    gov, geo, hh = model.governance, model.geography, model.households
    exited = gov.county_people(hh.status == EXITED)
    wrong = gov.county_people(model.registry.false_exit & (hh.status == EXITED) & hh.poor)
    sampled = np.divide(wrong, exited, out=np.zeros(geo.n_counties), where=exited > 0)
    poor = geo.county_poor
    rate = gov.model.sampling.denoised_rate(sampled, exited, poor, gov.model.sampling.wrong_z)
    empty = poor & (exited == 0)
    assert empty.any() and (sampled[empty] == 0).all()
    pooled = wrong[poor].sum() / exited[poor].sum()
    assert (rate[empty] > 0).all()
    assert 0.5 * pooled < rate[empty].mean() < 2.0 * pooled  # about the pooled rate, not zero
    assert np.array_equal(rate[~poor], sampled[~poor])
    model.poor_area_scale = 1.0
    assert np.array_equal(gov.model.sampling.denoised_rate(sampled, exited, poor, gov.model.sampling.wrong_z), sampled)


def test_village_and_county_exits_do_not_depend_on_the_scale(fine_results_2017):
    """With county statistics freed of agent-sampling noise, exits at 1 : 2000 match 1 : 10 within
    sampling error (before, a coarse sample exited dozens of counties and thousands more villages
    by chance: 29 counties by 2016 at 1 : 1000 against 1 at 1 : 30). The reference is 1 : 10, the
    finest scale affordable here: villages by 2017 run a few percent higher at 1 : 100 and 1 : 30
    than at 1 : 10 and 1 : 1 (docs/calibration.md, scale table)."""
    coarse = [PovertyModel(seed=s, end_year=2017, scale=2000, poor_area_scale=2000) for s in range(1, 7)]
    for m in coarse:
        m.run_model()

    for measure in ("counties_exited", "villages_exited"):
        c = np.array([national(m.results(), measure)[2017] for m in coarse])
        f = np.array([national(r, measure)[2017] for r in fine_results_2017])
        error = difference_se(c, f)
        assert abs(c.mean() - f.mean()) < 3 * error + 1, (measure, c, f)


def _applicants_wrong_exit_rate(model: PovertyModel) -> float:
    """The exited-weighted mean wrong-exit rate an evaluation would judge, over the poor counties
    open at the run's last review whose (noise-freed) incidence is below the exit threshold."""
    gov, geo, hh = model.governance, model.geography, model.households
    exited_now = hh.status == EXITED
    exited = gov.county_people(exited_now)
    wrong = gov.county_people(model.registry.false_exit & exited_now & hh.poor)
    sampled = np.divide(wrong, exited, out=np.zeros(geo.n_counties), where=exited > 0)
    rate = gov.model.sampling.denoised_rate(sampled, exited, geo.county_poor, gov.model.sampling.wrong_z)
    incidence = gov.exit_incidence(gov.county_people(hh.status == REGISTERED) / gov.rural_people)
    threshold = model.params.region("governance.county.incidence_threshold")[geo.county_region]
    # the counties open at this review: not exited before it (those exiting at it included)
    open_ = (gov.exit_year == 0) | (gov.exit_year == model.year)
    applying = geo.county_poor & open_ & (incidence < threshold)
    assert applying.sum() >= 20
    return float((rate * exited)[applying].sum() / exited[applying].sum())


def test_coarse_wrong_exit_rates_keep_the_exit_pressure_of_early_counties():
    """The counties that can apply for exit first are the shallow ones, planned to exit first and
    pushed hardest to exit households, so they carry more false exits than others. At 1 : 1000 and
    at the baseline's design (1 : 500 in the poor areas) the noise-freed wrong-exit rate of these
    applicants must match a fine run's (before, it was shrunk to the region's mean: 1.7% against
    4.3% at 1 : 10, and counties passed at 1 : 1000 that failed at full resolution: ~26 by 2016
    against none at 1 : 1)."""
    pressure = {"governance__exit_pressure__max": 0.15}
    coarse: dict[str, list[float]] = {"1:1000": [], "design": []}
    for seed in range(1, 7):
        for name, sampling in (("1:1000", {"scale": 1000, "poor_area_scale": 1000}), ("design", {})):
            model = PovertyModel(seed=seed, end_year=2016, **sampling, **pressure)
            model.run_model()
            coarse[name].append(_applicants_wrong_exit_rate(model))
    fine = []
    for seed in (1, 2):
        model = PovertyModel(seed=seed, scale=30, poor_area_scale=30, end_year=2016, **pressure)
        model.run_model()
        fine.append(_applicants_wrong_exit_rate(model))
    assert np.mean(fine) > 0.025  # the effect is there at a fine scale ...
    # ... and kept when coarse: within sampling error (a coarse rate varies 0.02-0.10 between seeds;
    # shrunk to the region's mean it was ~0.017, over 3 standard errors below the fine runs' ~0.055)
    for rates in coarse.values():
        assert abs(np.mean(rates) - np.mean(fine)) <= 3 * difference_se(rates, fine), (coarse, fine)


def test_split_rates_are_two_halves_of_the_sampled_rate():
    """The rates on the even- and odd-indexed agents average to the county's sampled rate (over a
    fixed denominator), come from disjoint agents, and are not computed at scale 1."""
    model = PovertyModel(seed=3, end_year=2016, scale=1000, poor_area_scale=1000)
    model.run_model()
    gov, hh = model.governance, model.households
    registered = hh.status == REGISTERED
    a, b = gov.model.sampling.split_rates(registered, gov.rural_people)
    sampled = gov.county_people(registered) / gov.rural_people
    assert np.allclose((a + b) / 2, sampled)
    assert not np.allclose(a, b)  # two different samples
    exited = hh.status == EXITED
    a, b = gov.model.sampling.split_rates(model.registry.false_exit & exited, exited)
    assert np.nanmax(a) <= 1 and np.nanmax(b) <= 1 and np.isnan(a).any()  # a ratio, undefined without exits
    model.poor_area_scale = 1.0
    assert gov.model.sampling.split_rates(registered, gov.rural_people) is None


def _pass_probability(rate: np.ndarray, sample: int = 300, limit: float = 0.02) -> np.ndarray:
    """The probability that an evaluation sampling ``sample`` households finds a rate below ``limit``."""
    from scipy import stats

    return stats.binom.cdf(int(np.ceil(limit * sample)) - 1, sample, np.clip(rate, 0.0, 1.0))


def test_denoised_rates_of_checked_counties_keep_their_lower_tail():
    """Known county wrong-exit rates, sampled as Poisson counts at 1 : 20 and freed of the noise: the
    expected number of checked counties an evaluation passes (a rate below 2% in 300 households, the
    lower tail) is the true one. The checked counties' rates are half their cohort's, as after the
    province re-registers the false exits it finds; pooled with the unchecked counties of their
    cell (without ``checked``, as before), their rates were drawn up towards the cell's and over a
    quarter too few passed (49 against 68)."""
    model = PovertyModel(seed=3, scale=1000, poor_area_scale=1000, end_year=2016)
    gov, geo = model.governance, model.geography
    model.poor_area_scale = 20.0
    rng = np.random.default_rng(0)
    poor = geo.county_poor
    people = 0.02 * gov.rural_people  # exited people: ~5,000 in a poor county, ~70 agents at 1 : 20
    n_eff = people / ((model.poor_area_scale - 1.0) * gov.model.sampling.kappa())
    checked = poor & (gov.plan_year == 2016) & (rng.uniform(size=geo.n_counties) < 0.65)
    true_rate = np.where(checked, 0.015, 0.03) * rng.gamma(6.0, 1 / 6.0, geo.n_counties)
    truth = _pass_probability(true_rate)[checked].sum()
    split, pooled = [], []
    for _ in range(10):
        sampled = rng.poisson(n_eff * true_rate) / n_eff
        for out, c in ((split, checked), (pooled, None)):
            rate = gov.model.sampling.denoised_rate(sampled, people, poor, gov.model.sampling.wrong_z, checked=c)
            out.append(_pass_probability(rate)[checked].sum())
    assert abs(np.mean(split) - truth) < 0.08 * truth, (np.mean(split), truth)
    assert np.mean(pooled) < 0.85 * truth  # the bias the split removes is there to remove


def test_review_judges_the_checked_counties_wrong_exits_on_their_own():
    """At the end-2016 review the province has re-registered about half the earlier false exits of the
    counties applying for exit, so their wrong-exit rate is well below that of the rest of their
    cohort. The rate judged must keep that: over the checked counties of the 2016 cohort it averages
    (people-weighted) the sampled rate within 10%. Pooled with the unchecked counties (before) it was
    15–60% too high at 1 : 100 (seeds 1–3), and above the unchecked counties' in seed 1."""
    from povsim.governance import Governance
    from povsim.sampling import Sampling

    recorded: dict[str, np.ndarray] = {}
    denoised, check = Sampling.denoised_rate, Governance.provincial_check

    def recording_rate(self, sampled, people, counties, z, *args, **kwargs):
        out = denoised(self, sampled, people, counties, z, *args, **kwargs)
        if z is self.wrong_z and self.model.year == 2016:
            recorded.update(sampled=sampled, people=people, judged=out)
        return out

    def recording_check(self, applying):
        if self.model.year == 2016:
            recorded["checked"] = applying.copy()
        return check(self, applying)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Sampling, "denoised_rate", recording_rate)
        mp.setattr(Governance, "provincial_check", recording_check)
        for seed in (1, 2, 3):
            model = PovertyModel(seed=seed, scale=5000, poor_area_scale=100, end_year=2016)
            model.run_model()
            people = recorded["people"]
            cohort = model.geography.county_poor & (model.governance.plan_year == 2016)
            checked = recorded["checked"]
            mean = {}
            for name, group in (("checked", cohort & checked), ("unchecked", cohort & ~checked)):
                assert group.sum() >= 30
                sampled = (recorded["sampled"] * people)[group].sum() / people[group].sum()
                mean[name] = (recorded["judged"] * people)[group].sum() / people[group].sum()
                if name == "checked":
                    assert abs(mean[name] / sampled - 1.0) < 0.1, (seed, mean[name], sampled)
            assert mean["checked"] < mean["unchecked"], (seed, mean)
