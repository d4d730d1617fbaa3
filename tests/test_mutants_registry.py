"""Tests that kill mutants of :mod:`povsim.registry`: the exit standard on hand-built households, and
each year's registry update — exits, false exits and their detection, the 2015 re-check, relapse,
re-registration and identification — recomputed from the household table before the update and the
registry's own random streams; the entry quota at its two extremes."""

from __future__ import annotations

import numpy as np
import pytest

from povsim import PovertyModel
from povsim.households import EXITED, NOT_REGISTERED, REGISTERED
from povsim.registry import RegistryFlows, exit_eligible
from test_mutants_base import SMALL
from test_mutants_households import table


def test_exit_standard_is_income_stably_above_the_line_and_the_guarantees():
    # incomes per person 1000, 2000, 3000, 3000; the margin 10%: the standard is 2200 at a line of 2000
    hh = table(status=np.array([REGISTERED, REGISTERED, REGISTERED, REGISTERED], np.int8))
    hh.income = np.array([4000.0, 2000.0, 18000.0, 9000.0])
    p = {"registry.exit.income_margin": 0.1}
    # household 1 lacks safe water, household 2 has a child out of school, household 3 an unsafe house
    assert exit_eligible(hh, p, 2000.0).tolist() == [False, False, False, False]
    hh = table(
        status=np.array([REGISTERED, REGISTERED, NOT_REGISTERED, REGISTERED], np.int8),
        water_safe=np.ones(4, bool),
        housing_safe=np.ones(4, bool),
        out_of_school=np.zeros(4, np.int8),
    )
    hh.income = np.array([4000.0, 2000.0, 18000.0, 6600.0])  # 1000, 2000, 3000, 2200
    assert exit_eligible(hh, p, 2000.0).tolist() == [False, False, False, True]  # 2200 = the standard
    assert exit_eligible(hh, p, 2001.0).tolist() == [False, False, False, False]
    # assessed incomes instead of the true ones
    assessed = np.array([2300.0, 1000.0, 5000.0, 1000.0])
    assert exit_eligible(hh, p, 2000.0, assessed=assessed).tolist() == [True, False, False, False]
    # exit pressure relaxes the standard: 2200 × (1 − 0.1) = 1980
    relax = np.array([0.0, 0.1, 0.1, 0.0])
    assert exit_eligible(hh, p, 2000.0, relax=relax).tolist() == [False, True, False, True]
    # the floor holds household 1 at the line: stable once its income reaches the line
    guaranteed = np.array([True, True, False, False])
    assert exit_eligible(hh, p, 2000.0, guaranteed=guaranteed).tolist() == [False, True, False, True]
    assert exit_eligible(hh, p, 2000.5, guaranteed=guaranteed).tolist() == [False, False, False, False]


def run_watched(end_year: int = 2018, **overrides) -> tuple[PovertyModel, list[dict]]:
    """A small model to ``end_year`` whose registry updates are watched: the table before each, and its flows."""
    model = PovertyModel(end_year=end_year, **{**SMALL, **overrides})
    registry, seen = model.registry, []
    update = registry.update

    def watched(guaranteed=None):
        hh, m = model.households, model
        before = {
            name: getattr(hh, name).copy()
            for name in ("status", "poor", "poor_prev", "exit_year", "registered_year", "relapses", "relapse_year")
        }
        before |= {
            "year": m.year,
            "income_pc": hh.income_pc.copy(),
            "false_exit": registry.false_exit.copy(),
            "relax": m.governance.exit_pressure(m.year)[hh.county],
            "line": m.poverty_line,
            "guaranteed": None if guaranteed is None else guaranteed.copy(),
            "guarantees": hh.two_assurances_three_guarantees(),
        }
        flows = update(guaranteed)
        # the flows as the update made them (the review's provincial check adds re-registrations later)
        copied = RegistryFlows(**{k: v.copy() for k, v in vars(flows).items()})
        after = {k: getattr(hh, k).copy() for k in before if k in vars(hh)}
        after["false_exit"] = registry.false_exit.copy()
        seen.append({"before": before, "flows": copied, "after": after})
        return flows

    registry.update = watched
    model.run_model()
    return model, seen


