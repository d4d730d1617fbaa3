"""Safe housing and drinking water (危房改造, 饮水安全): the 住房安全 part of 三保障 and the
water part of 两不愁三保障 for registered households.

The existing dilapidated houses and unsafe water supplies of registered households are fixed
at an even pace so that none is left by ``housing.target_year`` ([plan-13th-fyp] box 1; [decision-2015] §14),
poorest first, at 12,500 yuan per house ([cheng-2017] app. 1, Lintao case) and a per-household cost of water works.
A poor county keeps its own pace, to its planned exit year (``housing.follows_exit_plan``): a household
exits only with a safe house and safe water, so a county cannot bring its registry below the exit
threshold before its houses are fixed (the plan year is :attr:`povsim.governance.Governance.plan_year`).
An entitlement funded at ``budget.scale`` of the year's need. It pays no income: its exits are
credited by the guarantee rule of :mod:`povsim.attribution`.
"""

from __future__ import annotations

import numpy as np

from povsim.programs.base import PROGRAMME_READS, Programme, even_pace
from povsim.state import Declaration


class Housing(Programme):
    channel = "housing"
    declaration = Declaration(
        "housing",
        modifies=("housing_safe", "water_safe", "guarantee.channel", "guarantee.year"),
        reads=PROGRAMME_READS,
        doc="makes houses and water safe",
    )

    def step(self, model, budget, income=None):
        if not self.enabled:
            return
        hh, y = model.households, model.year
        eligible = np.flatnonzero(self.supported() & ~(hh.housing_safe & hh.water_safe))
        # households grouped by their county's deadline; each group fixes its even share of what is
        # left, all of it from the deadline on
        weight = hh.weight[eligible].astype(np.float64)
        deadlines, group = np.unique(self.deadline()[hh.county[eligible]], return_inverse=True)
        need = np.bincount(group, weight, deadlines.size)
        pace = np.array([even_pace(y, int(d)) for d in deadlines])
        capacity = np.where(pace >= 1.0, np.inf, need * pace)
        idx = self.cap(eligible, self.poorest_first(eligible), weight, capacity, group=group)
        cost = ~hh.housing_safe[idx] * float(self.param("renovation_cost")) + ~hh.water_safe[idx] * float(
            self.param("water_cost")
        )
        funds = self.entitlement_funds(idx, cost)
        chosen = self.select(idx, self.poorest_first(idx), cost, funds, by_county=False)
        self.record_places(eligible, idx, chosen)
        pos = np.searchsorted(idx, chosen)
        hh.housing_safe[chosen] = True
        hh.water_safe[chosen] = True
        self.fixed_guarantee(chosen)
        self.record(chosen, cost=cost[pos])

    def deadline(self) -> np.ndarray:
        """Per county, the year by which its registered households' houses and water are fixed:
        a poor county's planned exit year (its households cannot exit, nor it, before), else
        ``housing.target_year``; with ``housing.follows_exit_plan`` off, the target year everywhere."""
        target = int(self.param("target_year"))
        plan = self.model.governance.plan_year.astype(np.int64)
        if not self.param("follows_exit_plan"):
            return np.full(plan.size, target)
        return np.where(plan > 0, np.minimum(plan, target), target)
