"""Industry (产业扶贫): production support through cooperatives and lead firms for households
with labour, and asset income (资产收益) for households without: photovoltaic income (≥3,000
yuan a year for 2.8M households, 002 line 169) and dividends on poverty funds pooled as equity
(8%, 000 lines 1143, 1969). Production projects run for a few years and can fail.
Pool-funded, poorest first."""

from __future__ import annotations

import numpy as np

from povsim.programs.base import Programme, active

FOREVER = 9999


class Industry(Programme):
    channel = "industry"

    def __init__(self, model):
        super().__init__(model)
        n = model.households.n
        self.project_until = np.zeros(n, np.int16)
        self.pv = np.zeros(n, bool)
        self.equity = np.zeros(n, bool)  # holds a dividend-paying equity share (of equity_per_household)

    def pv_capacity(self, year: int) -> float:
        """PV households that may be covered by the end of ``year`` (the plan, evenly)."""
        span = self.param("pv_years")
        done = min(max(year - span["from"] + 1, 0), span["to"] - span["from"] + 1)
        return self.param("pv_households") * done / (span["to"] - span["from"] + 1)

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        # running projects may fail this year
        running = active(self.project_until, y)
        failed = running & (self.uniform("failure") < self.param("failure_prob"))
        self.project_until[failed | ~self.supported()] = 0  # support for projects ends with post-exit support

        if self.enabled:
            self.record_funds(budget)
            labour = hh.workers > 0
            has_asset = self.pv | self.equity
            idx = np.flatnonzero(
                self.registered() & ((labour & ~active(self.project_until, y)) | (~labour & ~has_asset))
            )
            pv_left = self.pv_capacity(y) - float((hh.weight * self.pv).sum())
            no_labour = hh.workers[idx] == 0
            pv_cand = idx[no_labour]
            pv_take = self.cap(pv_cand, self.poorest_first(pv_cand), hh.weight[pv_cand], pv_left)
            want_pv = np.isin(idx, pv_take)
            cost = np.where(
                no_labour,
                np.where(want_pv, self.param("pv_cost_per_household"), self.param("equity_per_household")),
                self.param("production_cost_per_household"),
            ).astype(np.float64)
            chosen = self.select(idx, self.poorest_first(idx), cost, budget)
            pos = np.searchsorted(idx, chosen)
            produce = chosen[~no_labour[pos]]
            pv_new = chosen[no_labour[pos] & want_pv[pos]]
            equity_new = chosen[no_labour[pos] & ~want_pv[pos]]
            self.project_until[produce] = y + self.param("production_years") - 1
            self.pv[pv_new] = True
            self.equity[equity_new] = True
            self.record(chosen, cost=cost[pos])

        projects = np.flatnonzero(active(self.project_until, y))
        gain = self.param("production_gain_per_person") * self.members(projects)
        self.record(projects, gain=gain, transfer=gain)
        assets = np.flatnonzero(self.pv | self.equity)
        equity = np.where(self.equity[assets], np.float64(self.param("equity_per_household")), 0.0)
        income_assets = self.pv[assets] * self.param("pv_income_per_household") + equity * self.param("dividend_rate")
        self.record(assets, gain=income_assets, transfer=income_assets)
