"""The registry (建档立卡): yearly identification, exits, relapse and the 2015–16 re-check.

At the annual update (31 December, [cheng-2017] ch. 5 §3(2)), with a household's income *assessed* with an
error (``governance.assessment_sigma``), so that identification and exit make real inclusion
and exclusion errors:

* **exit** (退出): a registered household whose assessed income per person is stably above the
  line (by ``registry.exit.income_margin``; counties under pressure to exit relax this, see
  :mod:`povsim.governance`) and whose 两不愁三保障 holds (schooling, basic medical care, safe
  housing and water) is verified and leaves with probability ``registry.exit.verification_prob``
  ([exit-mechanism-2016] §3(1)). An exit of a household still below the line is a **false exit**; from
  ``governance.evaluation.start_year`` the third-party evaluation detects a share of them and
  reverses them ([cheng-2017] ch. 1 §5, ch. 10 §4(2); [assessment-2016] art. 6–8);
* **relapse** (返贫): an exited household whose income falls back below the line;
* **entry**: a non-registered household assessed below the line is identified, within its
  county's yearly quota (规模控制, [cheng-2017] ch. 5 §1(1)) — with ``registry.entry.identification_prob``;
  from the dynamic management of 2017 systematically ([progress-2017] §2); a 低保 household always, from
  ``programs.floor.registry_link_year`` ([plan-13th-fyp] box 12(2)) — and an exited household below the line
  is re-registered ([progress-2017] §2: systematically from 2017);
* **re-check** (回头看, 2015–16): wrongly identified households are removed and income-poor
  households left out are added (8.07M added, 9.29M removed, [cheng-2017] ch. 5 §3(2)).

Each household makes at most one registry move a year, so
``registered(t) = registered(t-1) - exits(t) - removed(t) + entries(t)`` holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from povsim.allocation import fit_within
from povsim.households import EXITED, NOT_REGISTERED, REGISTERED, Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration

REGISTRY = Declaration(
    "registry",
    owns=("status", "registered_year", "exit_year", "relapses", "relapse_year", "registry.false_exit"),
    reads=(
        "county",
        "housing_safe",
        "income",
        "insured",
        "out_of_school",
        "poor",
        "poor_prev",
        "size",
        "water_safe",
        "weight",
    ),
    doc="exits, removals, relapses and entries of the registry (and re-registration at the province's request)",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""

if TYPE_CHECKING:
    from povsim.model import PovertyModel


@dataclass
class RegistryFlows:
    """This year's registry moves, as household masks."""

    exits: np.ndarray
    relapses: np.ndarray
    new_registrations: np.ndarray
    reregistrations: np.ndarray
    removed: np.ndarray
    false_exits: np.ndarray  # attempted exits of households still below the line
    false_exits_detected: np.ndarray  # of which the evaluation detected and reversed
    fell_into_poverty: np.ndarray  # below the line this year, not last year (any status)
    escaped_poverty: np.ndarray  # below the line last year, not this year (any status)
    newly_poor: np.ndarray  # fell into poverty while not registered (before this year's update)

    @property
    def entries(self) -> np.ndarray:
        return self.new_registrations | self.reregistrations


