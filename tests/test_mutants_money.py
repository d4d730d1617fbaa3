"""Tests that kill mutants of :mod:`povsim.money`: yearly series, the relocation schedule, the funds by
source, the pool and each county's budget, on hand-made parameters and the four hand-built households
of :mod:`test_mutants_households`, against answers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.households import REGISTERED
from povsim.money import POOL_CHANNELS, county_budgets, funds_by_source, pool_funds, relocation_people
from povsim.parameters import ParameterSet, extended, is_series_by_year, yearly_series
from test_mutants_households import table


class Params(dict):
    """A plain table of values, read in a year as a ParameterSet reads it: a series by year by the
    ``extend`` rule its parameter file declares."""

    def at(self, year: int) -> dict:
        out = {}
        for path, value in self.items():
            rule = DEFAULTS.parameter(path).extend if path in DEFAULTS else None
            extends = rule is not None and is_series_by_year(value)
            out[path] = extended(value, rule, year, self.__getitem__) if extends else value
        return out


DEFAULTS = ParameterSet.defaults()


def params(**changes) -> Params:
    base = {
        "budget.growth_after": 0.1,
        "budget.central_special_funds": {"2015": 100.0, "2017": 200.0},
        "budget.provincial_funds": {"2015": 50.0, "2016": 60.0},
        "budget.pooled_agricultural_funds": {"2016": 1000.0},
        "budget.relocation_financing": 900.0,
        "budget.household_programme_share": 0.6,
        "budget.pooled_share_to_households": 0.2,
        "budget.scale": 1.0,
        "budget.shares": {"industry": 0.4, "employment": 0.2, "ecology": 0.1, "education": 0.2, "credit": 0.1},
        "budget.channel_scale": dict.fromkeys((*POOL_CHANNELS, "relocation"), 1.0),
        "programs.relocation.planned_people": 90.0,
        "programs.relocation.years": {"from": 2016, "to": 2020},
        "programs.relocation.people_by_year": {"2015": 5.0, "2016": 20.0, "2017": 34.0},
        "programs.relocation.enabled": True,
        **{f"programs.{c}.enabled": True for c in POOL_CHANNELS},
    }
    base.update(changes)
    return Params(base)


def test_yearly_series_documented_years_gaps_before_and_after():
    series = {"2015": 10.0, "2017": 30.0}
    assert yearly_series(series, 2015, 0.1) == 10.0
    assert yearly_series(series, 2017, 0.1) == 30.0
    assert yearly_series(series, 2016, 0.1) == 10.0  # a gap holds the earlier value
    assert yearly_series(series, 2014, 0.1) == 0.0
    assert yearly_series(series, 2018, 0.1) == pytest.approx(33.0)
    assert yearly_series(series, 2020, 0.1) == pytest.approx(30.0 * 1.1**3)
    assert yearly_series(series, 2018, None) == 0.0
    assert yearly_series(series, 2017, None) == 30.0
    assert yearly_series(series, 2018, 0.0) == 30.0


def test_relocation_people_documented_years_and_the_rest_of_the_plan_evenly():
    p = params()
    # 90 planned, 20 in 2016 and 34 in 2017 (2015 lies outside the plan years and does not count):
    # the remaining 36 over 2018–2020
    assert relocation_people(p, 2015) == 0.0
    assert relocation_people(p, 2016) == 20.0
    assert relocation_people(p, 2017) == 34.0
    assert relocation_people(p, 2018) == pytest.approx(12.0)
    assert relocation_people(p, 2020) == pytest.approx(12.0)
    assert relocation_people(p, 2021) == 0.0
    assert relocation_people(params(**{"programs.relocation.planned_people": 50.0}), 2019) == 0.0
    assert sum(relocation_people(p, y) for y in range(2010, 2030)) == pytest.approx(90.0)


def test_funds_by_source_and_the_pool():
    p = params()
    assert funds_by_source(p, 2015) == pytest.approx(
        {"central": 100.0, "provincial": 50.0, "pooled_agricultural": 0.0, "relocation": 0.0}
    )
    assert funds_by_source(p, 2016) == pytest.approx(
        {"central": 100.0, "provincial": 60.0, "pooled_agricultural": 1000.0, "relocation": 900.0 * 20 / 90}
    )
    f2018 = funds_by_source(p, 2018)
    assert f2018 == pytest.approx(
        {"central": 220.0, "provincial": 60.0 * 1.1**2, "pooled_agricultural": 1000.0 * 1.1**2, "relocation": 120.0}
    )
    assert funds_by_source(params(**{"programs.relocation.planned_people": 0.0}), 2016)["relocation"] == 0.0
    assert pool_funds(p, 2015) == pytest.approx((100.0 + 50.0) * 0.6)
    assert pool_funds(p, 2016) == pytest.approx((100.0 + 60.0) * 0.6 + 1000.0 * 0.2)
    assert pool_funds(params(**{"budget.scale": 0.5}), 2016) == pytest.approx(0.5 * ((100 + 60) * 0.6 + 200))


def households():
    """Registered: households 0 (county 0, 8 people) and 3 (county 1, 15 people, in the hazard zone)."""
    return table(hazard_zone=np.array([False, False, True, True]))


def test_county_budgets_follow_registered_people_and_the_people_still_to_move():
    hh = households()
    assert (hh.status == REGISTERED).tolist() == [True, False, False, True]
    p = params()
    out = county_budgets(p, hh, 3, 2016)
    pool = (100.0 + 60.0) * 0.6 + 1000.0 * 0.2
    share = np.array([8.0, 15.0, 0.0]) / 23.0
    for channel in POOL_CHANNELS:
        np.testing.assert_allclose(out[channel], share * pool * p["budget.shares"][channel], rtol=1e-12)
    # relocation: the registered in the hazard zone (household 3, county 1) by default
    np.testing.assert_allclose(out["relocation"], [0.0, 200.0, 0.0], rtol=1e-12)
    # a relocation list of its own, a deep-poverty weight on county 1, money carried over
    listed = np.array([True, False, True, False])  # 8 people in county 0, 6000 in county 2
    out = county_budgets(
        p,
        hh,
        3,
        2016,
        weights=np.array([1.0, 3.0, 1.0]),
        carried={"industry": 53.0, "relocation": 100.0},
        relocation_list=listed,
    )
    tilted = np.array([8.0, 45.0, 0.0]) / 53.0
    np.testing.assert_allclose(out["industry"], tilted * (pool * 0.4 + 53.0), rtol=1e-12)
    np.testing.assert_allclose(out["credit"], tilted * pool * 0.1, rtol=1e-12)
    np.testing.assert_allclose(out["relocation"], np.array([8.0, 0.0, 6000.0]) / 6008.0 * 300.0, rtol=1e-12)


def test_county_budgets_levers_and_switches():
    hh = households()
    scale = dict.fromkeys((*POOL_CHANNELS, "relocation"), 1.0) | {"ecology": 2.0, "relocation": 0.5}
    p = params(**{"budget.scale": 0.8, "budget.channel_scale": scale, "programs.credit.enabled": False})
    out = county_budgets(p, hh, 3, 2016, carried={"credit": 10.0})
    pool = 0.8 * ((100.0 + 60.0) * 0.6 + 1000.0 * 0.2)
    assert out["ecology"].sum() == pytest.approx(pool * 0.1 * 2.0)
    assert out["employment"].sum() == pytest.approx(pool * 0.2)
    assert not out["credit"].any()  # switched off: nothing, carried money included; not redistributed
    assert out["relocation"].sum() == pytest.approx(200.0 * 0.8 * 0.5)
    off = county_budgets(params(**{"programs.relocation.enabled": False}), hh, 3, 2016)
    assert not off["relocation"].any()
    # nobody registered, nobody to move: no money is placed anywhere (and no division by zero)
    empty = county_budgets(params(), table(status=np.zeros(4, np.int8)), 3, 2016)
    assert all(not v.any() for v in empty.values())


def test_a_single_registered_person_takes_the_whole_pool_and_the_whole_relocation_money():
    """Shares are of the people there are, however few: one registered person in the hazard zone (a
    household of one, weight 1) gets all of each channel's money."""
    one = table(
        status=np.array([REGISTERED, 0, 0, 0], np.int8),
        weight=np.array([1, 1, 1, 1], np.int32),
        size=np.array([1, 1, 6, 3], np.int8),
        children=np.array([0, 0, 3, 0], np.int8),
        workers=np.array([1, 0, 2, 1], np.int8),
        migrants=np.array([0, 0, 2, 0], np.int8),
        hazard_zone=np.array([True, False, False, False]),
    )
    out = county_budgets(params(), one, 3, 2016)
    pool = (100.0 + 60.0) * 0.6 + 1000.0 * 0.2
    assert out["industry"].tolist() == pytest.approx([pool * 0.4, 0.0, 0.0])
    assert out["relocation"].tolist() == pytest.approx([200.0, 0.0, 0.0])


def test_a_plan_of_one_person_is_financed_by_its_share_of_the_year():
    p = params(**{"programs.relocation.planned_people": 1.0, "programs.relocation.people_by_year": {"2016": 0.5}})
    assert funds_by_source(p, 2016)["relocation"] == pytest.approx(900.0 * 0.5)
