"""Tests that kill mutants of :mod:`povsim.governance`: the county table's fixed parts (rural people, the
expected registry, exit plans, deep poverty, support periods, village factors, rationing cells), exit
pressure and fund weights, the noise model's helpers on hand-made numbers, and each year's review —
the provincial check and the county and village exit decisions recomputed from the rates the review
judged and its own random stream."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from povsim import PovertyModel
from povsim.households import EXITED, REGISTERED
from povsim.sampling import Sampling, _weighted_fit
from test_mutants_base import SMALL

G = "governance."


@pytest.fixture(scope="module")
def model():
    return PovertyModel(end_year=2015, **SMALL)


def test_rural_people_poor_counties_at_the_documented_mean_the_rest_of_the_region_by_size(model):
    gov, geo, p = model.governance, model.geography, model.params
    rural = p.region("population.rural_population")
    mean_poor = p[G + "county.poor_county_rural_people"]
    for r in range(3):
        poor = (geo.county_region == r) & geo.county_poor
        other = (geo.county_region == r) & ~geo.county_poor
        assert poor.any() and other.any()
        np.testing.assert_allclose(gov.rural_people[poor].mean(), mean_poor, rtol=1e-12)
        np.testing.assert_allclose(
            gov.rural_people[poor] / geo.county_size[poor], mean_poor / geo.county_size[poor].mean()
        )
        np.testing.assert_allclose(gov.rural_people[poor | other].sum(), rural[r], rtol=1e-9)
        np.testing.assert_allclose(
            gov.rural_people[other] / geo.county_size[other],
            (rural[r] - gov.rural_people[poor].sum()) / geo.county_size[other].sum(),
        )


def test_expected_registry_splits_each_regions_registry_between_poor_and_other_counties(model):
    gov, geo, hh, p = model.governance, model.geography, model.households, model.params
    registered = hh.status == REGISTERED
    share = p["geography.counties.registered_share_in_poor_counties"]
    weight = geo.county_size * geo.county_intensity
    for r in range(3):
        people = hh.people_weight_of(np.flatnonzero(registered & (hh.region == r))).sum()
        for poor, s in ((True, share), (False, 1 - share)):
            cand = (geo.county_region == r) & (geo.county_poor == poor)
            got = gov.expected_registered[cand]
            np.testing.assert_allclose(got.sum(), people * s, rtol=1e-9)
            np.testing.assert_allclose(got, people * s * weight[cand] / weight[cand].sum(), rtol=1e-9)
    np.testing.assert_allclose(gov.initial_registered, hh.people_by_county(registered, geo.n_counties))


def test_exit_plans_spread_the_poor_counties_evenly_shallowest_first_and_deep_poverty_is_the_deepest(model):
    gov, geo, p = model.governance, model.geography, model.params
    poor = geo.county_poor
    plan = gov.plan_year
    assert (plan[~poor] == 0).all()
    years, counts = np.unique(plan[poor], return_counts=True)
    assert years.tolist() == [2016, 2017, 2018, 2019, 2020]
    assert counts.max() - counts.min() <= 1
    intensity = geo.county_intensity
    for early, late in itertools.pairwise(years):
        assert intensity[poor & (plan == early)].max() <= intensity[poor & (plan == late)].min()
    deep = gov.deep
    assert deep.sum() == min(p[G + "deep_poverty.counties"], poor.sum()) and not deep[~poor].any()
    assert intensity[deep].min() >= intensity[poor & ~deep].max()


def test_each_households_support_period_is_drawn_evenly_from_one_to_twice_the_mean_less_one(model):
    mean = model.params[G + "post_exit_support_years"]
    u = model.streams.uniform("governance.post_exit_support", 0, model.households.n)
    expected = 1 + np.floor(u * (2 * mean - 1))
    assert model.governance.support_years.tolist() == expected.astype(int).tolist()
    assert set(np.unique(model.governance.support_years).tolist()) == set(range(1, 2 * mean))
    none = PovertyModel(end_year=2015, **SMALL, **{G + "post_exit_support_years": 0})
    assert not none.governance.support_years.any()
    one = PovertyModel(end_year=2015, **SMALL, **{G + "post_exit_support_years": 1})
    assert (one.governance.support_years == 1).all()


def test_village_factors_are_mean_one_lognormal_draws(model):
    sigma = model.params[G + "village.sigma"]
    z = model.streams.get("governance.village_factor").standard_normal(model.geography.n_villages)
    np.testing.assert_allclose(model.governance.village_factor, np.exp(sigma * z - 0.5 * sigma**2), rtol=1e-12)


def test_rationing_cells_group_counties_alike_in_region_kind_plan_and_deep_poverty(model):
    gov, geo = model.governance, model.geography
    key = list(zip(geo.county_region.tolist(), gov.deep.tolist(), gov.plan_year.tolist(), strict=True))
    cell = gov.model.sampling.rationing_cell
    by_key: dict = {}
    for k, c in zip(key, cell.tolist(), strict=True):
        by_key.setdefault(k, set()).add(c)
    assert all(len(v) == 1 for v in by_key.values())  # alike counties share a cell
    assert len({next(iter(v)) for v in by_key.values()}) == len(by_key)  # others do not
    assert gov.model.sampling.rationing_cell_region[cell].tolist() == geo.county_region.tolist()
    assert set(cell.tolist()) == set(range(cell.max() + 1))
    # the noise model's cells: kind of county and plan year
    assert len(np.unique(gov.model.sampling.cell)) == len(np.unique(gov.plan_year))
    assert (np.unique(gov.model.sampling.cell[~geo.county_poor]).size == 1) and gov.model.sampling.cell[
        ~geo.county_poor
    ][0] == 0


def test_exit_pressure_ramps_up_to_the_plan_year_in_poor_counties_only(model):
    gov, geo, p = model.governance, model.geography, model.params
    top, ramp = p[G + "exit_pressure.max"], p[G + "exit_pressure.ramp_years"]
    assert ramp == 2
    plan = gov.plan_year.astype(int)
    for year in (2015, 2017, 2019, 2021):
        got = gov.exit_pressure(year)
        expected = np.where(geo.county_poor, top * np.clip(1 - (plan - year) / ramp, 0, 1), 0.0)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    poor = geo.county_poor
    assert gov.exit_pressure(2016)[poor & (plan == 2017)] == pytest.approx(top / 2)
    assert (gov.exit_pressure(2016)[poor & (plan == 2018)] == 0).all()
    assert gov.exit_pressure(2016)[poor & (plan == 2016)] == pytest.approx(top)
    assert (gov.exit_pressure(2020)[~poor] == 0).all()


def test_deep_poverty_counties_weigh_more_in_the_pool_from_2018(model):
    gov, p = model.governance, model.params
    extra = p[G + "deep_poverty.extra_funds"]
    assert gov.fund_weights(2017).tolist() == [1.0] * gov.deep.size
    assert gov.fund_weights(2018).tolist() == np.where(gov.deep, 1 + extra, 1.0).tolist()
    assert gov.fund_weights(2020).tolist() == np.where(gov.deep, 1 + extra, 1.0).tolist()


def test_kappa_is_people_per_household_weighted_by_size():
    class Model:
        class households:
            size = np.array([1, 2, 3], np.int8)

    sampling = object.__new__(Sampling)
    sampling.model = Model()
    assert sampling.kappa() == pytest.approx((1 + 4 + 9) / 6)


def test_weighted_fit_known_lines_and_means():
    x = np.array([0.0, 1.0, 2.0, 3.0, 9.0])
    y = 0.02 + 0.01 * x
    weight = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    sel = np.array([True, True, True, True, False])
    np.testing.assert_allclose(_weighted_fit(y, weight, x, sel), y[:4], rtol=1e-9)
    # without a covariate, or with fewer than three weighted points: the weighted mean
    mean = (y[:4] * weight[:4]).sum() / weight[:4].sum()
    np.testing.assert_allclose(_weighted_fit(y, weight, None, sel), [mean] * 4, rtol=1e-12)
    two = np.array([1.0, 0.0, 0.0, 3.0, 0.0])
    two_mean = (y[0] * 1 + y[3] * 3) / 4
    np.testing.assert_allclose(_weighted_fit(y, two, x, sel), [two_mean] * 4, rtol=1e-12)
    # exactly three weighted points: still a line; weights under one count as weights
    three = np.array([0.5, 0.0, 2.0, 4.0, 0.0])
    np.testing.assert_allclose(_weighted_fit(y, three, x, sel), y[:4], rtol=1e-9)
    light = np.array([0.25, 0.125, 0.0625, 0.0625, 0.0])  # total weight 0.5
    light_mean = (y[:4] * light[:4]).sum() / light[:4].sum()
    np.testing.assert_allclose(_weighted_fit(y, light, None, sel), [light_mean] * 4, rtol=1e-12)
    # no weight at all: the plain mean
    np.testing.assert_allclose(_weighted_fit(y, np.zeros(5), x, sel), [y[:4].mean()] * 4, rtol=1e-12)
    # a falling line crossing zero is floored at a tenth of the weighted mean
    falling = 0.03 - 0.01 * x
    got = _weighted_fit(falling, weight, x, sel)
    floor = 0.1 * (falling[:4] * weight[:4]).sum() / weight[:4].sum()
    np.testing.assert_allclose(got, np.maximum(falling[:4], floor), rtol=1e-9)
    assert got[3] == pytest.approx(floor)


def test_denoised_rate_is_the_sampled_rate_at_one_to_one_and_a_constant_stays_constant(model):
    gov, geo = model.governance, model.geography
    n = geo.n_counties
    sampled = np.full(n, 0.04)
    people = gov.rural_people
    z = np.random.default_rng(1).standard_normal(n)
    got = gov.model.sampling.denoised_rate(sampled, people, geo.county_poor, z, geo.county_intensity)
    np.testing.assert_allclose(got, sampled, rtol=1e-4)
    # a county outside the selection keeps its sampled rate
    noisy = np.random.default_rng(2).uniform(0.0, 0.2, n)
    got = gov.model.sampling.denoised_rate(noisy, people, geo.county_poor, z, geo.county_intensity)
    assert (got[~geo.county_poor] == noisy[~geo.county_poor]).all()
    assert ((got >= 0) & (got <= 1)).all()
    assert not np.allclose(got[geo.county_poor], noisy[geo.county_poor])
    # a higher quantile gives a higher rate
    higher = gov.model.sampling.denoised_rate(noisy, people, geo.county_poor, z + 1.0, geo.county_intensity)
    assert (higher[geo.county_poor] > got[geo.county_poor]).all()
    # without sampling noise (the poor areas 1 : 1) the sampled rate is judged as it is, and there are no halves
    scale = model.poor_area_scale
    try:
        model.poor_area_scale = 1.0
        assert gov.model.sampling.denoised_rate(noisy, people, geo.county_poor, z) is noisy
        assert gov.model.sampling.split_rates(model.households.status == REGISTERED, people) is None
        model.poor_area_scale = 2.0  # any coarser sampling has its noise measured
        assert gov.model.sampling.split_rates(model.households.status == REGISTERED, people) is not None
    finally:
        model.poor_area_scale = scale


def test_split_rates_halve_the_agents_by_index_parity(model):
    gov, hh, geo = model.governance, model.households, model.geography
    registered = hh.status == REGISTERED
    a, b = gov.model.sampling._halves(registered)
    idx = np.flatnonzero(registered)
    even, odd = idx[idx % 2 == 0], idx[idx % 2 == 1]
    np.testing.assert_allclose(a, np.bincount(hh.county[even], hh.people_weight_of(even), geo.n_counties))
    np.testing.assert_allclose(b, np.bincount(hh.county[odd], hh.people_weight_of(odd), geo.n_counties))
    ra, rb = gov.model.sampling.split_rates(registered, gov.rural_people)
    np.testing.assert_allclose(ra, a / (gov.rural_people / 2))
    np.testing.assert_allclose(rb, b / (gov.rural_people / 2))
    everyone = np.ones(hh.n, bool)
    ra, rb = gov.model.sampling.split_rates(registered, everyone)
    da, db = gov.model.sampling._halves(everyone)
    np.testing.assert_allclose(ra, np.divide(a, da, out=np.full(len(a), np.nan), where=da > 0))
    np.testing.assert_allclose(rb, np.divide(b, db, out=np.full(len(b), np.nan), where=db > 0))
    assert np.isnan(ra[da == 0]).all() and (da == 0).any()


# -- the review --------------------------------------------------------------------------------
def watch_review(**overrides):
    """A small model to 2018 whose reviews are watched: the rates each judged (every denoised_rate call,
    by the fixed draw it used), the registry before the provincial check, the exits before and after."""
    m = PovertyModel(end_year=2018, **{**SMALL, **overrides})
    gov, seen = m.governance, []
    denoised, review, check = gov.model.sampling.denoised_rate, gov.review, gov.provincial_check

    def watched_denoised(sampled, people, counties, z, covariate=None, halves=None, checked=None):
        out = denoised(sampled, people, counties, z, covariate, halves, checked)
        name = next(
            k
            for k in ("incidence_z", "wrong_z", "missed_z", "village_incidence_z")
            if z is getattr(gov.model.sampling, k)
        )
        seen[-1]["rates"].setdefault(name, []).append(out.copy())
        copy = lambda a: None if a is None else np.array(a, copy=True)  # noqa: E731
        seen[-1]["inputs"].setdefault(name, []).append(
            {
                "sampled": copy(sampled),
                "people": copy(people),
                "counties": copy(counties),
                "covariate": copy(covariate),
                "halves": None if halves is None else tuple(copy(h) for h in halves),
                "checked": copy(checked),
            }
        )
        return out

    def watched_check(applying):
        hh = m.households
        seen[-1]["check"] = {
            "applying": applying.copy(),
            "status": hh.status.copy(),
            "false_exit": m.registry.false_exit.copy(),
            "exit_year": hh.exit_year.copy(),
        }
        out = check(applying)
        seen[-1]["check"]["found"] = out.copy()
        return out

    def watched_review():
        hh = m.households
        seen.append({"year": m.year, "rates": {}, "inputs": {}, "exit_year": gov.exit_year.copy()})
        seen[-1]["table"] = {"status": hh.status.copy(), "false_exit": m.registry.false_exit.copy()}
        seen[-1]["village_exit_year"] = gov.village_exit_year.copy()
        review()
        seen[-1]["after"] = gov.exit_year.copy()
        seen[-1]["village_after"] = gov.village_exit_year.copy()
        seen[-1]["poor"] = m.households.poor.copy()

    gov.model.sampling.denoised_rate, gov.review, gov.provincial_check = watched_denoised, watched_review, watched_check
    m.run_model()
    return m, seen


@pytest.fixture(scope="module")
def reviews():
    """Under stronger exit pressure and a noisier assessment than documented: more false exits, so that
    the provincial check finds some at this small scale."""
    return watch_review(**{G + "exit_pressure.max": 0.4, G + "assessment_sigma": 0.4})


def test_county_exit_decisions_follow_the_three_rates_and_satisfaction(reviews):
    m, seen = reviews
    p, geo = m.params, m.geography
    n = geo.n_counties
    threshold = p.region(G + "county.incidence_threshold")[geo.county_region]
    limit, sample = p[G + "county.error_threshold"], p[G + "evaluation.sample_households"]
    exited = 0
    for rec in seen:
        y = rec["year"]
        incidence = rec["rates"]["incidence_z"][-1]
        wrong, missed = rec["rates"]["wrong_z"][0], rec["rates"]["missed_z"][0]
        rng = m.streams.get("governance.evaluation", y)
        wrong_found = rng.binomial(sample, np.clip(wrong, 0, 1)) / sample
        missed_found = rng.binomial(sample, np.clip(missed, 0, 1)) / sample
        satisfaction = (
            p[G + "county.satisfaction_mean"] - wrong + p[G + "county.satisfaction_sd"] * rng.standard_normal(n)
        )
        passes = (
            (incidence < threshold)
            & (wrong_found < limit)
            & (missed_found < limit)
            & (satisfaction >= p[G + "county.satisfaction_threshold"])
        )
        newly = geo.county_poor & (rec["exit_year"] == 0) & passes & (y >= 2016)
        expected = rec["exit_year"].copy()
        expected[newly] = y
        assert rec["after"].tolist() == expected.tolist(), y
        exited += int(newly.sum())
        # each criterion excludes someone who met the others at least once over the run
        rec["fails"] = {
            "incidence": (~(incidence < threshold) & geo.county_poor).sum(),
            "wrong": (~(wrong_found < limit) & geo.county_poor).sum(),
            "satisfaction": (~(satisfaction >= p[G + "county.satisfaction_threshold"]) & geo.county_poor).sum(),
        }
    assert exited > 0
    assert seen[0]["year"] == 2015 and not (seen[0]["after"] > 0).any()
    assert all(sum(r["fails"][k] for r in seen) > 0 for k in ("incidence", "wrong", "satisfaction"))


def test_village_exits_follow_the_poor_village_incidence_times_the_village_factor(reviews):
    m, seen = reviews
    p, geo, gov = m.params, m.geography, m.governance
    threshold = p.region(G + "county.incidence_threshold")[geo.county_region[geo.village_county]]
    exited = 0
    for rec in seen:
        pv = rec["rates"]["village_incidence_z"][0]
        v_incidence = pv[geo.village_county] * gov.village_factor
        newly = geo.village_poor & (rec["village_exit_year"] == 0) & (v_incidence < threshold) & (rec["year"] >= 2016)
        expected = rec["village_exit_year"].copy()
        expected[newly] = rec["year"]
        assert rec["village_after"].tolist() == expected.tolist(), rec["year"]
        exited += int(newly.sum())
    assert exited > 0 and (gov.village_exit_year == 0).any()


def test_the_provincial_check_re_registers_half_the_false_exits_of_applying_counties(reviews):
    m, seen = reviews
    hh, p = m.households, m.params
    found_total = 0
    for rec in seen:
        c = rec.get("check")
        if c is None:
            continue
        y = rec["year"]
        applying = c["applying"]
        cand = np.flatnonzero(
            (c["status"] == EXITED) & c["false_exit"] & rec["poor"] & (c["exit_year"] < y) & applying[hh.county]
        )
        if y < p[G + "evaluation.start_year"]:
            assert not c["found"].any()
            continue
        u = m.streams.uniform_at("governance.provincial_check", y, cand)
        found = cand[u < p[G + "evaluation.detection_prob"]]
        assert np.flatnonzero(c["found"]).tolist() == found.tolist(), y
        found_total += found.size
        # those applying: poor counties not yet exited whose judged incidence is below the threshold
        threshold = p.region(G + "county.incidence_threshold")[m.geography.county_region]
        incidence = rec["rates"]["incidence_z"][0]
        expected = m.geography.county_poor & (rec["exit_year"] == 0) & (incidence < threshold) & (y >= 2016)
        assert applying.tolist() == expected.tolist(), y
    assert found_total > 0


def test_the_county_table_records_the_registry_and_status_each_year(reviews):
    m, _ = reviews
    table = m.governance.table()
    geo = m.geography
    assert sorted(table["year"].unique().tolist()) == list(range(2014, 2019))
    first = table[table["year"] == 2014].set_index("county")
    np.testing.assert_allclose(first["incidence"], m.governance.initial_registered / m.governance.rural_people)
    last = table[table["year"] == 2018].set_index("county")
    assert last["rural_people"].tolist() == np.round(m.governance.rural_people).astype(int).tolist()
    for column in ("rural_people", "registered_poor_people", "poor_people"):
        assert table[column].dtype == np.int64, column  # whole people in counties.csv
    hh = m.households
    reg = hh.people_by_county(hh.status == REGISTERED, geo.n_counties)
    assert last["registered_poor_people"].tolist() == np.round(reg).astype(int).tolist()
    np.testing.assert_allclose(last["incidence"], reg / m.governance.rural_people)
    assert last["poor_people"].tolist() == np.round(hh.people_by_county(hh.poor, geo.n_counties)).astype(int).tolist()
    status = np.where(~geo.county_poor, "non_poor", np.where(m.governance.exit_year > 0, "exited", "poor"))
    assert last["status"].tolist() == status.tolist()
    assert set(status.tolist()) == {"non_poor", "exited", "poor"}
    assert last["exit_year"].tolist() == m.governance.exit_year.tolist()
    assert last["planned_exit_year"].tolist() == m.governance.plan_year.tolist()
    assert last["deep_poverty"].tolist() == m.governance.deep.tolist()
    np.testing.assert_allclose(last["funds_yuan"], m.ledger.county_funds)
    np.testing.assert_allclose(last["spending_yuan"], m.ledger.county_spending)
    assert m.governance.counties_exited() == int((m.governance.exit_year > 0).sum()) > 0
    assert m.governance.villages_exited() == int((m.governance.village_exit_year > 0).sum()) > 0


def test_the_review_judges_the_rates_it_should_on_the_right_people(reviews):
    """What the review hands the noise model, recomputed from the household table: registered incidence
    over rural people (smooth in depth of poverty, its sampling noise from the two halves of the agents),
    wrong exits among the exited (the counties the province checked apart), missed poor among rural
    people, and the registered incidence among poor villages' residents."""
    m, seen = reviews
    gov, geo, hh = m.governance, m.geography, m.households
    n = geo.n_counties
    for rec in seen:
        status = rec["table"]["status"]
        after_check = status.copy()
        after_check[rec["check"]["found"]] = REGISTERED
        for call, registered in zip(rec["inputs"]["incidence_z"], (status, after_check), strict=False):
            mask = registered == REGISTERED
            reg = hh.people_by_county(mask, n)
            np.testing.assert_allclose(call["sampled"], reg / gov.rural_people, rtol=1e-12)
            assert call["people"].tolist() == gov.rural_people.tolist()
            assert call["counties"].tolist() == geo.county_poor.tolist()
            assert call["covariate"].tolist() == geo.county_intensity.tolist()
            for got, want in zip(call["halves"], gov.model.sampling.split_rates(mask, gov.rural_people), strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-12)
        exited = after_check == EXITED
        wrong = rec["table"]["false_exit"].copy()
        wrong[rec["check"]["found"]] = False
        wrong &= exited & rec["poor"]
        (call,) = rec["inputs"]["wrong_z"]
        exited_people, wrong_people = hh.people_by_county(exited, n), hh.people_by_county(wrong, n)
        np.testing.assert_allclose(
            call["sampled"], np.divide(wrong_people, exited_people, out=np.zeros(n), where=exited_people > 0)
        )
        assert call["people"].tolist() == exited_people.tolist() and call["covariate"] is None
        for got, want in zip(call["halves"], gov.model.sampling.split_rates(wrong, exited), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12)
        assert (
            call["checked"] is not None
            and call["checked"].tolist() == (rec["check"]["applying"] & (rec["year"] >= 2016)).tolist()
        )
        (call,) = rec["inputs"]["missed_z"]
        missed = (after_check == 0) & rec["poor"]
        np.testing.assert_allclose(call["sampled"], hh.people_by_county(missed, n) / gov.rural_people, rtol=1e-12)
        assert call["people"].tolist() == gov.rural_people.tolist() and call["covariate"] is None
        for got, want in zip(call["halves"], gov.model.sampling.split_rates(missed, gov.rural_people), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12)
        (call,) = rec["inputs"]["village_incidence_z"]
        in_poor_village = (after_check == REGISTERED) & geo.village_poor[hh.village]
        pv_people = np.maximum(geo.county_poor_villages * gov.rural_people / geo.county_villages, 1.0)
        np.testing.assert_allclose(call["sampled"], hh.people_by_county(in_poor_village, n) / pv_people, rtol=1e-12)
        np.testing.assert_allclose(call["people"], pv_people, rtol=1e-12)
        assert call["counties"].tolist() == (geo.county_poor_villages > 0).tolist()
        assert call["covariate"].tolist() == geo.county_intensity.tolist()
        for got, want in zip(call["halves"], gov.model.sampling.split_rates(in_poor_village, pv_people), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12)


