"""What a worker does with one run: rebuild the scenario, run the model, tag the results.

This module is imported by worker processes (process pool and Dask workers), so it stays
light: it imports the model only when a run starts. :func:`execute_run` never raises for a
failing model — the error comes back as data and is recorded beside the other runs.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from povsim.experiments.spec import CORE_COLUMNS, RunSpec, params_digest


def host() -> str:
    """This machine's name and process id, for the run records."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class RunOutcome:
    """What a worker sends back for one run.

    Attributes:
        key: the run's key.
        frame: the tagged results table, or None when the run failed.
        error: ``{"type", "message", "traceback"}`` when the run failed.
        wall_seconds: time spent in the worker.
        host: ``hostname:pid`` of the worker.
    """

    key: str
    frame: pd.DataFrame | None
    error: dict[str, str] | None = None
    wall_seconds: float = 0.0
    host: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failure(cls, spec: RunSpec, exc: BaseException, where: str = "") -> RunOutcome:
        """A failed outcome built from an exception."""
        return cls(spec.key, None, error_record(exc, where), host=host())


def error_record(exc: BaseException, where: str = "") -> dict[str, str]:
    """The type, message and traceback of an exception, as JSON-able text."""
    message = str(exc) or type(exc).__name__
    return {
        "type": type(exc).__name__,
        "message": f"{where}: {message}" if where else message,
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def simulate(spec: RunSpec) -> pd.DataFrame:
    """Run one spec and return its tagged results (raises if the model does).

    The columns are ``scenario``, one per swept parameter, ``rep``, ``seed``, then the
    model's ``year, region, measure, channel, value``.
    """
    from povsim.model import PovertyModel
    from povsim.scenario import load_scenario

    scenario = load_scenario(spec.scenario_file)
    if spec.overrides:
        scenario = scenario.with_overrides(dict(spec.overrides), origin=f"run {spec.key}")
    if params_digest(scenario.params) != spec.params_digest:
        raise RuntimeError(
            f"the parameters of scenario {spec.scenario!r} read on this worker from {spec.scenario_file} differ "
            "from those validated when the batch started (was the file edited, or does the worker see another "
            "copy?)"
        )
    model = PovertyModel(
        scenario, seed=spec.seed, scale=spec.scale, end_year=spec.end_year, poor_area_scale=spec.poor_area_scale
    )
    model.run_model()
    return tag_results(model.results(), spec)


def tag_results(results: pd.DataFrame, spec: RunSpec) -> pd.DataFrame:
    """Prefix a run's tidy results with its scenario, swept values, replication and seed."""
    out = results[CORE_COLUMNS].reset_index(drop=True)
    tags: dict[str, Any] = {"scenario": spec.scenario}
    tags.update({k: v for k, v in spec.point})
    tags.update({"rep": spec.rep, "seed": spec.seed})
    for i, (name, value) in enumerate(tags.items()):
        if name in {"rep", "seed"}:
            column = pd.Series(np.full(len(out), value, dtype=np.int64))
        else:
            column = pd.Series([value] * len(out))
        out.insert(i, name, column)
    return out


def execute_run(spec: RunSpec) -> RunOutcome:
    """A worker's whole job for one run: simulate it and report the result or the error.

    Exceptions from the model are caught and returned as data, so one failing run never
    stops the others. (``KeyboardInterrupt`` and other ``BaseException``\\ s do propagate.)
    """
    started = time.perf_counter()
    try:
        frame = simulate(spec)
    except Exception as exc:
        out = RunOutcome.failure(spec, exc)
        out.wall_seconds = time.perf_counter() - started
        return out
    return RunOutcome(spec.key, frame, None, time.perf_counter() - started, host())
