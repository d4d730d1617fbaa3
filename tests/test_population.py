"""The synthetic end-2014 population against the documented marginals (MODEL.md targets)."""

from __future__ import annotations

import numpy as np
import pytest

from povsim import PovertyModel
from povsim.households import EXITED, NOT_REGISTERED, REGISTERED
from povsim.parameters import REGIONS, ParameterSet

REGISTERED_PEOPLE = 89_620_000  # 004 line 28
REGISTERED_HOUSEHOLDS = 29_480_000
SURVEY_POOR = 70_170_000  # NBS end-2014
SURVEY_POOR_BY_REGION = {0: 9_560_000, 1: 24_610_000, 2: 36_000_000}
HAZARD_PEOPLE = 9_810_000

SCALES = (500, 1000, 100_000, 1_000_000)


@pytest.fixture(scope="module")
def initial() -> dict[float, PovertyModel]:
    """End-2014 states (no step) at fine and very coarse scales, every household sampled alike."""
    return {scale: PovertyModel(seed=3, scale=scale, poor_area_scale=scale) for scale in SCALES}


def registered_mask(model: PovertyModel) -> np.ndarray:
    return model.households.status == REGISTERED


@pytest.mark.parametrize("scale", SCALES)
def test_registered_people_and_households_match_registry_at_every_scale(initial, scale):
    model = initial[scale]
    hh = model.households
    reg = registered_mask(model)
    people = hh.people_weight[reg].sum()
    households = hh.weight[reg].sum()
    assert people == pytest.approx(REGISTERED_PEOPLE, rel=0.01)
    assert households == pytest.approx(REGISTERED_HOUSEHOLDS, rel=0.01)
    # the reported stock is the same number
    assert model.national("registered_poor_people") == people
    assert model.national("registered_poor_households") == households


@pytest.mark.parametrize("scale", (500, 1000, 100_000))
def test_registered_people_by_region_follow_registry_shares(initial, scale):
    model = initial[scale]
    hh = model.households
    reg = registered_mask(model)
    shares = ParameterSet.defaults().region("population.registry_2014.region_share")
    for r in range(3):
        people = hh.people_weight[reg & (hh.region == r)].sum()
        assert people == pytest.approx(shares[r] * REGISTERED_PEOPLE, rel=0.01), r


@pytest.mark.parametrize("scale", SCALES)
def test_initial_state_has_only_registered_and_unregistered(initial, scale):
    hh = initial[scale].households
    assert not (hh.status == EXITED).any()
    assert set(np.unique(hh.status)) <= {NOT_REGISTERED, REGISTERED}
    # the scale is the mean number of real households per agent (each of the 18 strata — registered
    # or not, region, poor county, poor village, elsewhere — rounds its number of agents, which at
    # 1 : 1,000,000 is a few agents each)
    assert hh.weight.sum() / hh.n == pytest.approx(scale, rel=0.02 if scale <= 100_000 else 0.1)


@pytest.mark.parametrize("scale", (500, 1000))
def test_income_poor_2014_match_survey_headcount_and_regional_split(initial, scale):
    model = initial[scale]
    hh = model.households
    pw = hh.people_weight
    assert pw[hh.poor].sum() == pytest.approx(SURVEY_POOR, rel=0.01)
    assert model.national("poor_people") == pytest.approx(SURVEY_POOR, rel=0.01)
    for r, target in SURVEY_POOR_BY_REGION.items():
        assert pw[hh.poor & (hh.region == r)].sum() == pytest.approx(target, rel=0.03), f"region {r}"
    # incidence: 70.17M of a rural population of about 972M is 7.2%
    assert model.national("incidence") == pytest.approx(0.072, abs=0.002)


def test_registry_and_survey_are_different_measures(initial):
    """The registry (89.62M) is larger than the survey headcount (70.17M): some registered
    people are not income-poor and some income-poor people (8.07M) were missed."""
    model = initial[1000]
    hh = model.households
    pw = hh.people_weight
    reg = registered_mask(model)
    assert pw[reg & ~hh.poor].sum() > 0
    assert pw[~reg & hh.poor].sum() == pytest.approx(8_070_000, rel=0.05)


