"""The social-security floor (兜底): 低保 and 特困 support for households without labour.

Registered (and exited, 摘帽不摘政策) households with no worker whose income per person is
below the rural 低保 standard receive the difference (补差). The standard rises to the poverty
line by 2020 (两线合一, 002 lines 466, 484). An entitlement funded at ``budget.scale`` of need,
poorest first. Runs after the other incomes are known (means-tested).
"""

from __future__ import annotations

import numpy as np

from povsim.programs.base import Programme


class Floor(Programme):
    channel = "floor"
    means_tested = True

    def standard(self, year: int) -> float:
        """The 低保 standard, yuan per person per year."""
        ratio = {int(y): float(v) for y, v in self.param("standard_ratio").items()}
        years = sorted(ratio)
        share = float(np.interp(year, years, [ratio[y] for y in years]))
        return share * self.model.poverty_line

    def step(self, model, budget, income=None):
        if not self.enabled:
            return
        hh = model.households
        standard = self.standard(model.year)
        income_pc = income / hh.size
        idx = np.flatnonzero(self.supported() & (hh.workers == 0) & (income_pc < standard))
        top_up = (standard - income_pc[idx]) * self.members(idx)
        funds = self.entitlement_funds(idx, top_up)
        chosen = self.select(idx, income_pc[idx], top_up, funds, by_county=False)
        pos = np.searchsorted(idx, chosen)
        self.record(chosen, gain=top_up[pos], transfer=top_up[pos], cost=top_up[pos])
