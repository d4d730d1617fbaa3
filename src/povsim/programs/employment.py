"""Employment (转移就业): labour transfer with training and East–West matching for workers with
schooling, and public-welfare posts and poverty-workshop jobs for the others. Relocated and
zero-employment households first, so that each has at least one worker employed ([three-year-2018] §3(3));
the registered before exited households under post-exit support. A post is held (renewed each year)
while the household is supported and has a worker at home to hold it, and ends with its support.
Pool-funded; running posts are paid before new enrolments."""

from __future__ import annotations

import numpy as np

from povsim.programs.base import PROGRAMME_READS, Programme, active
from povsim.state import Declaration


class Employment(Programme):
    channel = "employment"
    declaration = Declaration(
        "employment",
        owns=("employment.placed_until", "employment.post"),
        modifies=("migrants",),
        reads=(*PROGRAMME_READS, "local_earnings", "remittance", "skills", "workers", "relocation.year_moved"),
        doc="places migrants and gives public-welfare posts",
    )

    def __init__(self, model):
        super().__init__(model)
        n = model.households.n
        self.placed_until = self.own_state("placed_until", np.zeros(n, np.int16))
        self.post = self.own_state("post", np.zeros(n, bool))  # holds a public-welfare post

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        wage = self.param("post_wage")
        supported = self.supported()
        home = hh.workers - hh.migrants
        self.post &= supported & (home > 0)  # posts end with post-exit support, or with no one to hold them
        posts = np.flatnonzero(self.post)
        post_cost = np.bincount(hh.county[posts], wage * hh.weight[posts], budget.size)

        if self.enabled:
            self.record_funds(budget)
            idx = np.flatnonzero(supported & (home > 0) & ~active(self.placed_until, y) & ~self.post)
            relocated = model.relocation_recent()[idx]
            zero_employment = hh.migrants[idx] == 0
            priority = self.registered_first(idx, hh.income_pc_of(idx) - 1e6 * relocated - 1e5 * zero_employment)
            transfer = hh.skills[idx] >= 1
            cost = np.where(transfer, self.param("transfer_cost_per_worker"), wage).astype(np.float64)
            chosen = self.select(idx, priority, cost, budget - post_cost)
            self.record_places(idx, idx, chosen)
            by_transfer = chosen[hh.skills[chosen] >= 1]
            by_post = chosen[hh.skills[chosen] < 1]
            hh.migrants[by_transfer] += 1
            self.placed_until[by_transfer] = y + self.param("transfer_years") - 1
            self.post[by_post] = True
            self.record(by_transfer, cost=self.param("transfer_cost_per_worker"))

        posts = np.flatnonzero(self.post)
        self.record(posts, gain=wage, transfer=wage, cost=wage)
        # placed workers still away: what their remittance adds over the earnings they gave up at home
        # is the channel's gain (already in market income, where the worker no longer earns locally)
        placed = np.flatnonzero(active(self.placed_until, y) & (hh.migrants > 0))
        self.record(placed, gain=np.maximum(hh.remittance[placed] - hh.local_earnings[placed], 0.0))