@pytest.mark.parametrize("scale", (500, 1000))
def test_about_half_of_registered_people_cannot_work(initial, scale):
    """000 line 2110: about 51% of the registered poor cannot work."""
    model = initial[scale]
    hh = model.households
    reg = registered_mask(model)
    non_workers = ((hh.size.astype(np.int64) - hh.workers) * hh.weight)[reg].sum()
    share = non_workers / hh.people_weight[reg].sum()
    assert share == pytest.approx(0.51, abs=0.05)


def cause_share(model: PovertyModel, cause: str, region: int | None = None) -> float:
    hh = model.households
    mask = registered_mask(model)
    if region is not None:
        mask = mask & (hh.region == region)
    w = hh.weight.astype(np.float64)
    return float(w[mask & getattr(hh, f"cause_{cause}")].sum() / w[mask].sum())


@pytest.mark.parametrize(
    ("cause", "share"), [("illness", 0.421), ("capital", 0.355), ("skills", 0.224), ("labour", 0.168)]
)
def test_national_causes_of_poverty(initial, cause, share):
    """000 lines 722–729: causes among registered households (several per household)."""
    assert cause_share(initial[1000], cause) == pytest.approx(share, abs=0.03)


def test_regional_causes_of_poverty(initial):
    model = initial[1000]
    assert cause_share(model, "illness", region=0) == pytest.approx(0.581, abs=0.04)
    assert cause_share(model, "capital", region=2) == pytest.approx(0.449, abs=0.04)
    # the documented ordering: illness most common in the east, capital in the west
    assert cause_share(model, "illness", 0) > cause_share(model, "illness", 2)
    assert cause_share(model, "capital", 2) > cause_share(model, "capital", 0)


def test_causes_only_on_registered_households(initial):
    hh = initial[1000].households
    unreg = hh.status != REGISTERED
    for cause in ("illness", "capital", "skills", "labour"):
        assert not getattr(hh, f"cause_{cause}")[unreg].any(), cause


@pytest.mark.parametrize("scale", (500, 1000))
def test_hazard_zone_people(initial, scale):
    """002 line 62: 9.81M registered poor people live where the land cannot support them."""
    hh = initial[scale].households
    reg = registered_mask(initial[scale])
    people = hh.people_weight[reg & hh.hazard_zone].sum()
    assert people == pytest.approx(HAZARD_PEOPLE, rel=0.02)
    # only registered households, and none in the east (relocation covers central and west)
    assert not (hh.hazard_zone & ~reg).any()
    assert not (hh.hazard_zone & (hh.region == 0)).any()


@pytest.mark.parametrize("scale", (100_000, 1_000_000))
def test_hazard_zone_people_at_coarse_scales_within_agent_granularity(initial, scale):
    """At coarse scales the fill can miss the target by at most one agent per region."""
    hh = initial[scale].households
    reg = registered_mask(initial[scale])
    people = hh.people_weight[reg & hh.hazard_zone].sum()
    largest_agent = hh.people_weight.max()
    assert people <= HAZARD_PEOPLE
    assert HAZARD_PEOPLE - people <= 2 * largest_agent


@pytest.mark.parametrize("scale", (1000, 1_000_000))
def test_county_table_has_832_poor_counties(initial, scale):
    model = initial[scale]
    params = ParameterSet.defaults()
    geo = model.geography
    assert int(geo.county_poor.sum()) == 832
    poor_by_region = params["geography.counties.poor"]
    for r, (region, n) in enumerate(poor_by_region.items()):
        assert region == REGIONS[r] and int((geo.county_poor & (geo.county_region == r)).sum()) == n
    first = model.governance.table()
    assert len(first) == geo.n_counties and int(first["poor_county"].sum()) == 832
    assert int(model.geography.village_poor.sum()) == 128_000


def test_villages_belong_to_their_households_county(initial):
    model = initial[1000]
    hh, geo = model.households, model.geography
    assert (geo.village_county[hh.village] == hh.county).all()
    assert (geo.county_region[hh.county] == hh.region).all()


def test_registered_households_concentrate_in_poor_counties(initial):
    """About 65% of registered households live in the 832 poor counties (parameter)."""
    model = initial[1000]
    hh, geo = model.households, model.geography
    reg = registered_mask(model)
    share = hh.weight[reg & geo.county_poor[hh.county]].sum() / hh.weight[reg].sum()
    expected = ParameterSet.defaults()["geography.counties.registered_share_in_poor_counties"]
    assert share == pytest.approx(expected, abs=0.03)


