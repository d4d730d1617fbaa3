"""Tests that kill mutants of :mod:`povsim.programs.health`: each supported household's saving, need and
insurance, recomputed from this year's medical costs and the documented reimbursement and cap."""

from __future__ import annotations

import numpy as np
import pytest

from test_mutants_base import priority_prefix, probe, supported_mask

CHANNEL = "health"


def capture(model):
    hh = model.households
    return {
        "insured": hh.insured.copy(),
        "status": hh.status.copy(),
        "exit_year": hh.exit_year.copy(),
        "income_pc": hh.income_pc.copy(),
        "medical_cost": model.shocks.medical_cost.dense(),
        "out_of_pocket": model.out_of_pocket.dense(),
        "guarantee_channel": model.guarantee_channel.copy(),
        "guarantee_year": model.guarantee_year.copy(),
    }


@pytest.fixture(scope="module")
def full():
    return probe(CHANNEL, capture, end_year=2016)


@pytest.fixture(scope="module")
def rationed():
    return probe(CHANNEL, capture, end_year=2015, **{"budget.scale": 0.5})


def expected(model, before):
    """Per household: the saving against basic insurance and the need (premium subsidy + saving)."""
    p, hh = model.params, model.households
    with_programme = np.minimum(
        before["medical_cost"] * (1 - p["programs.health.reimbursement"]), p["programs.health.out_of_pocket_cap"]
    )
    saving = np.maximum(before["out_of_pocket"] - with_programme, 0.0)
    need = p["programs.health.premium_subsidy_per_person"] * hh.size.astype(np.float64) + saving
    return saving, need


def test_health_pays_each_supported_households_saving_and_premium_at_full_funding(full):
    model, steps = full
    hh = model.households
    p = model.params
    cap = p["programs.health.out_of_pocket_cap"]
    assert len(steps) == 2
    for s in steps:
        b = s.before
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        saving, need = expected(model, b)
        gain, transfer, cost = s.recorded(hh.n)
        reached = np.flatnonzero(cost > 0)
        assert reached.tolist() == np.flatnonzero(supported).tolist(), s.year
        np.testing.assert_allclose(gain[reached], saving[reached], rtol=1e-6, atol=1e-3)
        np.testing.assert_allclose(transfer[reached], saving[reached], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(cost[reached], need[reached], rtol=1e-9)
        # the comparisons are not vacuous: some households' costs are capped, some below the cap
        ill = reached[b["medical_cost"][reached] > 0]
        capped = b["medical_cost"][ill] * (1 - p["programs.health.reimbursement"]) > cap
        assert capped.any() and (~capped).any() and (saving[ill] > 0).any()
        assert s.funds.sum() == pytest.approx((need[reached] * hh.weight[reached]).sum(), rel=1e-9)
        eligible, admitted, enrolled = s.places[0]
        assert eligible.tolist() == admitted.tolist() == enrolled.tolist() == reached.tolist()


def test_health_insures_the_enrolled_and_credits_the_guarantee_to_the_uninsured_only(full):
    model, steps = full
    hh = model.households
    s = steps[-1]
    b, a = s.before, s.after
    reached = np.flatnonzero(s.recorded(hh.n)[2] > 0)
    assert a["insured"][reached].all()
    newly = reached[~b["insured"][reached]]
    assert newly.size > 0
    assert (a["guarantee_channel"][newly] == model.programme(CHANNEL).index).all()
    assert (a["guarantee_year"][newly] == s.year).all()
    untouched = np.setdiff1d(np.arange(hh.n), newly)
    assert (a["guarantee_channel"][untouched] == b["guarantee_channel"][untouched]).all()
    assert (a["guarantee_year"][untouched] == b["guarantee_year"][untouched]).all()


def test_health_at_half_funding_enrols_the_poorest_within_its_funds(rationed):
    model, steps = rationed
    hh = model.households
    s = steps[0]
    _, need = expected(model, s.before)
    eligible, _, enrolled = s.places[0]
    assert 0 < enrolled.size < eligible.size
    funds = s.funds.sum()
    assert funds == pytest.approx(0.5 * (need[eligible] * hh.weight[eligible]).sum(), rel=1e-9)
    spent = (need[enrolled] * hh.weight[enrolled]).sum()
    assert spent <= funds + (need * hh.weight).max()
    assert spent >= funds - (need * hh.weight).max() * 2
    assert priority_prefix(eligible, s.before["income_pc"][eligible], enrolled)
    assert (s.after["insured"][enrolled]).all()


def test_health_never_charges_more_than_basic_insurance_when_basic_insurance_pays_more():
    """With basic insurance reimbursing 95% (more than the programme's 90%), the programme saves the
    ill nothing: no negative saving is paid (a charge), the need is the premium subsidy alone."""
    model, steps = probe(CHANNEL, capture, end_year=2015, **{"shocks.illness.reimbursement": 0.95})
    s = steps[0]
    saving, need = expected(model, s.before)
    gain, transfer, cost = s.recorded(model.households.n)
    reached = np.flatnonzero(cost > 0)
    ill = reached[s.before["medical_cost"][reached] > 0]
    assert ill.size > 0 and (s.before["insured"][ill]).any()
    assert (gain >= 0).all() and (transfer >= 0).all()
    assert transfer[ill].tolist() == saving[ill].tolist()
    assert cost[reached].tolist() == pytest.approx(need[reached].tolist(), rel=1e-12)
