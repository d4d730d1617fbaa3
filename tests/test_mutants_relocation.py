"""Tests that kill mutants of :mod:`povsim.programs.relocation`: who is on the list and willing, the
documented schedule of people per year, the cost, what moving changes, follow-up support and the riskier
income of the first years."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.households import REGISTERED
from test_mutants_base import probe

CHANNEL = "relocation"


def capture(model):
    hh, prog = model.households, model.programme(CHANNEL)
    return {
        "status": hh.status.copy(),
        "hazard_zone": hh.hazard_zone.copy(),
        "farm": hh.farm.copy(),
        "local_earnings": hh.local_earnings.copy(),
        "income_pc": hh.income_pc.copy(),
        "year_moved": prog.year_moved.copy(),
        "housing_safe": hh.housing_safe.copy(),
        "water_safe": hh.water_safe.copy(),
        "guarantee_channel": model.guarantee_channel.copy(),
        "guarantee_year": model.guarantee_year.copy(),
        "risk": np.asarray(prog.income_risk(model), np.float64).copy(),
    }


@pytest.fixture(scope="module")
def run():
    """Seven in ten households on the list willing to move (the documented take-up is all)."""
    return probe(CHANNEL, capture, end_year=2020, **{"programs.relocation.take_up": 0.7})


def param(model, key):
    return model.params[f"programs.relocation.{key}"]


def test_relocation_moves_the_willing_on_the_list_within_the_documented_people_per_year(run):
    model, steps = run
    hh = model.households
    people = hh.people_weight_of(np.arange(hh.n))
    willing = model.streams.uniform("relocation.willing", 0, hh.n) < 0.7
    assert model.programme(CHANNEL).willing.tolist() == willing.tolist()
    schedule = {2016: 2.49e6, 2017: 3.4e6, 2018: (9.81e6 - 5.89e6) / 3, 2019: (9.81e6 - 5.89e6) / 3}
    schedule[2020] = schedule[2018]
    assert [s.year for s in steps] == list(range(2015, 2021))
    assert not steps[0].places and steps[0].funds is None  # nothing before the plan
    for s in steps[1:]:
        b, a = s.before, s.after
        assert model.programme(CHANNEL).capacity(s.year) == pytest.approx(schedule[s.year])
        eligible = np.flatnonzero(b["hazard_zone"] & (b["year_moved"] == 0) & willing)
        got, admitted, moved = s.places[0]
        assert got.tolist() == eligible.tolist(), s.year
        assert people[admitted].sum() <= schedule[s.year] + people.max(), s.year
        if people[eligible].sum() > schedule[s.year] + people.max():
            assert people[admitted].sum() >= schedule[s.year] - people.max(), s.year
        assert np.isin(moved, admitted).all() and (moved.size > 0 or s.year > 2017)
        assert (a["year_moved"][moved] == s.year).all()
        assert (s.funds == s.budget).all()
    unwilling = np.flatnonzero(steps[1].before["hazard_zone"] & ~willing)
    assert unwilling.size > 0 and (steps[-1].after["year_moved"][unwilling] == 0).all()


def test_moving_makes_house_and_water_safe_halves_farm_income_and_opens_wage_work(run):
    model, steps = run
    hh = model.households
    index = model.programme(CHANNEL).index
    for s in steps[1:]:
        b, a = s.before, s.after
        _, _, moved = s.places[0]
        stay = np.setdiff1d(np.arange(hh.n), moved)
        assert not a["hazard_zone"][moved].any() and a["housing_safe"][moved].all() and a["water_safe"][moved].all()
        assert (a["hazard_zone"][stay] == b["hazard_zone"][stay]).all()
        np.testing.assert_allclose(a["farm"][moved], b["farm"][moved] * param(model, "farm_income_kept"))
        np.testing.assert_allclose(
            a["local_earnings"][moved], b["local_earnings"][moved] * (1 + param(model, "wage_access_gain"))
        )
        assert (a["farm"][stay] == b["farm"][stay]).all()
        assert (a["local_earnings"][stay] == b["local_earnings"][stay]).all()
        assert (a["guarantee_channel"][moved] == index).all() and (a["guarantee_year"][moved] == s.year).all()
        assert (a["guarantee_channel"][stay] == b["guarantee_channel"][stay]).all()


def test_relocation_costs_per_person_moved_and_pays_follow_up_in_the_first_three_years(run):
    model, steps = run
    hh = model.households
    size = hh.size.astype(np.float64)
    per_person, followup = param(model, "cost_per_person"), param(model, "followup_per_person")
    for s in steps[1:]:
        a = s.after
        _, _, moved = s.places[0]
        recent = (a["year_moved"] > 0) & (s.year - a["year_moved"] < 3)
        expected_cost = np.where(recent, followup * size, 0.0)
        expected_cost[moved] += per_person * size[moved]
        gain, transfer, cost = s.recorded(hh.n)
        np.testing.assert_allclose(cost, expected_cost, rtol=1e-12)
        np.testing.assert_allclose(transfer, np.where(recent, followup * size, 0.0), rtol=1e-12)
        assert (gain[recent] >= transfer[recent] * (1 - 1e-6)).all() and not gain[~recent].any()
        if s.year >= 2019:
            assert ((a["year_moved"] > 0) & ~recent).any()  # support ends after three years
        # the first three years' income is riskier
        risk = np.asarray(model.programme(CHANNEL).income_risk(model))
        assert risk.shape == (hh.n,) or np.ndim(risk) == 0
        expected_risk = np.where(
            (s.before["year_moved"] > 0) & (s.year - s.before["year_moved"] < 3),
            param(model, "extra_income_sigma"),
            0.0,
        )
        assert s.before["risk"].tolist() == np.broadcast_to(expected_risk, (hh.n,)).tolist() or s.year == 2015


def test_relocation_ranks_the_registered_poorest_first(run):
    _, steps = run
    for s in steps[1:]:
        for call in s.selections:
            idx, priority = call["idx"], call["priority"]
            registered = s.before["status"][idx] == REGISTERED
            income = s.before["income_pc"][idx]
            order = np.argsort(priority, kind="stable")
            key = np.lexsort((income, ~registered))
            assert (registered[order] == registered[key]).all(), s.year
            np.testing.assert_allclose(income[order], income[key], rtol=1e-12)
