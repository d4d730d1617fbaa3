"""Experiments: ensembles, parameter sweeps and their comparison (``povsim batch``,
``povsim sweep``, ``povsim compare``).

An experiment is a table of runs — scenarios × a grid of swept parameter values ×
replications — with common random numbers: replication ``r`` uses the same seed in every
scenario and at every grid point. Runs execute serially, in a local process pool or on Dask;
each is stored atomically as it finishes, so an interrupted experiment resumes where it
stopped. From Python::

    from povsim.experiments import build_experiment, run_experiment, write_comparison

    exp = build_experiment(["scenarios/baseline.toml"], params=["economy.growth.farm=0.03,0.05"],
                           reps=8, scale=5000)
    report = run_experiment(exp, "results/farm_sweep", executor="process", workers=2)
    comparison = write_comparison("results/farm_sweep", report.runs)
    print(comparison.text())

The submodules: :mod:`~povsim.experiments.spec` (the table and its seeds),
:mod:`~povsim.experiments.worker` (one run), :mod:`~povsim.experiments.executors`,
:mod:`~povsim.experiments.store` (files and resume), :mod:`~povsim.experiments.runner`,
:mod:`~povsim.experiments.compare` and :mod:`~povsim.experiments.cli`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Experiment": "spec",
    "RunSpec": "spec",
    "build_experiment": "spec",
    "rep_seed": "spec",
    "RunOutcome": "worker",
    "execute_run": "worker",
    "BatchReport": "runner",
    "run_experiment": "runner",
    "RunStore": "store",
    "Comparison": "compare",
    "summarize": "compare",
    "write_comparison": "compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `povsim --help` and worker processes stay quick.
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"povsim.experiments.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'povsim.experiments' has no attribute {name!r}")
