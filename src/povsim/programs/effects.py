"""Lasting effects on household income, each registered once with its channel.

A programme that changes a household's earning power for good — relocation's access to wage work
and the farm land it leaves, vocational training's wage gain — registers the change here as a
multiplier on one persistent income level (``farm``, ``local_earnings`` or ``remittance``), with its
channel and the year it starts. The register applies the multiplier to the household table in its
start year, and every year after credits the channel with what the multiplier adds to the
household's income at its current level: ``level × (1 − 1 / factor)``, counted on the income the
level makes (farm income, the earnings of the workers at home, the remittances of those away). The
household state and the exit attribution are both derived from the one record, so they cannot
drift apart. A loss (a factor below one) is credited as a negative gain.

Per household and effect the register keeps an int32 index (4 bytes); the factor, channel, level
and start year are shared by a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from povsim.programs.base import CHANNELS
from povsim.state import Declaration

EFFECTS = Declaration(
    "effects",
    reads=("farm", "local_earnings", "migrants", "remittance", "workers"),
    doc="credits each channel with what its lasting income effects add this year",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""

if TYPE_CHECKING:
    from povsim.households import Households
    from povsim.programs.base import ChannelLedger

LEVELS: tuple[str, ...] = ("farm", "local_earnings", "remittance")
"""The persistent income levels an effect may multiply."""


def _income_of(hh: Households, level: str, idx: np.ndarray) -> np.ndarray:
    """The yearly income ``level`` makes for households ``idx`` (persistent levels)."""
    if level == "farm":
        return hh.farm[idx].astype(np.float64)
    if level == "local_earnings":
        return (hh.workers[idx] - hh.migrants[idx]) * hh.local_earnings[idx].astype(np.float64)
    return hh.migrants[idx] * hh.remittance[idx].astype(np.float64)


@dataclass
class Effect:
    """One batch: households ``idx`` whose ``level`` is multiplied by ``factor`` from ``start`` on,
    credited to ``channel`` (an index of :data:`~povsim.programs.base.CHANNELS`)."""

    channel: int
    level: str
    factor: float
    start: int
    idx: np.ndarray
    start_deferred: bool = False
    """Registered before its start year (applied then by :meth:`IncomeEffects.start`)."""


class IncomeEffects:
    """The register of lasting income effects of one model run."""

    def __init__(self, hh: Households):
        self.hh = hh
        self.effects: list[Effect] = []

    def register(self, channel: str, level: str, idx: np.ndarray, factor: float, start: int, year: int) -> None:
        """Multiply ``level`` of households ``idx`` by ``factor`` from ``start`` on, for good, on behalf of
        ``channel``; applied now when ``start`` is this ``year`` (a later start is applied by
        :meth:`start` in that year, right after the channel's step).

        Raises:
            ValueError: an unknown level or channel, a factor that is not positive and finite, or a
                start before this year.
        """
        if level not in LEVELS:
            raise ValueError(f"income effect on {level!r}: levels are {', '.join(LEVELS)}")
        if not (np.isfinite(factor) and factor > 0):
            raise ValueError(f"income effect of {channel} on {level}: factor {factor!r} must be positive")
        if start < year:
            raise ValueError(f"income effect of {channel} on {level}: starts in {start}, before {year}")
        if idx.size == 0 or factor == 1.0:
            return
        effect = Effect(CHANNELS.index(channel), level, float(factor), int(start), idx.astype(np.int32), start > year)
        self.effects.append(effect)
        if start == year:
            self._apply(effect)

    def start(self, channel: str, year: int) -> None:
        """Apply ``channel``'s effects that start in ``year``; the model calls it right after the
        channel's step, where the channel's own rule would apply them (the order of multiplications,
        and so every float, is the same as if it did)."""
        c = CHANNELS.index(channel)
        for effect in self.effects:
            if effect.channel == c and effect.start == year and effect.start_deferred:
                self._apply(effect)

    def _apply(self, effect: Effect) -> None:
        column = getattr(self.hh, effect.level)
        column[effect.idx] *= effect.factor

    def credit(self, ledger: ChannelLedger, year: int) -> None:
        """Credit each channel, in ``ledger``, with what its effects in force in ``year`` add to its
        households' income this year; the households count as reached by the channel (its
        beneficiaries), as those whose assets still produce do."""
        for effect in self.effects:
            if effect.start <= year:
                gain = _income_of(self.hh, effect.level, effect.idx) * (1.0 - 1.0 / effect.factor)
                ledger.add_gain(effect.channel, effect.idx, gain.astype(np.float32))
                ledger.add_reached(effect.channel, effect.idx)