def exit_eligible(
    hh: Households,
    params: ParameterSet,
    line: float,
    assessed: np.ndarray | None = None,
    guaranteed: np.ndarray | None = None,
    relax: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Registered households meeting the exit standard: assessed income stably above the line
    and 两不愁三保障.

    Args:
        assessed: assessed income per person (default: the true income per person).
        guaranteed: households whose income the floor (兜底) holds at a standard; their income
            counts as stable once it reaches the line (政策性兜底脱贫).
        relax: share by which the income standard is relaxed (exit pressure), per household.
    """
    income = hh.income_pc if assessed is None else assessed
    stable = income >= line * (1.0 + params["registry.exit.income_margin"]) * (1.0 - relax)
    if guaranteed is not None:
        stable |= guaranteed & (income >= line)
    return (hh.status == REGISTERED) & stable & hh.two_assurances_three_guarantees()


class Registry:
    """The yearly registry update, with its errors, for one model."""

    def __init__(self, model: PovertyModel):
        self.model = model
        # exited while still below the line, undetected
        self.false_exit = model.households.add_state("registry.false_exit", np.zeros(model.households.n, bool))

    def _uniform(self, name: str) -> np.ndarray:
        m = self.model
        return m.streams.uniform(f"registry.{name}", m.year, m.households.n)

    def assessed_income(self, name: str = "assessment") -> np.ndarray:
        """Income per person as the registry assesses it (mean-one log-normal error); ``name`` names
        the assessment's stream (the yearly update's, or the 2015–16 re-check's)."""
        m = self.model
        sigma = m.params["governance.assessment_sigma"]
        z = m.streams.mean_one_lognormal(f"registry.{name}", m.year, m.households.n, sigma)
        return np.multiply(m.households.income_pc, z, out=z)

    def update(self, guaranteed: np.ndarray | None = None) -> RegistryFlows:
        """Apply the year's exits, removals, relapses and entries, in place.

        Args:
            guaranteed: households the 兜底 floor paid this year: their exit counts as stable once
                their income reaches the line, and a non-registered one assessed below the line is
                registered (the 低保 and registry data are linked, [plan-13th-fyp] box 12(2))."""
        m, hh, p, y = self.model, self.model.households, self.model.params, self.model.year
        line = m.poverty_line
        status = hh.status.copy()
        assessed = self.assessed_income()

        relax = m.governance.exit_pressure(y)[hh.county]
        exits = exit_eligible(hh, p, line, assessed, guaranteed, relax)
        exits &= self._uniform("exit_verification") < p["registry.exit.verification_prob"]
        false = exits & hh.poor
        detected = np.zeros(hh.n, bool)
        if p["governance.evaluation.enabled"] and y >= p["governance.evaluation.start_year"]:
            detected = false & (self._uniform("evaluation") < p["governance.evaluation.detection_prob"])
        exits &= ~detected

        removed = np.zeros(hh.n, bool)
        added = np.zeros(hh.n, bool)
        if y == p["governance.recheck.year"]:
            recheck = self.assessed_income("recheck_assessment")
            removed = (
                (status == REGISTERED)
                & ~exits
                & (recheck > line * p["governance.recheck.income_ratio"])
                & (self._uniform("recheck_removal") < p["governance.recheck.removal_prob"])
            )
            added = (
                (status == NOT_REGISTERED)
                & hh.poor
                & (self._uniform("recheck_addition") < p["governance.recheck.addition_prob"])
            )

        relapses = (status == EXITED) & hh.poor & ~hh.poor_prev
        p_rereg = (
            p["registry.relapse.reregistration_prob"]
            if y >= p["registry.relapse.reregistration_from_year"]
            else p["registry.relapse.reregistration_prob_before"]
        )
        rereg = (status == EXITED) & hh.poor & (self._uniform("reregistration") < p_rereg)
        # from the dynamic management of 2017 the missed poor are brought in systematically, as the
        # relapsed are ([progress-2017] §2); from the linking of 低保 and the registry, a 低保 household that
        # qualifies is registered ([plan-13th-fyp] box 12(2))
        p_identify = (
            p["registry.entry.systematic_identification_prob"]
            if y >= p["registry.relapse.reregistration_from_year"]
            else p["registry.entry.identification_prob"]
        )
        identified = self._uniform("identification") < p_identify
        if guaranteed is not None and y >= p["programs.floor.registry_link_year"]:
            identified |= guaranteed
        candidates = (status == NOT_REGISTERED) & ~added & (assessed < line) & identified
        new = added | self._within_quota(candidates, assessed)

        hh.status[exits] = EXITED
        hh.exit_year[exits] = y
        hh.status[removed] = NOT_REGISTERED
        hh.status[rereg | new] = REGISTERED
        hh.registered_year[rereg | new] = y
        hh.relapses += relapses.astype(np.int8)
        hh.relapse_year[relapses] = y
        self.false_exit[exits] = false[exits]
        self.false_exit[rereg] = False
        fell_in = hh.poor & ~hh.poor_prev
        escaped = hh.poor_prev & ~hh.poor
        newly_poor = fell_in & (status == NOT_REGISTERED)
        return RegistryFlows(exits, relapses, new, rereg, removed, false, detected, fell_in, escaped, newly_poor)

    def reregister(self, found: np.ndarray) -> None:
        """Re-register the households ``found`` (a mask) this year, at another module's request (the
        province's check of the counties applying for exit finds false exits, governance.py): their
        false exit is corrected, and they count in this year's re-registrations. Runs as the registry's
        phase, which owns the registry columns (:mod:`povsim.state`)."""
        m = self.model
        with m.state.phase(REGISTRY):
            hh = m.households
            hh.status[found] = REGISTERED
            hh.registered_year[found] = m.year
            self.false_exit[found] = False
            if m.flows is not None:
                m.flows.reregistrations |= found

    def _within_quota(self, candidates: np.ndarray, assessed: np.ndarray) -> np.ndarray:
        """Candidates a county may register this year: poorest first, up to its quota of
        ``governance.entry_quota_share`` of the people its 2014 registry held (in expectation, so
        that a county the sample left without registered agents still has its quota). Quota a
        county leaves unused goes to the region's other candidates, poorest first (quotas were
        set by the province and adjusted between its counties, 规模控制 [cheng-2017] ch. 5 §1(1); the
        reallocation is an assumption)."""
        m, hh = self.model, self.model.households
        quota = m.params["governance.entry_quota_share"] * m.governance.expected_registered
        idx = np.flatnonzero(candidates)
        chosen = fit_within(
            idx,
            assessed[idx],
            hh.people_weight_of(idx),
            hh.county[idx],
            quota,
            lambda positions: m.streams.uniform_at("registry.quota", m.year, idx[positions]),
            pool=m.geography.county_region,
            u_pool=lambda positions: m.streams.uniform_at("registry.quota.pooled", m.year, idx[positions]),
        )
        out = np.zeros(hh.n, bool)
        out[chosen] = True
        return out
