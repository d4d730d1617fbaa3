"""Tests that kill mutants of :mod:`povsim.programs.education`: school cost relief for the children of
the supported, children brought back to school (recomputed from the channel's stream), vocational
training with what the relief leaves, and the skills it adds after its delay."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.households import REGISTERED
from test_mutants_base import SMALL, probe, supported_mask

CHANNEL = "education"


def capture(model):
    hh, prog = model.households, model.programme(CHANNEL)
    return {
        "status": hh.status.copy(),
        "exit_year": hh.exit_year.copy(),
        "children": hh.children.copy(),
        "workers": hh.workers.copy(),
        "skills": hh.skills.copy(),
        "out_of_school": hh.out_of_school.copy(),
        "income_pc": hh.income_pc.copy(),
        "trained_year": prog.trained_year.copy(),
        "guarantee_channel": model.guarantee_channel.copy(),
    }


@pytest.fixture(scope="module")
def run():
    return probe(CHANNEL, capture, end_year=2018)


def param(model, key):
    return model.params[f"programs.education.{key}"]


def relief(model, children):
    return param(model, "relief_per_student") * param(model, "school_age_share") * children.astype(np.float64)


def test_relief_for_the_children_of_the_supported_within_the_funds(run):
    model, steps = run
    hh = model.households
    w = hh.weight.astype(np.float64)
    for s in steps:
        b = s.before
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        eligible = np.flatnonzero(supported & (b["children"] > 0))
        (got, admitted, enrolled), (_, _, trained) = s.places
        assert got.tolist() == admitted.tolist() == eligible.tolist(), s.year
        amount = relief(model, b["children"])
        assert (amount[eligible] == 800 * 0.6 * b["children"][eligible]).all()
        gain, transfer, cost = s.recorded(hh.n)
        expected = np.zeros(hh.n)
        expected[enrolled] = amount[enrolled]
        np.testing.assert_allclose(transfer, expected, rtol=1e-12)
        assert (gain >= transfer * (1 - 1e-6)).all()
        expected[trained] += param(model, "training_cost")
        np.testing.assert_allclose(cost, expected, rtol=1e-12)
        assert (s.funds == s.budget).all()
        # relief first, training with what is left of each county's funds
        selects = [c for c in s.selections if c["kind"] == "select"]
        np.testing.assert_allclose(selects[0]["limit"], s.budget, rtol=1e-12)
        left = s.budget - np.bincount(hh.county[enrolled], amount[enrolled] * w[enrolled], s.budget.size)
        np.testing.assert_allclose(selects[1]["limit"], left, rtol=1e-12, atol=1e-3)
        assert enrolled.size > 0


def test_relief_brings_children_back_to_school_and_credits_the_guarantee(run):
    model, steps = run
    hh = model.households
    index = model.programme(CHANNEL).index
    back_total = 0
    for s in steps:
        b, a = s.before, s.after
        _, _, enrolled = s.places[0]
        u = model.streams.uniform("education.return", s.year, hh.n)
        back = enrolled[u[enrolled] < param(model, "return_to_school_prob")]
        assert (a["out_of_school"][back] == 0).all()
        rest = np.setdiff1d(np.arange(hh.n), back)
        assert (a["out_of_school"][rest] == b["out_of_school"][rest]).all(), s.year
        credited = back[b["out_of_school"][back] > 0]
        assert (a["guarantee_channel"][credited] == index).all()
        not_credited = np.setdiff1d(np.arange(hh.n), credited)
        assert (a["guarantee_channel"][not_credited] == b["guarantee_channel"][not_credited]).all()
        back_total += credited.size
    assert back_total > 0


def test_training_once_per_household_and_a_skill_level_after_the_delay(run):
    model, steps = run
    delay = param(model, "training_delay")
    trained_total = started = 0
    for s in steps:
        b, a = s.before, s.after
        supported = supported_mask(model, s.year, b["status"], b["exit_year"])
        eligible = np.flatnonzero(supported & (b["workers"] > 0) & (b["skills"] < 2) & (b["trained_year"] == 0))
        got, admitted, trained = s.places[1]
        assert got.tolist() == admitted.tolist() == eligible.tolist(), s.year
        assert (a["trained_year"][trained] == s.year).all()
        others = np.setdiff1d(np.arange(len(b["skills"])), trained)
        assert (a["trained_year"][others] == b["trained_year"][others]).all()
        starts = (b["trained_year"] > 0) & (s.year - b["trained_year"] == delay)
        assert (a["skills"][starts] == b["skills"][starts] + 1).all(), s.year
        assert (a["skills"][~starts] == b["skills"][~starts]).all(), s.year
        trained_total += trained.size
        started += int(starts.sum())
    assert trained_total > 0 and started > 0


def test_education_ranks_the_registered_poorest_first(run):
    _, steps = run
    for s in steps:
        for call in s.selections:
            idx, priority = call["idx"], call["priority"]
            registered = s.before["status"][idx] == REGISTERED
            income = s.before["income_pc"][idx]
            order = np.argsort(priority, kind="stable")
            key = np.lexsort((income, ~registered))
            assert (registered[order] == registered[key]).all(), s.year
            np.testing.assert_allclose(income[order], income[key], rtol=1e-12)
            if s.year >= 2016:
                assert (~registered).any()


def test_training_raises_wages_at_home_and_away_from_its_delay_and_is_credited_what_it_adds():
    """In the year the delay ends, a trainee household's earnings at home and away rise by the documented
    gain (25%), for good; from then on education is credited each year with what that adds to its income
    (wages × g / (1 + g)). Checked on the levels as the year's programmes began and ended (households moved by
    relocation this year, and those whose migrants changed during the programmes, left out)."""
    from povsim import PovertyModel

    model = PovertyModel(end_year=2018, **SMALL)
    hh, prog = model.households, model.programme(CHANNEL)
    g, delay = param(model, "training_wage_gain"), param(model, "training_delay")
    years: list[dict] = []
    run_programmes, step = model.run_programmes, prog.step

    def watched_run_programmes():
        years.append({"local": hh.local_earnings.copy(), "away": hh.remittance.copy()})
        income = run_programmes()
        years[-1]["gain"] = model.ledger.gain_row(prog.index).astype(np.float64)
        years[-1]["migrants_end"] = hh.migrants.copy()
        years[-1]["local_end"] = hh.local_earnings.copy()
        years[-1]["away_end"] = hh.remittance.copy()
        return income

    def watched_step(m, budget, income=None):
        years[-1]["trained_year"] = prog.trained_year.copy()
        step(m, budget, income)
        years[-1]["migrants_step"] = hh.migrants.copy()
        years[-1]["workers"] = hh.workers.copy()
        years[-1]["children"] = hh.children.copy()

    model.run_programmes, prog.step = watched_run_programmes, watched_step
    model.run_model()
    moved_year = model.programme("relocation").year_moved
    checked = paid = 0
    for year, rec in zip(range(2015, 2019), years, strict=True):
        trained = rec["trained_year"]
        starts = (trained > 0) & (year - trained == delay) & (moved_year != year)
        others = ~starts & (moved_year != year)
        np.testing.assert_allclose(rec["local_end"][starts], rec["local"][starts] * (1 + g), rtol=1e-12)
        np.testing.assert_allclose(rec["away_end"][starts], rec["away"][starts] * (1 + g), rtol=1e-12)
        assert (rec["local_end"][others] == rec["local"][others]).all(), year
        assert (rec["away_end"][others] == rec["away"][others]).all(), year
        checked += int(starts.sum())
        paying = (trained > 0) & (year - trained >= delay) & (rec["migrants_step"] == rec["migrants_end"])
        wages = (rec["workers"] - rec["migrants_end"]) * rec["local_end"] + rec["migrants_end"] * rec["away_end"]
        # the year's relief (a gain too) is paid to households with children: compare the childless only
        childless = paying & (rec["children"] == 0)
        np.testing.assert_allclose(rec["gain"][childless], (wages * g / (1 + g))[childless], rtol=1e-5, atol=0.01)
        paid += int(childless.sum())
        never = (trained == 0) & (rec["children"] == 0)
        assert not rec["gain"][never].any(), year  # no training, no children: nothing from education
    assert checked > 0 and paid > 0