@pytest.fixture(scope="module")
def watched():
    return run_watched()


def uniform(model, name, year):
    return model.streams.uniform(f"registry.{name}", year, model.households.n)


def test_registry_update_recomputed_from_the_table_and_its_streams(watched):
    model, seen = watched
    p, hh = model.params, model.households
    sigma = p["governance.assessment_sigma"]
    counts = dict.fromkeys(("exits", "false", "detected", "removed", "added", "relapses", "rereg", "new"), 0)
    for rec in seen:
        b, f, a = rec["before"], rec["flows"], rec["after"]
        y, line = b["year"], b["line"]
        status = b["status"]
        assessed = b["income_pc"] * model.streams.mean_one_lognormal("registry.assessment", y, hh.n, sigma)
        standard = line * (1 + p["registry.exit.income_margin"]) * (1 - b["relax"])
        stable = (assessed >= standard) | (b["guaranteed"] & (assessed >= line))
        verified = uniform(model, "exit_verification", y) < p["registry.exit.verification_prob"]
        exits = (status == REGISTERED) & stable & b["guarantees"] & verified
        false = exits & b["poor"]
        found = uniform(model, "evaluation", y) < p["governance.evaluation.detection_prob"]
        detected = false & found if y >= p["governance.evaluation.start_year"] else np.zeros(hh.n, bool)
        assert f.false_exits.tolist() == false.tolist(), y
        assert f.false_exits_detected.tolist() == detected.tolist(), y
        assert f.exits.tolist() == (exits & ~detected).tolist(), y
        assert (f.exits <= ((status == REGISTERED) & stable)).all()
        if y == 2015:
            recheck = b["income_pc"] * model.streams.mean_one_lognormal("registry.recheck_assessment", y, hh.n, sigma)
            removed = (
                (status == REGISTERED)
                & ~f.exits
                & (recheck > line * p["governance.recheck.income_ratio"])
                & (uniform(model, "recheck_removal", y) < p["governance.recheck.removal_prob"])
            )
            added = (
                (status == NOT_REGISTERED)
                & b["poor"]
                & (uniform(model, "recheck_addition", y) < p["governance.recheck.addition_prob"])
            )
            assert f.removed.tolist() == removed.tolist()
            assert (added <= f.new_registrations).all()
            counts["removed"] += int(removed.sum())
            counts["added"] += int(added.sum())
        else:
            added = np.zeros(hh.n, bool)
            assert not f.removed.any(), y
        relapses = (status == EXITED) & b["poor"] & ~b["poor_prev"]
        assert f.relapses.tolist() == relapses.tolist(), y
        r = "registry.relapse.reregistration_"
        systematic = y >= p[r + "from_year"]
        p_rereg = p[r + "prob"] if systematic else p[r + "prob_before"]
        rereg = (status == EXITED) & b["poor"] & (uniform(model, "reregistration", y) < p_rereg)
        assert f.reregistrations.tolist() == rereg.tolist(), y
        e = "registry.entry."
        p_identify = p[e + "systematic_identification_prob"] if systematic else p[e + "identification_prob"]
        identified = uniform(model, "identification", y) < p_identify
        if y >= p["programs.floor.registry_link_year"]:
            identified |= b["guaranteed"]
        candidates = (status == NOT_REGISTERED) & ~added & (assessed < line) & identified
        new_by_quota = f.new_registrations & ~added
        assert (new_by_quota <= candidates).all(), y
        # the table after the update
        assert (a["status"][f.exits] == EXITED).all() and (a["exit_year"][f.exits] == y).all()
        assert (a["status"][f.removed] == NOT_REGISTERED).all()
        entered = f.reregistrations | f.new_registrations
        assert (a["status"][entered] == REGISTERED).all() and (a["registered_year"][entered] == y).all()
        assert (a["relapses"] == b["relapses"] + relapses).all()
        assert (a["relapse_year"][relapses] == y).all()
        untouched = ~(relapses)
        assert (a["relapse_year"][untouched] == b["relapse_year"][untouched]).all()
        stay = ~(f.exits | f.removed | entered)
        assert (a["status"][stay] == status[stay]).all(), y
        assert (a["exit_year"][~f.exits] == b["exit_year"][~f.exits]).all()
        fell = b["poor"] & ~b["poor_prev"]
        assert f.fell_into_poverty.tolist() == fell.tolist()
        assert f.escaped_poverty.tolist() == (b["poor_prev"] & ~b["poor"]).tolist()
        assert f.newly_poor.tolist() == (fell & (status == NOT_REGISTERED)).tolist()
        assert f.entries.tolist() == (f.new_registrations | f.reregistrations).tolist()
        for key, mask in (("exits", f.exits), ("false", false), ("detected", detected), ("relapses", relapses)):
            counts[key] += int(mask.sum())
        counts["rereg"] += int(rereg.sum())
        counts["new"] += int(new_by_quota.sum())
    assert all(v > 0 for v in counts.values()), counts


