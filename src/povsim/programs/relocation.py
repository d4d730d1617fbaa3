"""Relocation (易地扶贫搬迁): households where the land cannot support its people move.

Hazard-zone registered households that agree (voluntary; poorest first) move within the
year's capacity — the 9.81M people planned for 2016–2020 (002 line 62), spread evenly — and
the relocation financing (~60k yuan per person, 002 line 265). Moving makes housing and water
safe and ends the hazard exposure; it costs part of the farm income and gives access to wage
work; follow-up support is paid and income is riskier in the first three years (000 line 881).
"""

from __future__ import annotations

import numpy as np

from povsim.programs.base import Programme


class Relocation(Programme):
    channel = "relocation"

    def __init__(self, model):
        super().__init__(model)
        n = model.households.n
        self.year_moved = np.zeros(n, np.int16)
        # relocation is voluntary: a household's willingness is drawn once
        self.willing = model.streams.uniform("relocation.willing", 0, n) < self.param("take_up")

    def recently_moved(self, year: int) -> np.ndarray:
        """Households in their critical years after moving."""
        years = self.param("critical_years")
        return (self.year_moved > 0) & (year - self.year_moved < years)

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        period = self.param("years")
        if self.enabled and period["from"] <= y <= period["to"]:
            self.record_funds(budget)
            idx = np.flatnonzero(self.registered() & hh.hazard_zone & (self.year_moved == 0) & self.willing)
            per_year = self.param("planned_people") / (period["to"] - period["from"] + 1)
            prio = self.poorest_first(idx)
            idx = self.cap(idx, prio, hh.people_weight_of(idx), per_year)
            cost = self.param("cost_per_person") * self.members(idx)
            idx = self.select(idx, self.poorest_first(idx), cost, budget)
            self.move(idx, y)
            self.record(idx, cost=self.param("cost_per_person") * self.members(idx))

        # follow-up support and the wage-access gain in the critical years
        recent = np.flatnonzero(self.recently_moved(y))
        if recent.size:
            followup = self.param("followup_per_person") * self.members(recent)
            g = self.param("wage_access_gain")
            wage_gain = hh.local_wage[recent] * g / (1.0 + g)
            self.record(recent, gain=followup + wage_gain, transfer=followup, cost=followup)

    def move(self, idx: np.ndarray, year: int) -> None:
        hh = self.model.households
        hh.hazard_zone[idx] = False
        hh.housing_safe[idx] = True
        hh.water_safe[idx] = True
        hh.farm[idx] *= self.param("farm_income_kept")
        hh.local_earnings[idx] *= 1.0 + self.param("wage_access_gain")
        self.year_moved[idx] = year
        self.fixed_guarantee(idx)

    def income_risk(self, model):
        return np.where(self.recently_moved(model.year), self.param("extra_income_sigma"), 0.0)
