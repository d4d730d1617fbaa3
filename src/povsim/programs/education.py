"""Education (教育扶贫): school cost relief for the children of the registered poor (nutrition
800 yuan a year, [plan-13th-fyp] box 8(6)) that brings children out of school back (控辍保学), and
vocational training (雨露计划) that raises the household's wages after a delay; the registered
first, then exited households under post-exit support. Pool-funded: relief first, then training
with what remains."""

from __future__ import annotations

import numpy as np

from povsim.programs.base import PROGRAMME_READS, Programme
from povsim.state import Declaration


class Education(Programme):
    channel = "education"
    declaration = Declaration(
        "education",
        owns=("skills", "education.trained_year"),
        modifies=("local_earnings", "remittance", "out_of_school", "guarantee.channel", "guarantee.year"),
        reads=(*PROGRAMME_READS, "children", "migrants", "workers"),
        doc="school relief brings children back; vocational training raises skills and wages",
    )

    def __init__(self, model):
        super().__init__(model)
        self.trained_year = self.own_state("trained_year", np.zeros(model.households.n, np.int16))

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        if self.enabled:
            self.record_funds(budget)
            remaining = budget.copy()
            # relief for school-age children
            idx = np.flatnonzero(self.supported() & (hh.children > 0))
            relief = (
                self.param("relief_per_student") * self.param("school_age_share") * hh.children[idx].astype(np.float64)
            )
            chosen = self.select(
                idx, self.registered_first(idx, self.poorest_first(idx)), relief, remaining, name="relief"
            )
            self.record_places(idx, idx, chosen)
            pos = np.searchsorted(idx, chosen)
            self.record(chosen, gain=relief[pos], transfer=relief[pos], cost=relief[pos])
            remaining -= np.bincount(hh.county[chosen], relief[pos] * hh.weight[chosen], remaining.size)
            back = chosen[self.uniform("return")[chosen] < self.param("return_to_school_prob")]
            self.fixed_guarantee(back[hh.out_of_school[back] > 0])
            hh.out_of_school[back] = 0

            # vocational training, one trainee per household
            idx = np.flatnonzero(self.supported() & (hh.workers > 0) & (hh.skills < 2) & (self.trained_year == 0))
            cost = np.full(idx.size, float(self.param("training_cost")))
            chosen = self.select(
                idx, self.registered_first(idx, self.poorest_first(idx)), cost, remaining, name="training"
            )
            self.record_places(idx, idx, chosen)
            self.trained_year[chosen] = y
            self.record(chosen, cost=self.param("training_cost"))
            # training pays off after the delay, for good: wages at home and away (income effects)
            factor, pays_from = 1.0 + self.param("training_wage_gain"), y + self.param("training_delay")
            for level in ("local_earnings", "remittance"):
                model.effects.register(self.channel, level, chosen, factor, pays_from, y)

        starts = np.flatnonzero((self.trained_year > 0) & (y - self.trained_year == self.param("training_delay")))
        hh.skills[starts] += 1
