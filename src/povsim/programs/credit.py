"""Credit (扶贫小额信贷): interest-free microcredit without collateral, up to 50,000 yuan for up to
three years ([cheng-2017] app. 1, Mayang case), lent to 8.55M households by mid-2017 ([progress-2017] §1). The
state pays the interest and a risk fund covers part of defaults. A loan reaching its term is
renewed or extended (无还本续贷, 贷款展期: [three-year-2018] §5(2)) with ``credit.renewal_prob`` while the
household is supported; otherwise it is repaid. The investment earns a return while the loan runs,
and its assets keep producing after repayment, their income declining at
``credit.asset_depreciation`` a year (a default loses them). The registered first, then exited
households under post-exit support; those lacking capital first. Pool-funded."""

from __future__ import annotations

import numpy as np

from povsim.programs.base import PROGRAMME_READS, Programme, active, depreciated
from povsim.state import Declaration


class Credit(Programme):
    channel = "credit"
    declaration = Declaration(
        "credit",
        owns=("credit.loan_until", "credit.borrowed"),
        reads=(*PROGRAMME_READS, "cause_capital", "workers"),
        doc="microcredit loans and their repayment",
    )

    def __init__(self, model):
        super().__init__(model)
        n = model.households.n
        # last year of the loan's term (0: never borrowed, or defaulted)
        self.loan_until = self.own_state("loan_until", np.zeros(n, np.int16))
        # year the household first borrowed (0: never)
        self.borrowed = self.own_state("borrowed", np.zeros(n, np.int16))

    def step(self, model, budget, income=None):
        hh, y = model.households, model.year
        loan = float(self.param("loan"))
        interest = loan * self.param("interest_rate")
        # a loan whose term ended last year is renewed for another term, or repaid
        due = (self.loan_until == y - 1) & (self.loan_until > 0) & self.supported()
        renew = due & (self.uniform("renewal") < self.param("renewal_prob"))
        self.loan_until[renew] = y + self.param("term_years") - 1
        # running loans (renewed ones included) may default this year
        running = active(self.loan_until, y)
        defaulted = np.flatnonzero(running & (self.uniform("default") < self.param("default_prob")))
        self.loan_until[defaulted] = 0
        self.record(defaulted, cost=loan * self.param("risk_fund_share"))
        loans = np.flatnonzero(active(self.loan_until, y))

        if self.enabled:
            self.record_funds(budget)
            committed = np.bincount(hh.county[loans], interest * hh.weight[loans], budget.size)
            eligible = np.flatnonzero(self.supported() & (hh.workers > 0) & (self.borrowed == 0))
            priority = self.registered_first(eligible, hh.income_pc_of(eligible) - 1e6 * hh.cause_capital[eligible])
            capacity = model.params.at(y)["programs.credit.borrowers"]
            admitted, admitted_priority = self.admit(eligible, priority, hh.weight[eligible], capacity)
            chosen = self.select(admitted, admitted_priority, np.full(admitted.size, interest), budget - committed)
            self.record_places(eligible, admitted, chosen)
            self.borrowed[chosen] = y
            self.loan_until[chosen] = y + self.param("term_years") - 1

        loans = np.flatnonzero(active(self.loan_until, y))
        ret = loan * self.param("return_rate")
        self.record(loans, gain=ret, transfer=ret, cost=interest)
        # repaid loans: the assets they financed keep producing, with declining income
        repaid = np.flatnonzero((self.loan_until > 0) & (self.loan_until < y))
        kept = depreciated(ret, self.param("asset_depreciation"), y - self.loan_until[repaid])
        self.record(repaid, gain=kept, transfer=kept)