def test_false_exits_are_remembered_until_re_registration(watched):
    _, seen = watched
    remembered = 0
    for rec in seen:
        b, f, a = rec["before"], rec["flows"], rec["after"]
        expected = b["false_exit"].copy()
        expected[f.exits] = b["poor"][f.exits]
        expected[f.reregistrations] = False
        assert a["false_exit"].tolist() == expected.tolist(), b["year"]
        remembered += int((b["false_exit"] & a["false_exit"]).sum())
    assert remembered > 0


def test_the_entry_quota_registers_every_candidate_when_large_and_none_when_zero():
    model, seen = run_watched(2017, **{"governance.entry_quota_share": 10.0})
    _, none = run_watched(2017, **{"governance.entry_quota_share": 0.0})
    p, n = model.params, model.households.n
    for rec in seen:
        b, f = rec["before"], rec["flows"]
        y = b["year"]
        assessed = b["income_pc"] * model.streams.mean_one_lognormal(
            "registry.assessment", y, n, p["governance.assessment_sigma"]
        )
        e = "registry.entry."
        systematic = y >= p["registry.relapse.reregistration_from_year"]
        p_identify = p[e + "systematic_identification_prob"] if systematic else p[e + "identification_prob"]
        identified = uniform(model, "identification", y) < p_identify
        if y >= 2017:
            identified |= b["guaranteed"]
        added = f.new_registrations & b["poor"] if y == 2015 else np.zeros(n, bool)  # the re-check's
        candidates = (b["status"] == NOT_REGISTERED) & (assessed < b["line"]) & identified
        assert (f.new_registrations | (candidates & ~added)).tolist() == f.new_registrations.tolist(), y
        assert candidates.any()
    for rec in none:
        f, b = rec["flows"], rec["before"]
        if b["year"] != 2015:  # the re-check adds without a quota
            assert not f.new_registrations.any(), b["year"]


def test_quota_a_county_leaves_unused_goes_to_the_regions_other_candidates():
    """At a quota of 5% of each county's expected registry the 2017 candidates of some counties exceed
    their quota while others fall short: the shortfall is offered to the region's other candidates, so
    some counties register more than their own quota (beyond one marginal agent), yet each region stays
    within its counties' quotas together (plus one marginal agent per county and one per region)."""
    model, seen = run_watched(2017, **{"governance.entry_quota_share": 0.05})
    hh, geo = model.households, model.geography
    quota = 0.05 * model.governance.expected_registered
    agent = hh.people_weight_of(np.arange(hh.n)).max()
    rec = next(r for r in seen if r["before"]["year"] == 2017)
    new = np.flatnonzero(rec["flows"].new_registrations)
    by_county = np.bincount(hh.county[new], hh.people_weight_of(new), geo.n_counties)
    assert (by_county > quota + agent).any()
    for r in range(3):
        counties = geo.county_region == r
        assert by_county[counties].sum() <= quota[counties].sum() + agent * (counties.sum() + 1)
