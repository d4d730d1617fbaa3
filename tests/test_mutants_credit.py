"""Tests that kill mutants of :mod:`povsim.programs.credit`: renewals and defaults (recomputed from the
channel's own random streams), who may borrow and in what order, the documented number of borrowers,
the interest paid before new loans, and what running, defaulted and repaid loans pay and cost."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.households import REGISTERED
from test_mutants_base import probe, supported_mask

CHANNEL = "credit"


def capture(model):
    hh, prog = model.households, model.programme(CHANNEL)
    return {
        "status": hh.status.copy(),
        "exit_year": hh.exit_year.copy(),
        "workers": hh.workers.copy(),
        "income_pc": hh.income_pc.copy(),
        "cause_capital": hh.cause_capital.copy(),
        "loan_until": prog.loan_until.copy(),
        "borrowed": prog.borrowed.copy(),
    }


@pytest.fixture(scope="module")
def run():
    return probe(CHANNEL, capture, end_year=2020)


def param(model, key):
    return model.params[f"programs.credit.{key}"]


def draws(model, year):
    n = model.households.n
    return model.streams.uniform("credit.renewal", year, n), model.streams.uniform("credit.default", year, n)


def loans_before_new(model, s):
    """Each loan's last year after this year's renewals and defaults, before new loans; the defaulted."""
    b = s.before
    renewal, default = draws(model, s.year)
    supported = supported_mask(model, s.year, b["status"], b["exit_year"])
    until = b["loan_until"].astype(np.int64).copy()
    due = (until == s.year - 1) & (until > 0) & supported
    term = param(model, "term_years")
    until[due & (renewal < param(model, "renewal_prob"))] = s.year + term - 1
    defaulted = (until >= s.year) & (default < param(model, "default_prob"))
    until[defaulted] = 0
    return until, defaulted


def test_credit_renews_half_the_due_loans_and_loses_three_percent_to_default(run):
    model, steps = run
    renewed = defaulted_total = 0
    for s in steps:
        until, defaulted = loans_before_new(model, s)
        _, _, chosen = s.places[0]
        got = s.after["loan_until"].astype(np.int64)
        rest = np.setdiff1d(np.arange(got.size), chosen)
        assert got[rest].tolist() == until[rest].tolist(), s.year
        assert (got[chosen] == s.year + param(model, "term_years") - 1).all() and (
            s.after["borrowed"][chosen] == s.year
        ).all()
        assert (s.before["borrowed"][chosen] == 0).all()
        renewed += int(((s.before["loan_until"] == s.year - 1) & (until >= s.year)).sum())
        defaulted_total += int(defaulted.sum())
    assert renewed > 0 and defaulted_total > 0


def test_credit_records_running_defaulted_and_repaid_loans(run):
    model, steps = run
    hh = model.households
    loan = param(model, "loan")
    ret, interest = loan * param(model, "return_rate"), loan * param(model, "interest_rate")
    assert (loan, ret, interest) == pytest.approx((40000.0, 4800.0, 1740.0))  # the documented terms
    repaid_seen = 0
    for s in steps:
        _, defaulted = loans_before_new(model, s)
        until = s.after["loan_until"].astype(np.int64)
        running = until >= s.year
        repaid = (until > 0) & (until < s.year)
        gain, transfer, cost = s.recorded(hh.n)
        kept = ret * (1 - param(model, "asset_depreciation")) ** (s.year - until)
        expected_gain = np.where(running, ret, 0.0) + np.where(repaid, kept, 0.0)
        np.testing.assert_allclose(gain, expected_gain, rtol=1e-6)
        np.testing.assert_allclose(transfer, expected_gain, rtol=1e-12)
        lost = loan * param(model, "risk_fund_share")
        expected_cost = np.where(running, interest, 0.0) + np.where(defaulted, lost, 0.0)
        np.testing.assert_allclose(cost, expected_cost, rtol=1e-12)
        repaid_seen += int(repaid.sum())
        assert (s.funds == s.budget).all()
    assert repaid_seen > 0


def test_credit_lends_to_the_documented_borrowers_within_the_interest_left(run):
    model, steps = run
    hh = model.households
    w = hh.weight.astype(np.float64)
    n = model.geography.n_counties
    capacity = {2015: 2.5e6, 2016: 3e6, 2017: 3e6, 2018: 3e6, 2019: 3e6, 2020: 3e6}
    interest = param(model, "loan") * param(model, "interest_rate")
    for s in steps:
        b = s.before
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        eligible = np.flatnonzero(supported & (b["workers"] > 0) & (b["borrowed"] == 0))
        got, admitted, enrolled = s.places[0]
        assert got.tolist() == eligible.tolist(), s.year
        assert w[admitted].sum() <= capacity[s.year] + w.max()
        if w[eligible].sum() > capacity[s.year] + w.max():
            assert w[admitted].sum() >= capacity[s.year] - w.max(), s.year
        assert np.isin(enrolled, admitted).all() and enrolled.size > 0
        until, _ = loans_before_new(model, s)
        running = until >= s.year
        committed = np.bincount(hh.county[running], interest * w[running], n)
        select = next(c for c in s.selections if c["kind"] == "select")
        np.testing.assert_allclose(select["limit"], s.budget - committed, rtol=1e-12, atol=1e-3)
        np.testing.assert_allclose(select["amount"], interest, rtol=1e-12)


def test_credit_ranks_the_registered_then_those_lacking_capital_then_the_poorest(run):
    _, steps = run
    for s in steps:
        call = next(c for c in s.selections if c["kind"] == "cap")
        idx, priority = call["idx"], call["priority"]
        b = s.before
        registered = b["status"][idx] == REGISTERED
        capital = b["cause_capital"][idx]
        income = b["income_pc"][idx]
        order = np.argsort(priority, kind="stable")
        key = np.lexsort((income, ~capital, ~registered))
        assert (registered[order] == registered[key]).all(), s.year
        assert (capital[order] == capital[key]).all(), s.year
        np.testing.assert_allclose(income[order], income[key], rtol=0, atol=1e-6)
        assert capital.any() and (~capital).any()
