"""What the long commands cost: run counts and wall times, measured, in one place.

Help texts, the README and the docs quote these records (a test checks that they do), so a
number in prose is a measurement with its date and machine, never a recollection. A run count
the code fixes in advance (``calibrate --check``) is computed from the code's constants; the
others (a least-squares fit stops when it converges) are what the command reported in the
measurement (the ``runs`` of its ``calibration.json``). Re-measure after a change that moves
them and update the record here, in the README and in ``docs/calibration.md``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cost:
    """A command's measured cost."""

    command: str
    runs: int
    """Model runs the command made (its ``calibration.json`` ``runs``)."""
    seconds: float
    """Wall time of the measurement."""
    measured: str
    """When, on what, beside what: enough to repeat it."""

    def text(self) -> str:
        """``240 runs, 41 s`` or ``8,704 runs, 27 min``: the form help texts and docs quote."""
        return f"{self.runs:,} runs, {duration(self.seconds)}"


def duration(seconds: float) -> str:
    """Seconds under a minute and a half, else whole minutes."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _check_runs() -> int:
    """``calibrate --check``: the documented and the calibrated values on every check seed, and
    each posterior draw once."""
    from povsim.calibration.settings import CHECK_REPS, FULL

    return 2 * CHECK_REPS + FULL.draws


TWO_CORES = "the 2-core, 24 GiB development machine"

COSTS: dict[str, Cost] = {
    "calibrate": Cost(
        "povsim calibrate", 6272, 1906, f"2026-12-02, {TWO_CORES}, sampling design, quiet, beside a test job"
    ),
    "calibrate --refine": Cost(
        "povsim calibrate --refine", 840, 156, f"2026-12-02, {TWO_CORES}, sampling design, quiet"
    ),
    "calibrate --quick": Cost("povsim calibrate --quick", 240, 48, f"2026-12-02, {TWO_CORES}, quiet, numpy 2.4.6"),
    "backtest --quick": Cost(
        "povsim backtest --origin 2016 --quick",
        240,
        100,
        f"2026-12-02, {TWO_CORES}, sampling design, beside another job",
    ),
    "backtest --origin 2015": Cost(
        "povsim backtest --origin 2015",
        3464,
        2677,
        f"2026-12-02, {TWO_CORES}, sampling design, quiet, beside mutation testing (load ~10)",
    ),
    "backtest --origin 2016": Cost(
        "povsim backtest --origin 2016",
        4024,
        1790,
        f"2026-12-02, {TWO_CORES}, sampling design, quiet, beside mutation testing",
    ),
}
"""The measured costs, by command (as typed after ``povsim``)."""


def check_cost() -> Cost:
    """``calibrate --check``: its run count from the code, its time measured at the baseline's design."""
    return Cost(
        "povsim calibrate --check", _check_runs(), 39, f"2026-12-02, {TWO_CORES}, sampling design, beside a test job"
    )
