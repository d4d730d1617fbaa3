"""Tests that kill mutants of :mod:`povsim.programs.ecology`: who may hold a ranger post or have land
paid for, the documented number of posts, what posts and payments cost and pay, and that running posts
and payments are paid before new enrolments."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.households import REGISTERED
from test_mutants_base import SMALL, probe, supported_mask

CHANNEL = "ecology"


def capture(model):
    hh, prog = model.households, model.programme(CHANNEL)
    return {
        "status": hh.status.copy(),
        "exit_year": hh.exit_year.copy(),
        "workers": hh.workers.copy(),
        "migrants": hh.migrants.copy(),
        "land": hh.land.astype(np.float64),
        "income_pc": hh.income_pc.copy(),
        "ranger": prog.ranger.copy(),
        "paid": prog.paid.copy(),
    }


@pytest.fixture(scope="module")
def run():
    return probe(CHANNEL, capture, end_year=2018)


def payment(model, land):
    p = model.params
    return p["programs.ecology.compensation_per_mu"] * p["programs.ecology.compensation_land_share"] * land


def test_ecology_eligibility_for_posts_and_land_payments(run):
    model, steps = run
    hh = model.households
    poor_county = model.geography.county_poor[hh.county]
    for s in steps:
        b = s.before
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        in_zone = poor_county & supported
        posts, land = s.places
        ranger_eligible = np.flatnonzero(in_zone & ~(b["ranger"] & supported) & (b["workers"] > b["migrants"]))
        land_eligible = np.flatnonzero(in_zone & ~(b["paid"] & supported) & (b["land"] > 0))
        assert posts[0].tolist() == ranger_eligible.tolist(), s.year
        assert land[0].tolist() == land[1].tolist() == land_eligible.tolist(), s.year
        assert land_eligible.size > 0 and (~poor_county).any()


def test_ecology_offers_the_documented_posts_less_those_held(run):
    model, steps = run
    w = model.households.weight.astype(np.float64)
    documented = {2015: 0, 2016: 140_000, 2017: 280_000, 2018: 413_000}
    for s in steps:
        b, a = s.before, s.after
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        held = w[b["ranger"] & supported].sum()
        eligible, admitted, enrolled = s.places[0]
        free = documented[s.year] - held
        assert w[admitted].sum() <= max(free, 0) + w.max(), s.year
        if w[eligible].sum() > free + w.max():
            assert w[admitted].sum() >= free - w.max(), s.year
        assert np.isin(enrolled, admitted).all()
        assert w[a["ranger"]].sum() <= documented[s.year] + w.max()
        if s.year == 2015:
            assert admitted.size == 0
        if s.year == 2017:
            assert enrolled.size > 0


def test_ecology_pays_every_post_and_payment_and_keeps_them_while_supported(run):
    model, steps = run
    hh = model.households
    wage = model.params["programs.ecology.ranger_wage"]
    ended = 0
    for s in steps:
        b, a = s.before, s.after
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        _, _, new_rangers = s.places[0]
        _, _, new_paid = s.places[1]
        rangers = (b["ranger"] & supported).copy()
        rangers[new_rangers] = True
        paid = (b["paid"] & supported).copy()
        paid[new_paid] = True
        assert a["ranger"].tolist() == rangers.tolist() and a["paid"].tolist() == paid.tolist(), s.year
        ended += int((b["ranger"] & ~supported).sum() + (b["paid"] & ~supported).sum())
        expected = np.zeros(hh.n)
        expected[rangers] += wage
        expected[paid] += payment(model, b["land"])[paid]
        for got in s.recorded(hh.n):
            np.testing.assert_allclose(got, expected, rtol=1e-12)
        assert (s.funds == s.budget).all()
    assert ended > 0


def test_ecology_pays_running_posts_and_payments_before_new_enrolments(run):
    model, steps = run
    hh = model.households
    w = hh.weight.astype(np.float64)
    n = model.geography.n_counties
    wage = model.params["programs.ecology.ranger_wage"]
    for s in steps:
        b = s.before
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        running = b["ranger"] & supported
        paying = b["paid"] & supported
        committed = np.bincount(hh.county[running], wage * w[running], n) + np.bincount(
            hh.county[paying], (payment(model, b["land"]) * w)[paying], n
        )
        selects = [c for c in s.selections if c["kind"] == "select"]
        assert len(selects) == 2
        np.testing.assert_allclose(selects[0]["limit"], s.budget - committed, rtol=1e-12, atol=1e-3)
        new = selects[0]["chosen"]
        after_posts = s.budget - committed - np.bincount(hh.county[new], wage * w[new], n)
        np.testing.assert_allclose(selects[1]["limit"], after_posts, rtol=1e-12, atol=1e-3)
        assert committed.sum() > 0 or s.year == 2015


def test_ecology_ranks_the_registered_poorest_first(run):
    _, steps = run
    for s in steps:
        for call in s.selections:
            idx, priority = call["idx"], call["priority"]
            if idx.size == 0:
                continue
            registered = s.before["status"][idx] == REGISTERED
            income = s.before["income_pc"][idx]
            order = np.argsort(priority, kind="stable")
            key = np.lexsort((income, ~registered))
            assert (registered[order] == registered[key]).all(), s.year
            np.testing.assert_allclose(income[order], income[key], rtol=1e-12)


def test_households_without_land_are_not_paid_for_land():
    from povsim import PovertyModel

    model = PovertyModel(end_year=2016, **SMALL)
    model.step()
    hh = model.households
    paid = model.programme(CHANNEL).paid
    in_zone = np.flatnonzero(model.geography.county_poor[hh.county] & (hh.status == REGISTERED) & ~paid)
    landless = in_zone[::3]
    hh.land[landless] = 0.0
    _, steps = probe(CHANNEL, capture, model=model)
    eligible, _, _ = steps[-1].places[1]
    assert landless.size > 0 and not np.isin(landless, eligible).any()
    assert not steps[-1].after["paid"][landless].any()


def test_ranger_posts_stay_at_the_2020_number_after_the_plan():
    model, steps = probe(CHANNEL, capture, end_year=2022)
    w = model.households.weight.astype(np.float64)
    for s in steps[-2:]:
        supported = supported_mask(model, s.year, s.before["status"], s.before["exit_year"])
        free = 680_000 - w[s.before["ranger"] & supported].sum()
        eligible, admitted, _ = s.places[0]
        assert w[eligible].sum() > free + w.max(), s.year  # the posts bind
        assert abs(w[admitted].sum() - free) <= w.max(), s.year
