"""Tests that kill mutants of :mod:`povsim.programs.floor`: the county standards (the documented national
average, the spread across counties, poor and eastern counties, the lowest raised to the line), the
means test, take-up and the registry link (recomputed from the channel's random streams), and the gap
paid to the standard."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.parameters import REGIONS
from povsim.programs.base import even_pace
from test_mutants_base import SMALL, priority_prefix, probe, supported_mask

CHANNEL = "floor"


def capture(model):
    hh, prog = model.households, model.programme(CHANNEL)
    return {
        "status": hh.status.copy(),
        "exit_year": hh.exit_year.copy(),
        "covered": prog.covered.copy(),
        "labour_limited": prog.labour_limited(),
        "standard": prog.standard(model.year)[hh.county],  # the lowest standard follows this year's line
    }


@pytest.fixture(scope="module")
def run():
    return probe(CHANNEL, capture, end_year=2018)


def param(model, key):
    return model.params[f"programs.floor.{key}"]


def test_county_standards_spread_around_the_national_average_lower_in_poor_higher_in_eastern_counties(run):
    model, _ = run
    geo = model.geography
    sigma = param(model, "standard_sigma")
    z = model.streams.get("floor.county_standard").standard_normal(geo.n_counties)
    factor = np.exp(sigma * z - 0.5 * sigma**2)
    factor *= np.where(geo.county_poor, param(model, "poor_county_ratio"), 1.0)
    factor *= np.where(geo.county_region == REGIONS.index("east"), param(model, "east_ratio"), 1.0)
    rural = model.governance.rural_people
    got = model.programme(CHANNEL).county_factor
    # the mean over rural people is the national average
    assert (got * rural).sum() / rural.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(got, factor * rural.sum() / (factor * rural).sum(), rtol=1e-12)


def test_national_and_lowest_standards_follow_the_documented_series_and_reach_the_line():
    from povsim import PovertyModel

    model = PovertyModel(end_year=2022, **SMALL)
    prog = model.programme(CHANNEL)
    assert prog.national_standard(2016) == 3744.0 and prog.national_standard(2017) == 4301.0
    assert prog.national_standard(2019) == pytest.approx(4301.0 * 1.08**2)
    assert prog.national_standard(2012) == 0.0
    lowest = {}
    while model.running:
        model.step()
        lowest[model.year] = prog.lowest_standard(model.year) / model.poverty_line
        standard = prog.standard(model.year)
        expected = np.maximum(prog.national_standard(model.year) * prog.county_factor, prog.lowest_standard(model.year))
        np.testing.assert_allclose(standard, expected, rtol=1e-12)
        assert (standard > prog.lowest_standard(model.year)).any()
    # 70% of the line in 2015, evenly to the line by 2020, the line after
    assert lowest[2015] == pytest.approx(0.7)
    assert lowest[2017] == pytest.approx(0.7 + 0.3 * 2 / 5)
    assert lowest[2020] == pytest.approx(1.0) and lowest[2022] == pytest.approx(1.0)
    assert (prog.standard(2015) == prog.lowest_standard(2015)).any()


def test_labour_limited_households_have_no_worker_or_a_member_who_cannot_work(run):
    model, _ = run
    hh = model.households
    got = model.programme(CHANNEL).labour_limited()
    inactive = hh.size.astype(int) - hh.children - hh.workers - hh.elderly
    assert got.tolist() == ((hh.workers == 0) | (inactive > 0)).tolist()
    assert got.any() and (~got).any() and ((hh.workers > 0) & got).any()


def test_take_up_is_a_fixed_draw_and_the_registry_link_covers_the_supported_at_an_even_pace(run):
    model, steps = run
    hh = model.households
    first = model.streams.uniform("floor.take_up", 0, hh.n) < param(model, "take_up")
    assert steps[0].before["covered"].tolist() == first.tolist()
    linked_total = 0
    for s in steps:
        income_pc = s.income / hh.size
        standard = s.before["standard"]
        error = model.streams.mean_one_lognormal("floor.assessment", s.year, hh.n, param(model, "assessment_sigma"))
        qualifies = s.before["labour_limited"] & (income_pc * error < standard)
        covered = s.before["covered"].copy()
        if s.year >= 2017:
            supported = supported_mask(model, s.year, s.before["status"], s.before["exit_year"])
            u = model.streams.uniform("floor.registry_link", s.year, hh.n)
            linked = qualifies & supported & (u < even_pace(s.year, 2020))
            linked_total += int((linked & ~covered).sum())
            covered |= linked
        assert s.after["covered"].tolist() == covered.tolist(), s.year
        below = qualifies & (income_pc < standard)
        eligible, admitted, enrolled = s.places[0]
        assert eligible.tolist() == np.flatnonzero(below).tolist(), s.year
        assert admitted.tolist() == np.flatnonzero(below & covered).tolist(), s.year
        assert enrolled.tolist() == admitted.tolist()  # funded at need
        assert admitted.size < eligible.size
    assert linked_total > 0


def test_the_floor_pays_the_gap_to_the_county_standard(run):
    model, steps = run
    hh = model.households
    for s in steps:
        income_pc = s.income / hh.size
        standard = s.before["standard"]
        _, admitted, enrolled = s.places[0]
        gap = (standard - income_pc) * hh.size
        gain, transfer, cost = s.recorded(hh.n)
        assert np.flatnonzero(cost).tolist() == enrolled.tolist()
        np.testing.assert_allclose(cost[enrolled], gap[enrolled], rtol=1e-12)
        np.testing.assert_allclose(transfer[enrolled], gap[enrolled], rtol=1e-12)
        np.testing.assert_allclose(gain[enrolled], gap[enrolled], rtol=1e-6)
        assert (gap[enrolled] > 0).all()
        # a covered household's income reaches its county's standard
        np.testing.assert_allclose((s.income + transfer)[enrolled] / hh.size[enrolled], standard[enrolled])
        assert s.funds.sum() == pytest.approx((gap * hh.weight)[admitted].sum(), rel=1e-12)


def test_the_floor_at_half_funding_pays_the_poorest_first():
    model, steps = probe(CHANNEL, capture, end_year=2015, **{"budget.scale": 0.5})
    hh = model.households
    s = steps[0]
    _, admitted, enrolled = s.places[0]
    income_pc = s.income / hh.size
    assert 0 < enrolled.size < admitted.size
    assert priority_prefix(admitted, income_pc[admitted], enrolled)
