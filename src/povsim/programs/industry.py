"""Industry (产业扶贫): production support through cooperatives and lead firms for households
with labour, and asset income (资产收益) for households without: photovoltaic income (≥3,000
yuan a year for 2.8M households, [plan-13th-fyp] box 5(1)) and dividends on poverty funds pooled as equity
(8%, [cheng-2017] ch. 7 §10, app. 1, Shuyang case). A production project is supported for a few years and can fail while
it runs; its assets then keep producing, their income declining at ``industry.asset_depreciation``
a year, until a new project renews them. PV and equity income last. The registered first, then
exited households under post-exit support; poorest first. Pool-funded."""

from __future__ import annotations

import numpy as np

from povsim.programs.base import PROGRAMME_READS, Programme, active, depreciated
from povsim.state import Declaration


class Industry(Programme):
    channel = "industry"
    declaration = Declaration(
        "industry",
        owns=("industry.project_until", "industry.pv", "industry.equity"),
        reads=(*PROGRAMME_READS, "workers"),
        doc="projects, photovoltaic income and equity dividends",
    )

    def __init__(self, model):
        super().__init__(model)
        n = model.households.n
        self.project_until = self.own_state("project_until", np.zeros(n, np.int16))
        self.pv = self.own_state("pv", np.zeros(n, bool))
        # holds a dividend-paying equity share (of equity_per_household)
        self.equity = self.own_state("equity", np.zeros(n, bool))

    def pv_capacity(self, year: int) -> float:
        """PV households that may be covered by the end of ``year`` (the plan, evenly)."""
        span = self.param("pv_years")
        done = min(max(year - span["from"] + 1, 0), span["to"] - span["from"] + 1)
        return self.param("pv_households") * done / (span["to"] - span["from"] + 1)

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        # running projects may fail this year (their assets are lost); support ends with post-exit support
        running = active(self.project_until, y)
        failed = running & (self.uniform("failure") < self.param("failure_prob"))
        self.project_until[failed] = 0
        ending = running & ~failed & ~self.supported()
        self.project_until[ending] = y - 1

        if self.enabled:
            self.record_funds(budget)
            labour = hh.workers > 0
            has_asset = self.pv | self.equity
            idx = np.flatnonzero(
                self.supported() & ((labour & ~active(self.project_until, y)) | (~labour & ~has_asset))
            )
            priority = self.registered_first(idx, self.poorest_first(idx))
            pv_left = self.pv_capacity(y) - float((hh.weight * self.pv).sum())
            no_labour = hh.workers[idx] == 0
            pv_cand = idx[no_labour]
            pv_take = self.cap(pv_cand, priority[no_labour], hh.weight[pv_cand], pv_left)
            want_pv = np.isin(idx, pv_take)
            cost = np.where(
                no_labour,
                np.where(want_pv, self.param("pv_cost_per_household"), self.param("equity_per_household")),
                self.param("production_cost_per_household"),
            ).astype(np.float64)
            chosen = self.select(idx, priority, cost, budget)
            self.record_places(idx, idx, chosen)
            pos = np.searchsorted(idx, chosen)
            produce = chosen[~no_labour[pos]]
            pv_new = chosen[no_labour[pos] & want_pv[pos]]
            equity_new = chosen[no_labour[pos] & ~want_pv[pos]]
            self.project_until[produce] = y + self.param("production_years") - 1
            self.pv[pv_new] = True
            self.equity[equity_new] = True
            self.record(chosen, cost=cost[pos])

        # a project's income while it runs, and its assets' declining income after
        projects = np.flatnonzero(self.project_until > 0)
        after = np.maximum(y - self.project_until[projects], 0)
        gain = depreciated(
            self.param("production_gain_per_person") * self.members(projects), self.param("asset_depreciation"), after
        )
        self.record(projects, gain=gain, transfer=gain)
        assets = np.flatnonzero(self.pv | self.equity)
        equity = np.where(self.equity[assets], np.float64(self.param("equity_per_household")), 0.0)
        income_assets = self.pv[assets] * self.param("pv_income_per_household") + equity * self.param("dividend_rate")
        self.record(assets, gain=income_assets, transfer=income_assets)
