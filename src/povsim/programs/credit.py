"""Credit (扶贫小额信贷): interest-free microcredit without collateral, up to 50,000 yuan for up to
three years (000 lines 1866–1874), lent to 8.55M households by mid-2017 (004 line 16). The
state pays the interest and a risk fund covers part of defaults; the borrower earns a return
on the investment while the loan runs. Households lacking capital first. Pool-funded."""

from __future__ import annotations

import numpy as np

from povsim.money import yearly_series
from povsim.programs.base import Programme, active


class Credit(Programme):
    channel = "credit"

    def __init__(self, model):
        super().__init__(model)
        n = model.households.n
        self.loan_until = np.zeros(n, np.int16)
        self.borrowed = np.zeros(n, bool)

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        loan = float(self.param("loan"))
        interest = loan * self.param("interest_rate")
        running = active(self.loan_until, y)
        defaulted = np.flatnonzero(running & (self.uniform("default") < self.param("default_prob")))
        self.loan_until[defaulted] = 0
        self.record(defaulted, cost=loan * self.param("risk_fund_share"))
        loans = np.flatnonzero(active(self.loan_until, y))

        if self.enabled:
            self.record_funds(budget)
            committed = np.bincount(hh.county[loans], interest * hh.weight[loans], budget.size)
            idx = np.flatnonzero(self.registered() & (hh.workers > 0) & ~self.borrowed)
            priority = hh.income_pc_of(idx) - 1e6 * hh.cause_capital[idx]
            capacity = yearly_series(self.param("borrowers"), y, 0.0)
            idx = self.cap(idx, priority, hh.weight[idx], capacity)
            priority = hh.income_pc_of(idx) - 1e6 * hh.cause_capital[idx]
            chosen = self.select(idx, priority, np.full(idx.size, interest), budget - committed)
            self.borrowed[chosen] = True
            self.loan_until[chosen] = y + self.param("term_years") - 1

        loans = np.flatnonzero(active(self.loan_until, y))
        ret = loan * self.param("return_rate")
        self.record(loans, gain=ret, transfer=ret, cost=interest)