def reference_denoised(gov, sampled, people, counties, z, covariate=None, halves=None, checked=None):
    """The noise model as :meth:`Governance.denoised_rate`'s docstring states it, step by step."""
    from scipy import special

    m, geo = gov.model, gov.model.geography
    w = float(m.poor_area_scale)
    if w <= 1.0:
        return sampled
    size = m.households.size.astype(float)
    kappa = (size**2).sum() / size.sum()  # people per household weighted by size
    n_eff = np.maximum(people, 0.0) / ((w - 1.0) * kappa)
    kind = geo.county_region.astype(int) * 2 + geo.county_poor
    # level 1: a smooth per region and kind of county, over groups of three counties or more
    smooth = np.full(geo.n_counties, np.nan)
    for k in range(6):
        group = counties & (kind == k)
        if group.sum() >= 3:
            smooth[group] = _weighted_fit(sampled, n_eff, covariate, group)
    sel = np.isfinite(smooth)
    # level 2: per cell (kind of county and plan year; the checked apart), observed over expected + 1
    cell = gov.model.sampling.cell if checked is None else gov.model.sampling.cell * 2 + checked
    m_sel = np.clip(smooth[sel], 1e-6, 1.0)
    c = cell[sel]
    observed = {k: (n_eff[sel] * sampled[sel])[c == k].sum() for k in np.unique(c)}
    expected = {k: (n_eff[sel] * m_sel)[c == k].sum() for k in np.unique(c)}
    m_sel = np.clip(m_sel * np.array([(observed[k] + 1) / (expected[k] + 1) for k in c]), 1e-6, 1.0)
    # level 3: each county's gamma posterior about its cell's smooth, at the quantile of its fixed draw
    y, n, g = sampled[sel], n_eff[sel], kind[sel]
    seen = n > 0
    if halves is not None:
        a, b = halves[0][sel], halves[1][sel]
        ok = seen & np.isfinite(a) & np.isfinite(b)
        for k in range(6):
            these = ok & (g == k)
            half_var = ((a - b) ** 2 / 4)[these].sum()
            poisson = (m_sel[these] / n[these]).sum()
            phi = half_var / poisson if poisson > 0 else 1.0
            n = np.where(g == k, n / max(phi, 1.0), n)
    poor = geo.county_poor[sel]
    alpha = np.empty(sel.sum())
    for p in (False, True):
        these = seen & (poor == p)
        excess = ((y - m_sel) ** 2 * n / m_sel - 1.0)[these].sum()
        information = (m_sel * n)[these].sum()
        cv2 = excess / information if information > 0 else 0.0
        alpha[poor == p] = 1.0 / max(cv2, 1e-12)
    out = sampled.copy()
    out[sel] = special.gammaincinv(alpha + n * y, special.ndtr(z[sel])) / (alpha / m_sel + n)
    return np.clip(out, 0.0, 1.0)


