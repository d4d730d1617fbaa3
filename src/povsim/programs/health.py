"""Health (健康扶贫): insurance premiums paid, and basic insurance, critical-illness insurance
and medical assistance together reimbursing about 90% of hospital costs of the registered
poor, with out-of-pocket spending capped ([hubei-2018] §4(6)). An entitlement: funded at
``budget.scale`` of need, poorest first."""

from __future__ import annotations

import numpy as np

from povsim.programs.base import PROGRAMME_READS, Programme
from povsim.state import Declaration


class Health(Programme):
    channel = "health"
    declaration = Declaration(
        "health",
        modifies=("insured", "guarantee.channel", "guarantee.year"),
        reads=PROGRAMME_READS,
        doc="insures the registered poor and lowers their medical costs",
    )

    def step(self, model, budget, income=None):
        if not self.enabled:
            return
        hh = model.households
        idx = np.flatnonzero(self.supported())
        # with the programme: cost * (1 - reimbursement), at most the cap; the saving against
        # basic insurance alone, at least 0 (in place: the candidates are up to ~half of all)
        with_programme = model.shocks.medical_cost.at(idx)
        with_programme *= 1.0 - self.param("reimbursement")
        np.minimum(with_programme, self.param("out_of_pocket_cap"), out=with_programme)
        saving = model.out_of_pocket.at(idx)
        saving -= with_programme
        del with_programme
        np.maximum(saving, 0.0, out=saving)
        need = self.param("premium_subsidy_per_person") * self.members(idx)
        need += saving
        funds = self.entitlement_funds(idx, need)
        chosen = self.select(idx, self.poorest_first(idx), need, funds, by_county=False)
        self.record_places(idx, idx, chosen)
        pos = np.searchsorted(idx, chosen)
        self.fixed_guarantee(chosen[~hh.insured[chosen]])
        hh.insured[chosen] = True
        self.record(chosen, gain=saving[pos], transfer=saving[pos], cost=need[pos])
