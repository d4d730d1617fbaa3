"""Attributing exits to channels, and which exits last.

Rule. For a household that exits this year, let ``g_c`` be the income channel *c* produced
for it this year (the ledger's gain: negative where the channel cost it income, as relocation's
lost farm land can) and ``base`` its income without any of them. If ``base`` falls short of the
exit standard, the exit is split across the channels that raised its income, in proportion to
their ``g_c``: the Shapley value of the additive income-gain game, normalised to one exit, with a
channel that lowered the income credited none of it. If ``base`` alone
clears the standard, the income was the household's own; the exit then goes to the channel that
last made one of its 两不愁三保障 guarantees hold during this registration (safe housing or water,
insurance, schooling), and otherwise to ``own``.

A **sustained exit** is one not followed by relapse within three years; cohorts are judged
three years after their exit year.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.allocation import apportion
from povsim.programs.base import CHANNELS, OWN
from povsim.state import Declaration

ATTRIBUTION = Declaration(
    "attribution",
    owns=("attribution.exit_channel",),
    reads=("region", "registered_year", "size", "weight", "guarantee.channel", "guarantee.year"),
    doc="credits the year's exits to channels",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""

if TYPE_CHECKING:
    from povsim.model import PovertyModel

ATTRIBUTION_CHANNELS: tuple[str, ...] = (*CHANNELS, OWN)
SUSTAINED_YEARS = 3


BY_INCOME = -1
"""Cohort code of an exit split across channels by their income gains."""


class ExitAttribution:
    """Splits each year's exits across channels and follows cohorts for three years.

    A cohort is kept compactly, to be judged three years on: the exits (int32), a code per exit
    (the channel that takes the whole exit, incl. ``own``, or ``BY_INCOME``) and, for the exits
    split by income, their float32 gains by channel, from which :meth:`shares` rebuilds the
    same float64 shares.
    """

    def __init__(self, model: PovertyModel):
        self.model = model
        self.cohorts: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # the main channel of each household's last exit
        self.exit_channel = model.households.add_state(
            "attribution.exit_channel", np.full(model.households.n, -1, np.int8)
        )

    def shares(self, idx: np.ndarray, income: np.ndarray, threshold: float) -> np.ndarray:
        """Channel shares (household × channel incl. ``own``) of the exits of households ``idx``."""
        code, gain = self._code(idx, income, threshold)
        return self._shares(code, gain)

    def _code(self, idx: np.ndarray, income: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Per exit, the channel that takes the whole exit or ``BY_INCOME``; and the float32
        gains (channel × exit) of the exits split by income."""
        m, hh = self.model, self.model.households
        gain32 = m.ledger.gain_at(idx)
        net = gain32.T.astype(np.float64).sum(axis=1)
        raised = np.maximum(gain32, 0).T.astype(np.float64).sum(axis=1)
        by_income = (income[idx] - net < threshold) & (raised > 0)
        del net, raised
        fixer = m.guarantee_channel[idx]
        by_guarantee = ~by_income & (fixer >= 0) & (m.guarantee_year[idx] >= hh.registered_year[idx])
        code = np.full(idx.size, len(ATTRIBUTION_CHANNELS) - 1, np.int8)
        code[by_guarantee] = fixer[by_guarantee]
        code[by_income] = BY_INCOME
        return code, np.ascontiguousarray(gain32[:, by_income])

    @staticmethod
    def _shares(code: np.ndarray, gain32: np.ndarray) -> np.ndarray:
        """The shares of exits coded by :meth:`_code` (the split by income: each channel's float64
        gain, a loss counted as none, over their total)."""
        out = np.zeros((code.size, len(ATTRIBUTION_CHANNELS)))
        whole = np.flatnonzero(code != BY_INCOME)
        out[whole, code[whole]] = 1.0
        if gain32.shape[1]:
            gain = np.maximum(gain32.T.astype(np.float64), 0.0)
            total = gain.sum(axis=1)
            out[code == BY_INCOME, :-1] = gain / total[:, None]
        return out

    def record(self, exits: np.ndarray, income: np.ndarray, threshold: float) -> np.ndarray:
        """Attribute this year's exits; returns whole exit people by channel × region that sum
        exactly to each region's exits."""
        idx = np.flatnonzero(exits)
        code, gain = self._code(idx, income, threshold)
        shares = self._shares(code, gain)
        self.cohorts[self.model.year] = (idx.astype(np.int32), code, gain)
        self.exit_channel[idx] = np.argmax(shares, axis=1) if idx.size else 0
        return self._by_region(idx, shares)

    def sustained(self, year: int) -> tuple[int, np.ndarray] | None:
        """The cohort of ``year - 3``: its exit people by channel × region that did not relapse
        within three years, or None when there is no such cohort."""
        cohort_year = year - SUSTAINED_YEARS
        if cohort_year not in self.cohorts:
            return None
        idx, code, gain = self.cohorts.pop(cohort_year)
        shares = self._shares(code, gain)
        relapse = self.model.households.relapse_year[idx]
        kept = ~((relapse > cohort_year) & (relapse <= year))
        return cohort_year, self._by_region(idx[kept], shares[kept])

    def _by_region(self, idx: np.ndarray, shares: np.ndarray) -> np.ndarray:
        hh = self.model.households
        people = hh.people_weight_of(idx)
        region = hh.region[idx]
        out = np.zeros((len(ATTRIBUTION_CHANNELS), 3), np.int64)
        for r in range(3):
            m = region == r
            total = int(people[m].sum())
            out[:, r] = apportion(total, (shares[m] * people[m, None]).sum(axis=0))
        return out
