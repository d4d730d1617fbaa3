"""Relocation (易地扶贫搬迁): households where the land cannot support its people move.

The relocation list is the hazard-zone registered poor of the plan — 9.81M people for 2016–2020
([plan-13th-fyp] box 1, binding) — and a household on it stays on it until it moves, whatever its registry
status (the plan's people are named households; exited ones keep their policies, [plan-13th-fyp] ch. 11 §1).
Those that agree (voluntary) move within the year's capacity — the documented schedule of
``relocation.people_by_year`` (2.49M in 2016, 3.4M in 2017), the rest of the plan evenly over
2018–2020 — and within the relocation financing (~60k yuan per person, [plan-13th-fyp] box 7), the
registered first, then poorest first. Moving makes housing and water safe and ends the hazard
exposure; it costs part of the farm income and gives access to wage work, both for good and both
credited to relocation (:mod:`povsim.programs.effects`); follow-up support is paid and income is
riskier in the first three years ([cheng-2017] ch. 6 §2(2)).
"""

from __future__ import annotations

import numpy as np

from povsim.money import relocation_people
from povsim.programs.base import PROGRAMME_READS, Programme
from povsim.state import Declaration


class Relocation(Programme):
    channel = "relocation"
    declaration = Declaration(
        "relocation",
        owns=("hazard_zone", "relocation.year_moved"),
        modifies=("farm", "local_earnings", "housing_safe", "water_safe", "guarantee.channel", "guarantee.year"),
        reads=PROGRAMME_READS,
        doc="moves households out of hazard zones: new house and water, wage access, farm land left",
    )

    def __init__(self, model):
        super().__init__(model)
        n = model.households.n
        self.year_moved = self.own_state("year_moved", np.zeros(n, np.int16))
        # relocation is voluntary: a household's willingness is drawn once
        self.willing = model.streams.uniform("relocation.willing", 0, n) < self.param("take_up")

    def recently_moved(self, year: int) -> np.ndarray:
        """Households in their critical years after moving."""
        years = self.param("critical_years")
        return (self.year_moved > 0) & (year - self.year_moved < years)

    def to_move(self) -> np.ndarray:
        """Households on the relocation list that have not moved yet and agree to."""
        return self.model.households.hazard_zone & (self.year_moved == 0) & self.willing

    def capacity(self, year: int) -> float:
        """People the plan relocates in ``year`` (:func:`povsim.money.relocation_people`)."""
        return relocation_people(self.model.params, year)

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        capacity = self.capacity(y)
        if self.enabled and capacity > 0:
            self.record_funds(budget)
            eligible = np.flatnonzero(self.to_move())
            prio = self.registered_first(eligible, self.poorest_first(eligible))
            admitted, admitted_prio = self.admit(eligible, prio, hh.people_weight_of(eligible), capacity)
            cost = self.param("cost_per_person") * self.members(admitted)
            moved = self.select(admitted, admitted_prio, cost, budget)
            self.record_places(eligible, admitted, moved)
            self.move(moved, y)
            self.record(moved, cost=cost[np.searchsorted(admitted, moved)])

        # follow-up support in the critical years
        recent = np.flatnonzero(self.recently_moved(y))
        if recent.size:
            followup = self.param("followup_per_person") * self.members(recent)
            self.record(recent, gain=followup, transfer=followup, cost=followup)

    def move(self, idx: np.ndarray, year: int) -> None:
        """Move households ``idx``: safe house and water, out of the hazard zone, and for good part of
        the farm income lost and access to wage work gained (registered as income effects, which
        credit both to relocation every year after)."""
        hh, effects = self.model.households, self.model.effects
        hh.hazard_zone[idx] = False
        hh.housing_safe[idx] = True
        hh.water_safe[idx] = True
        effects.register(self.channel, "farm", idx, self.param("farm_income_kept"), year, year)
        effects.register(self.channel, "local_earnings", idx, 1.0 + self.param("wage_access_gain"), year, year)
        self.year_moved[idx] = year
        self.fixed_guarantee(idx)

    def income_risk(self, model):
        return np.where(self.recently_moved(model.year), self.param("extra_income_sigma"), 0.0)
