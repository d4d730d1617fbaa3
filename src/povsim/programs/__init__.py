"""Programmes (the five batches 五个一批 and the channels beside them) slot into the year here.

Each programme is one module with one interface (Starsim-style): eligibility → enrolment
within budget and capacity → effect on the household → duration → unit cost → per-year
results. :class:`Programme` is that interface; ``PovertyModel.programmes`` runs every
programme in order between the household choices and measurement.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from povsim.model import PovertyModel


class Programme(ABC):
    """One intervention channel (``channel`` is its name in the results)."""

    channel: str = ""

    @abstractmethod
    def eligible(self, model: PovertyModel) -> np.ndarray:
        """Households the programme may enrol this year (bool per household)."""

    @abstractmethod
    def enrol(self, model: PovertyModel, eligible: np.ndarray) -> np.ndarray:
        """Choose enrolees among ``eligible`` within budget and capacity (bool per household)."""

    @abstractmethod
    def apply(self, model: PovertyModel, enrolled: np.ndarray) -> dict[str, float]:
        """Apply the effect to enrolled households, in place; return this year's results
        (e.g. ``{"enrolled_people": ..., "spending": ...}``) in national units."""

    def step(self, model: PovertyModel) -> dict[str, float]:
        """Run the programme for one year."""
        return self.apply(model, self.enrol(model, self.eligible(model)))
