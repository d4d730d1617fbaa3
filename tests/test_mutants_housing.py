"""Tests that kill mutants of :mod:`povsim.programs.housing`: each county's deadline, the even pace to
it, the households fixed (poorest first within a deadline), their cost and their guarantee."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.programs.base import even_pace
from test_mutants_base import priority_prefix, probe, supported_mask

CHANNEL = "housing"


def capture(model):
    hh = model.households
    return {
        "status": hh.status.copy(),
        "exit_year": hh.exit_year.copy(),
        "housing_safe": hh.housing_safe.copy(),
        "water_safe": hh.water_safe.copy(),
        "income_pc": hh.income_pc.copy(),
        "guarantee_channel": model.guarantee_channel.copy(),
        "guarantee_year": model.guarantee_year.copy(),
    }


@pytest.fixture(scope="module")
def full():
    return probe(CHANNEL, capture, end_year=2017)


@pytest.fixture(scope="module")
def rationed():
    return probe(CHANNEL, capture, end_year=2015, **{"budget.scale": 0.5})


def deadlines(model) -> np.ndarray:
    """A poor county's planned exit year, capped at the target year; the target year elsewhere."""
    target = model.params["programs.housing.target_year"]
    plan = model.governance.plan_year.astype(int)
    return np.where(plan > 0, np.minimum(plan, target), target)


def cost(model, before) -> np.ndarray:
    p = model.params
    return (~before["housing_safe"]) * float(p["programs.housing.renovation_cost"]) + (~before["water_safe"]) * float(
        p["programs.housing.water_cost"]
    )


def test_housing_deadline_is_each_poor_countys_plan_year_capped_at_the_target():
    model, _ = probe(CHANNEL, capture, end_year=2015, **{"programs.housing.target_year": 2018})
    plan = model.governance.plan_year
    got = model.programme(CHANNEL).deadline()
    assert (plan > 2018).any() and ((plan > 0) & (plan < 2018)).any() and (plan == 0).any()
    assert got.tolist() == np.where(plan > 0, np.minimum(plan, 2018), 2018).tolist()
    model, _ = probe(CHANNEL, capture, end_year=2015, **{"programs.housing.follows_exit_plan": False})
    assert model.programme(CHANNEL).deadline().tolist() == [2020] * model.geography.n_counties


def test_housing_fixes_an_even_share_of_each_deadlines_backlog_poorest_first(full):
    model, steps = full
    hh = model.households
    w = hh.weight.astype(np.float64)
    deadline = deadlines(model)[hh.county]
    assert [s.year for s in steps] == [2015, 2016, 2017]
    for s in steps:
        b = s.before
        unsafe = ~(b["housing_safe"] & b["water_safe"])
        eligible = np.flatnonzero(supported_mask(model, s.year, b["status"], b["exit_year"]) & unsafe)
        got_eligible, admitted, enrolled = s.places[0]
        assert got_eligible.tolist() == eligible.tolist(), s.year
        assert enrolled.tolist() == admitted.tolist()  # full funding: everyone admitted is fixed
        for d in np.unique(deadline[eligible]):
            group = eligible[deadline[eligible] == d]
            taken = admitted[deadline[admitted] == d]
            share = even_pace(s.year, int(d))
            if share >= 1.0:
                assert taken.tolist() == group.tolist(), (s.year, d)
                continue
            assert abs(w[taken].sum() - share * w[group].sum()) <= w[group].max(), (s.year, d)
            assert priority_prefix(group, b["income_pc"][group], taken), (s.year, d)
        # a deadline this year or past is met in full; a later one is not
        assert (deadline[eligible] <= s.year).any() or s.year < 2016
        assert (deadline[eligible] > s.year + 1).any()


def test_housing_makes_the_fixed_safe_at_the_documented_cost_and_credits_its_guarantee(full):
    model, steps = full
    hh = model.households
    index = model.programme(CHANNEL).index
    for s in steps:
        b, a = s.before, s.after
        _, _, enrolled = s.places[0]
        assert enrolled.size > 0
        need = cost(model, b)
        assert (need[enrolled] > 0).all()
        assert (need[enrolled] != need[enrolled].max()).any()  # houses, water, or both
        _, _, spent = s.recorded(hh.n)
        assert spent[enrolled].tolist() == need[enrolled].tolist()
        assert np.flatnonzero(spent).tolist() == enrolled.tolist()
        assert s.funds.sum() == pytest.approx((need[enrolled] * hh.weight[enrolled]).sum(), rel=1e-9)
        assert a["housing_safe"][enrolled].all() and a["water_safe"][enrolled].all()
        rest = np.setdiff1d(np.arange(hh.n), enrolled)
        assert (a["housing_safe"][rest] == b["housing_safe"][rest]).all()
        assert (a["water_safe"][rest] == b["water_safe"][rest]).all()
        assert (a["guarantee_channel"][enrolled] == index).all() and (a["guarantee_year"][enrolled] == s.year).all()
        assert (a["guarantee_channel"][rest] == b["guarantee_channel"][rest]).all()
        gain, transfer, _ = s.recorded(hh.n)
        assert not gain.any() and not transfer.any()  # no income: its exits are credited by the guarantee


def test_housing_at_half_funding_fixes_the_poorest_admitted_within_its_funds(rationed):
    model, steps = rationed
    hh = model.households
    s = steps[0]
    _, admitted, enrolled = s.places[0]
    need = cost(model, s.before)
    assert 0 < enrolled.size < admitted.size
    funds = s.funds.sum()
    assert funds == pytest.approx(0.5 * (need[admitted] * hh.weight[admitted]).sum(), rel=1e-9)
    spent = (need[enrolled] * hh.weight[enrolled]).sum()
    assert abs(spent - funds) <= (need * hh.weight)[admitted].max()
    assert priority_prefix(admitted, s.before["income_pc"][admitted], enrolled)