def test_denoised_rates_follow_the_documented_three_level_model(reviews):
    """Every rate the reviews judged, recomputed from the inputs they were given by the three levels the
    docstring of ``denoised_rate`` sets out (smooth by region and kind, cell factor, county posterior)."""
    m, seen = reviews
    gov = m.governance
    draws = {k: getattr(gov.model.sampling, k) for k in ("incidence_z", "wrong_z", "missed_z", "village_incidence_z")}
    compared = 0
    for rec in seen:
        for name, calls in rec["inputs"].items():
            for call, got in zip(calls, rec["rates"][name], strict=True):
                expected = reference_denoised(
                    gov,
                    call["sampled"],
                    call["people"],
                    call["counties"],
                    draws[name],
                    call["covariate"],
                    call["halves"],
                    None if call["checked"] is None else call["checked"].astype(int),
                )
                np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=f"{name} {rec['year']}")
                compared += 1
    assert compared >= 4 * len(seen)


def test_denoised_rates_at_the_edges_follow_the_documented_model(model):
    """Hand-made inputs that reach what the reviews' rates do not: counties with no people or under one
    agent's worth, no events at all, a kind of county without a finite half, a selection of exactly three
    counties of one kind, only non-poor counties, and sampling 1 : 2."""
    gov, geo = model.governance, model.geography
    n = geo.n_counties
    rng = np.random.default_rng(5)
    kind = geo.county_region.astype(int) * 2 + geo.county_poor
    poor = geo.county_poor
    sampled = rng.uniform(0.0, 0.2, n)  # spread wider than its sampling noise: the county spread is estimated
    people = gov.rural_people * rng.uniform(1.0, 20.0, n)
    people[rng.random(n) < 0.1] = 0.0  # no people
    people[rng.random(n) < 0.1] = 5000.0  # under one agent's worth (n_eff < 1)
    z = rng.standard_normal(n)
    a = sampled + rng.normal(0, 0.02, n)
    b = sampled + rng.normal(0, 0.02, n)
    a[kind == 5] = np.nan  # the last kind of county without a finite half
    checked = (poor & (rng.random(n) < 0.3)).astype(int)
    three = np.zeros(n, bool)
    three[np.flatnonzero(kind == 3)[:3]] = True
    three |= kind == 5
    cases = [
        (sampled, people, poor, geo.county_intensity, (a, b), checked),
        (np.zeros(n), people, poor, geo.county_intensity, None, None),  # no events
        (sampled, people, three, None, None, None),
        (sampled, gov.rural_people, ~poor, geo.county_intensity, None, None),  # only non-poor counties
        (sampled, np.where(poor, 0.0, people), np.ones(n, bool), None, None, None),  # no poor county has people
        (sampled, np.where(poor, 0.5, people), np.ones(n, bool), None, None, None),  # next to no information
    ]
    for i, (s, p, counties, covariate, halves, check) in enumerate(cases):
        got = gov.model.sampling.denoised_rate(
            s, p, counties, z, covariate, halves, None if check is None else check.astype(bool)
        )
        expected = reference_denoised(gov, s, p, counties, z, covariate, halves, check)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=f"case {i}")
        assert np.isfinite(got).all()
    scale = model.poor_area_scale
    try:
        model.poor_area_scale = 2.0
        got = gov.model.sampling.denoised_rate(sampled, people, poor, z, geo.county_intensity)
        np.testing.assert_allclose(got, reference_denoised(gov, sampled, people, poor, z, geo.county_intensity))
        assert not np.allclose(got[poor], sampled[poor])
    finally:
        model.poor_area_scale = scale


def test_without_the_evaluation_the_province_checks_no_county():
    _, seen = watch_review(**{G + "evaluation.enabled": False, G + "exit_pressure.max": 0.4})
    assert sum(int(r["check"]["applying"].sum()) for r in seen) > 0
    assert not any(r["check"]["found"].any() for r in seen)
    assert all((r["inputs"]["wrong_z"][0]["checked"] == 0).all() for r in seen)
