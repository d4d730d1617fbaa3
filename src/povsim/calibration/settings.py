"""How much work a calibration does: seeds per point, starting points, iterations, draws.

Kept apart from :mod:`povsim.calibration.fit` (which imports SciPy's optimiser) so that the
command line can quote these numbers in its help without loading it.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECK_REPS = 10
"""Seeds the calibrated point is checked with (those of ``povsim batch --reps 10``)."""


@dataclass(frozen=True)
class Settings:
    """How much work a calibration does."""

    mode: str
    seeds: int
    """Common-random-number seeds per parameter point."""
    lhs: int
    """Latin-hypercube points evaluated to choose the start (0: start from the documented values)."""
    max_nfev: int
    """Least-squares iterations (residual evaluations)."""
    draws: int
    """Posterior parameter draws, each run with its own seed."""
    refine: bool = False
    """Start from the calibration in the parameter file (its values of the fitted parameters)
    instead of the documented values and a hypercube: a second pass with more seeds."""


QUICK = Settings("quick", seeds=2, lhs=0, max_nfev=5, draws=20)
FULL = Settings("full", seeds=8, lhs=96, max_nfev=25, draws=100)
REFINE = Settings("refine", seeds=16, lhs=0, max_nfev=12, draws=100, refine=True)
"""A full calibration's optimum is found with 8 seeds per point, and a count target (county exits,
whose seed-to-seed spread is ~8 counties) can be fitted to those seeds' noise; ``--refine``
re-fits from it with 16 other seeds."""


__all__ = ["CHECK_REPS", "FULL", "QUICK", "REFINE", "Settings"]
