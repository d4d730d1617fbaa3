"""Tests that kill mutants of :mod:`povsim.programs.employment`: who is eligible, the order they are
placed in, what a transfer and a post cost and pay, how long a placement lasts and when a post ends."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.households import REGISTERED
from test_mutants_base import SMALL, probe, supported_mask

CHANNEL = "employment"


def capture(model):
    hh, prog = model.households, model.programme(CHANNEL)
    return {
        "status": hh.status.copy(),
        "exit_year": hh.exit_year.copy(),
        "workers": hh.workers.copy(),
        "migrants": hh.migrants.copy(),
        "skills": hh.skills.copy(),
        "remittance": hh.remittance.copy(),
        "local_earnings": hh.local_earnings.copy(),
        "income_pc": hh.income_pc.copy(),
        "relocated": model.relocation_recent().copy(),
        "placed_until": prog.placed_until.copy(),
        "post": prog.post.copy(),
    }


@pytest.fixture(scope="module")
def run():
    return probe(CHANNEL, capture, end_year=2019)


def test_employment_eligibility_and_what_a_placement_changes(run):
    model, steps = run
    for s in steps:
        b, a = s.before, s.after
        home = b["workers"].astype(int) - b["migrants"]
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        held = b["post"] & supported & (home > 0)
        eligible = np.flatnonzero(supported & (home > 0) & (b["placed_until"] < s.year) & ~held)
        got, admitted, enrolled = s.places[0]
        assert got.tolist() == eligible.tolist() == admitted.tolist(), s.year
        assert 0 < enrolled.size < eligible.size and np.isin(enrolled, eligible).all()
        transfer = enrolled[b["skills"][enrolled] >= 1]
        post = enrolled[b["skills"][enrolled] < 1]
        assert transfer.size > 0 and post.size > 0
        assert (a["migrants"][transfer] == b["migrants"][transfer] + 1).all()
        assert (a["migrants"][post] == b["migrants"][post]).all()
        assert (a["placed_until"][transfer] == s.year + 3 - 1).all()  # three years, this one included
        assert a["post"][post].all() and not a["post"][transfer].any()
        left = np.setdiff1d(eligible, enrolled)
        assert (a["migrants"][left] == b["migrants"][left]).all() and not a["post"][left].any()
        assert (s.funds == s.budget).all()


def test_employment_ranks_relocated_then_zero_employment_then_the_poorest_registered_before_exited(run):
    _, steps = run
    for s in steps:
        call = next(c for c in s.selections if c["kind"] == "select")
        idx, priority = call["idx"], call["priority"]
        b = s.before
        registered = b["status"][idx] == REGISTERED
        relocated = b["relocated"][idx]
        zero = b["migrants"][idx] == 0
        income = b["income_pc"][idx]
        order = np.argsort(priority, kind="stable")
        # the order is: registered before exited; within each, relocated first, then households with no
        # one employed, then poorest first
        key = np.lexsort((income, ~zero, ~relocated, ~registered))
        assert (registered[order] == registered[key]).all(), s.year
        assert (relocated[order] == relocated[key]).all(), s.year
        assert (zero[order] == zero[key]).all(), s.year
        # (equal up to rounding: −1e5 and −1e6 on the income leave ties within 1e-9 yuan)
        np.testing.assert_allclose(income[order], income[key], rtol=0, atol=1e-6)
        if s.year >= 2017:
            assert relocated.any() and (~registered).any() and zero.any() and (~zero).any()


def test_employment_pays_posts_and_placed_migrants_and_charges_transfers(run):
    model, steps = run
    hh = model.households
    p = model.params
    wage, fee = p["programs.employment.post_wage"], p["programs.employment.transfer_cost_per_worker"]
    for s in steps:
        b, a = s.before, s.after
        _, _, enrolled = s.places[0]
        transfers = enrolled[b["skills"][enrolled] >= 1]
        posts = np.flatnonzero(a["post"])
        placed = np.flatnonzero((a["placed_until"] >= s.year) & (a["migrants"] > 0))
        gain, transfer, cost = s.recorded(hh.n)
        expected_cost = np.zeros(hh.n)
        expected_cost[transfers] += fee
        expected_cost[posts] += wage
        assert cost.tolist() == expected_cost.tolist(), s.year
        expected_transfer = np.zeros(hh.n)
        expected_transfer[posts] = wage
        assert transfer.tolist() == expected_transfer.tolist()
        expected_gain = expected_transfer.copy()
        expected_gain[placed] += np.maximum(b["remittance"][placed] - b["local_earnings"][placed], 0.0)
        np.testing.assert_allclose(gain, expected_gain, rtol=1e-6)
        assert placed.size > 0 and posts.size > 0
        # spending stays within the funds (the marginal agent of each rationing cell aside)
        spent = (cost * hh.weight).sum()
        assert spent <= s.budget.sum() + 2 * wage * hh.weight.max() * len(np.unique(model.sampling.rationing_cell))


def test_a_post_ends_with_support_or_with_no_worker_at_home(run):
    model, steps = run
    ended = 0
    for s in steps:
        b, a = s.before, s.after
        home = b["workers"].astype(int) - b["migrants"]
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        lost = b["post"] & ~(supported & (home > 0))
        kept = b["post"] & supported & (home > 0)
        assert not a["post"][lost].any(), s.year
        assert a["post"][kept].all(), s.year
        ended += int(lost.sum())
    assert ended > 0


def test_employment_spends_its_funds_when_eligible_households_are_left(run):
    """Every year more households are eligible than the money places, so the funds are used up: spending
    (transfers at their fee, posts at their wage) is within 2% of the funds, the marginal agents of the
    rationing cells aside — a transfer costed at a post's wage when choosing would leave a quarter unspent."""
    model, steps = run
    hh = model.households
    for s in steps:
        eligible, _, enrolled = s.places[0]
        assert enrolled.size < eligible.size
        spent = (s.recorded(hh.n)[2] * hh.weight).sum()
        assert spent == pytest.approx(s.budget.sum(), rel=0.02), s.year


def test_a_placed_migrant_earning_less_away_than_at_home_adds_nothing():
    """The channel's gain from a placed worker is what the remittance adds over the earnings given up at
    home, never less than nothing: placed households made to earn more at home than away gain 0."""
    from povsim import PovertyModel

    model = PovertyModel(end_year=2017, **SMALL)
    model.step()
    model.step()
    prog = model.programme(CHANNEL)
    hh = model.households
    placed = np.flatnonzero((prog.placed_until >= 2017) & (hh.migrants > 0))
    worse = placed[::2]
    hh.local_earnings[worse] = hh.remittance[worse] + 1000.0
    _, steps = probe(CHANNEL, capture, model=model)
    gain, _, _ = steps[-1].recorded(hh.n)
    posts = steps[-1].after["post"]
    assert worse.size > 0
    assert (gain[worse[~posts[worse]]] == 0).all()
    better = np.setdiff1d(placed, worse)
    assert (gain[better[~posts[better]]] > 0).any()