def check_table(hh, size0: np.ndarray, weight0: np.ndarray) -> None:
    hh.check()
    members = hh.children.astype(int) + hh.workers + hh.elderly
    assert (members <= hh.size).all()
    assert (hh.migrants <= hh.workers).all()
    for name in ("children", "workers", "elderly", "ill", "disabled", "migrants", "out_of_school"):
        assert (getattr(hh, name) >= 0).all(), f"negative {name}"
    assert (hh.disabled <= hh.inactive).all(), "disabled members must be among those who cannot work"
    # size and weight are fixed over a run
    assert (hh.size == size0).all()
    assert (hh.weight == weight0).all()


@pytest.mark.parametrize(("seed", "scale"), [(1, 1000), (2, 5000)])
def test_household_table_consistent_after_every_year(seed, scale):
    model = PovertyModel(seed=seed, scale=scale, end_year=2025)
    hh = model.households
    size0, weight0 = hh.size.copy(), hh.weight.copy()
    check_table(hh, size0, weight0)
    while model.running:
        model.step()
        check_table(hh, size0, weight0)
        line = model.poverty_line
        assert (hh.poor == (hh.income_pc < line)).all()
        assert np.allclose(hh.income_pc * hh.size, hh.income)
    assert model.year == 2025


# -- the sampling design: the poor areas sampled finer than the rest -------------------------------


@pytest.fixture(scope="module")
def designed() -> PovertyModel:
    """End-2014 state with the poor areas at 1:100 and the rest at 1:2000."""
    return PovertyModel(seed=3, scale=2000, poor_area_scale=100)


def poor_area(model: PovertyModel) -> np.ndarray:
    """Households in a poor county or in a poor village of another county, from the table."""
    geo, hh = model.geography, model.households
    return geo.county_poor[hh.county] | geo.village_poor[hh.village]


def test_the_design_samples_the_poor_areas_at_their_scale_and_the_rest_at_scale(designed):
    hh = designed.households
    inside = poor_area(designed)
    assert hh.weight[inside].mean() == pytest.approx(100, rel=0.01)
    assert hh.weight[~inside].mean() == pytest.approx(2000, rel=0.02)
    # every poor-area agent stands for 100 households, give or take the rounding of its stratum
    assert np.abs(hh.weight[inside] - 100).max() <= 1


def test_the_design_changes_agents_not_the_population(designed, initial):
    """The same registry, survey headcount and placement shares whatever the design."""
    uniform = initial[1000]
    for model in (designed, uniform):
        hh = model.households
        reg = registered_mask(model)
        assert hh.people_weight[reg].sum() == pytest.approx(REGISTERED_PEOPLE, rel=0.01)
        assert hh.weight[reg].sum() == pytest.approx(REGISTERED_HOUSEHOLDS, rel=0.01)
        for r, poor in SURVEY_POOR_BY_REGION.items():
            assert hh.people_weight[hh.poor & (hh.region == r)].sum() == pytest.approx(poor, rel=0.01)
    expected = ParameterSet.defaults()["geography.counties.registered_share_in_poor_counties"]
    for model in (designed, uniform):
        hh, geo = model.households, model.geography
        reg = registered_mask(model)
        in_poor = geo.county_poor[hh.county]
        # households are split over the strata at their expected shares, so the share is exact
        assert hh.weight[reg & in_poor].sum() / hh.weight[reg].sum() == pytest.approx(expected, abs=1e-4)
    # the poor areas hold the same households under both designs, to within sampling
    shares = [m.households.weight[poor_area(m)].sum() / m.households.weight.sum() for m in (designed, uniform)]
    assert shares[0] == pytest.approx(shares[1], abs=0.01)


def test_a_design_has_more_agents_per_poor_county(designed, initial):
    geo = designed.geography
    per_county = [
        np.bincount(m.households.county, minlength=geo.n_counties)[geo.county_poor].mean()
        for m in (designed, initial[1000])
    ]
    assert per_county[0] == pytest.approx(10 * per_county[1], rel=0.05)


def test_poor_area_scale_never_coarser_than_scale():
    model = PovertyModel(seed=3, scale=500, poor_area_scale=2000, end_year=2015)
    assert model.poor_area_scale == 500
    assert model.households.weight.mean() == pytest.approx(500, rel=0.02)
