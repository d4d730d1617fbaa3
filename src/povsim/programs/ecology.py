"""Ecology (生态补偿): ranger and grassland-keeper posts for registered poor people able to work
in the poor counties (280k by 2017, [progress-2017] §2; +400k by 2020, [three-year-2018] §3(4); 4,000 yuan a
year, [hubei-2018] §4(4)), and payments for land in reforestation or grassland protection (5-year cycles,
[plan-13th-fyp] box 11(2)), paid cycle after cycle while the household is supported. The registered first, then exited
households under post-exit support. Pool-funded; posts and running payments are paid before new
enrolments."""

from __future__ import annotations

import numpy as np

from povsim.programs.base import PROGRAMME_READS, Programme
from povsim.state import Declaration


class Ecology(Programme):
    channel = "ecology"
    declaration = Declaration(
        "ecology",
        owns=("ecology.paid", "ecology.ranger"),
        reads=(*PROGRAMME_READS, "land", "migrants", "workers"),
        doc="ecological compensation and forest-ranger posts",
    )

    def __init__(self, model):
        super().__init__(model)
        n = model.households.n
        self.ranger = self.own_state("ranger", np.zeros(n, bool))
        self.paid = self.own_state("paid", np.zeros(n, bool))  # land enrolled in a payment cycle

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        wage = self.param("ranger_wage")
        payment = self.param("compensation_per_mu") * self.param("compensation_land_share") * hh.land.astype(np.float64)
        supported = self.supported()
        self.ranger &= supported  # posts and payments end with post-exit support
        self.paid &= supported
        rangers = np.flatnonzero(self.ranger)
        paid = np.flatnonzero(self.paid)

        if self.enabled:
            self.record_funds(budget)
            committed = np.bincount(hh.county[rangers], wage * hh.weight[rangers], budget.size) + np.bincount(
                hh.county[paid], payment[paid] * hh.weight[paid], budget.size
            )
            remaining = budget - committed
            in_zone = model.geography.county_poor[hh.county] & supported
            posts = model.params.at(y)["programs.ecology.ranger_posts"]
            idx = np.flatnonzero(in_zone & ~self.ranger & (hh.workers > hh.migrants))
            priority = self.registered_first(idx, self.poorest_first(idx))
            admitted, admitted_priority = self.admit(
                idx, priority, hh.weight[idx], posts - float(hh.weight[rangers].sum())
            )
            new_rangers = self.select(
                admitted, admitted_priority, np.full(admitted.size, float(wage)), remaining, name="rangers"
            )
            self.record_places(idx, admitted, new_rangers)
            self.ranger[new_rangers] = True
            remaining -= np.bincount(hh.county[new_rangers], wage * hh.weight[new_rangers], remaining.size)
            idx = np.flatnonzero(in_zone & ~self.paid & (hh.land > 0))
            new_paid = self.select(
                idx, self.registered_first(idx, self.poorest_first(idx)), payment[idx], remaining, name="compensation"
            )
            self.record_places(idx, idx, new_paid)
            self.paid[new_paid] = True

        rangers = np.flatnonzero(self.ranger)
        self.record(rangers, gain=wage, transfer=wage, cost=wage)
        paid = np.flatnonzero(self.paid)
        self.record(paid, gain=payment[paid], transfer=payment[paid], cost=payment[paid])
