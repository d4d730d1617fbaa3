"""Run parameter points over common-random-number seeds and reduce each run to named outcomes.

Calibration, forecasting and sensitivity analysis all ask the same question many times: *what
does the model give for these parameter values?* :class:`Evaluator` answers it for a list of
points (dicts of parameter overrides) × a list of seeds, in parallel processes, and returns one
row per (point, seed) with the outcomes of :func:`outcomes`. Every point is run with the same
seeds, so differences between points are parameter effects, not noise (common random numbers).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import pandas as pd

from povsim.measures import OUTCOMES
from povsim.model import PovertyModel
from povsim.parameters import REGIONS
from povsim.scenario import Scenario

FIRST_FLOW_YEAR = 2015
RELAPSE_FROM = 2016
"""Relapse is summed from 2016 (the first year in which an exited household can fall back)."""

COHORT_YEARS = (2015, 2016, 2017)
"""Exit cohorts whose three-year sustainability is known by 2020: cost per sustained exit uses them."""


NATIONAL_MEASURES = OUTCOMES
"""Measures :func:`outcomes` reports nationally for every year: stocks, the registry's flows and
the flows of the survey-definition headcount (``fell_into_poverty_people``,
``escaped_poverty_people``: poor(t) − poor(t−1) = fell in − escaped)."""


def outcomes(results: pd.DataFrame) -> dict[str, float]:
    """Named scalar outcomes of one run, from its tidy results table.

    Keys: ``<measure>_<year>`` for each of :data:`NATIONAL_MEASURES` and every reported year (flows
    from the first simulated year); ``poor_people_<region>_<year>``; ``exits_people_<channel>_<year>``
    (registry exits credited to each channel); ``relapse_people_2016_<last>`` (relapse summed from
    2016 to the last year); ``spending_yuan_2015_<last>``; and, when the 2015–2017 cohorts have been
    followed for three years, ``cost_per_sustained_exit_yuan`` (their spending over their sustained
    exits).
    """
    national_rows = results[results["region"] == "national"]
    exits = national_rows[(national_rows["measure"] == "exits_people") & (national_rows["channel"] != "all")]
    allc = results[results["channel"] == "all"]
    table = allc.pivot_table(index="year", columns=["measure", "region"], values="value", aggfunc="first")
    out: dict[str, float] = {}
    years = [int(y) for y in table.index]
    for year in years:
        row = table.loc[year]
        for measure in NATIONAL_MEASURES:
            if (measure, "national") in row.index and row[(measure, "national")] == row[(measure, "national")]:
                out[f"{measure}_{year}"] = float(row[(measure, "national")])
        for region in REGIONS:
            if ("poor_people", region) in row.index:
                out[f"poor_people_{region}_{year}"] = float(row[("poor_people", region)])
    for channel, year, value in exits[["channel", "year", "value"]].itertuples(index=False):
        out[f"exits_people_{channel}_{int(year)}"] = float(value)
    last = max(years)

    def national(measure: str) -> pd.Series:
        if (measure, "national") not in table.columns:
            return pd.Series(dtype=float)
        return table[(measure, "national")].dropna()

    relapse = national("relapse_people")
    out[f"relapse_people_{RELAPSE_FROM}_{last}"] = float(relapse[relapse.index >= RELAPSE_FROM].sum())
    spending = national("spending_yuan")
    out[f"spending_yuan_{FIRST_FLOW_YEAR}_{last}"] = float(spending[spending.index >= FIRST_FLOW_YEAR].sum())
    sustained = national("sustained_exits_people")
    if all(y in sustained.index for y in COHORT_YEARS):
        kept = float(sustained.loc[list(COHORT_YEARS)].sum())
        spent = float(spending.reindex(list(COHORT_YEARS)).sum())
        out["cost_per_sustained_exit_yuan"] = spent / kept if kept > 0 else float("nan")
    return out


def run_once(
    scenario: Scenario, overrides: Mapping[str, Any], seed: int, end_year: int, scale: float | None
) -> dict[str, float]:
    """Build and run one model to ``end_year`` and return its :func:`outcomes` (``scale``: the
    scale of the households outside the poor areas; None keeps the scenario's design)."""
    sc = scenario.with_settings(
        seed=seed, scale=None if scale is None else float(scale), end_year=end_year, origin="calibration"
    )
    if overrides:
        sc = sc.with_overrides(dict(overrides), origin="calibration")
    model = PovertyModel(sc)
    while model.running:
        model.step()
    out = outcomes(model.results())
    # A model and its agents reference each other, so only the cycle collector frees its arrays; it
    # runs by object counts, not bytes, and a worker running hundreds of models would otherwise hold
    # gigabytes of dead models.
    del model
    gc.collect()
    return out


_WORKER_SCENARIO: Scenario | None = None


def _init_worker(scenario: Scenario) -> None:
    global _WORKER_SCENARIO
    _WORKER_SCENARIO = scenario


Task = tuple[int, dict[str, Any], int, int, float]
"""(point index, overrides, seed, end year, scale)."""

MAX_POOL_RESTARTS = 3


def _task(args: Task) -> tuple[int, int, dict[str, float]]:
    index, overrides, seed, end_year, scale = args
    assert _WORKER_SCENARIO is not None
    return index, seed, run_once(_WORKER_SCENARIO, overrides, seed, end_year, scale)


def default_workers() -> int:
    """Worker processes to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Evaluator:
    """Evaluate parameter points over common-random-number seeds, in parallel.

    Args:
        scenario: the scenario whose parameters the points override (usually the baseline).
        seeds: the seeds every point is run with.
        end_year: last simulated year of each run.
        scale: real households per agent.
        workers: processes; 1 runs in this process.
        progress: show a progress bar on stderr.

    Use as a context manager so the worker processes are shut down.
    """

    def __init__(
        self,
        scenario: Scenario,
        seeds: Sequence[int],
        *,
        end_year: int,
        scale: float | None = None,
        workers: int | None = None,
        progress: bool = False,
    ):
        self.scenario = scenario
        self.seeds = [int(s) for s in seeds]
        self.end_year = int(end_year)
        self.scale = None if scale is None else float(scale)
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self.progress = progress
        self.runs = 0
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the worker processes down."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _pool_start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # fork: workers start in milliseconds and scripts need no ``if __name__ == "__main__"``
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context(method),
                initializer=_init_worker,
                initargs=(self.scenario,),
            )
        return self._pool

    def _results(self, tasks: list[Task], on_done: Callable[[], None] | None = None) -> list[tuple[int, int, dict]]:
        """Run ``tasks``; a worker that dies (e.g. killed by the kernel when memory runs out) costs
        only a restart of the pool: unfinished tasks are run again (runs are deterministic)."""
        done: dict[tuple[int, int], dict[str, float]] = {}
        if self.workers == 1 or len(tasks) == 1:
            for index, overrides, seed, end_year, scale in tasks:
                done[(index, seed)] = run_once(self.scenario, overrides, seed, end_year, scale)
                if on_done:
                    on_done()
        else:
            for attempt in range(MAX_POOL_RESTARTS + 1):
                todo = [t for t in tasks if (t[0], t[2]) not in done]
                chunk = max(1, len(todo) // (self.workers * 8))
                try:
                    for index, seed, out in self._pool_start().map(_task, todo, chunksize=chunk):
                        done[(index, seed)] = out
                        if on_done:
                            on_done()
                    break
                except BrokenProcessPool:
                    self._pool = None
                    if attempt == MAX_POOL_RESTARTS:
                        raise
                    print(
                        f"povsim: a worker process died; restarting the pool ({len(done)} runs kept)", file=sys.stderr
                    )
        return [(t[0], t[2], done[(t[0], t[2])]) for t in tasks]

    def _table(self, tasks: list[Task]) -> pd.DataFrame:
        """Run ``tasks`` (with a progress bar when asked) and return one row per task, sorted by
        point and seed."""
        bar = None
        if self.progress and tasks:
            from tqdm import tqdm

            bar = tqdm(total=len(tasks), unit="run", file=sys.stderr, leave=False)
        results = self._results(tasks, bar.update if bar is not None else None)
        if bar is not None:
            bar.close()
        self.runs += len(tasks)
        rows = [{"point": index, "seed": seed, **out} for index, seed, out in results]
        return pd.DataFrame(rows).sort_values(["point", "seed"], ignore_index=True)

    def evaluate(self, points: Sequence[Mapping[str, Any]], seeds: Sequence[int] | None = None) -> pd.DataFrame:
        """Outcomes of every point under every seed.

        Returns:
            One row per (point, seed): columns ``point`` (index into ``points``), ``seed`` and
            the outcome names of :func:`outcomes`.
        """
        seeds = self.seeds if seeds is None else [int(s) for s in seeds]
        return self._table([(i, dict(p), s, self.end_year, self.scale) for i, p in enumerate(points) for s in seeds])

    def evaluate_paired(self, points: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> pd.DataFrame:
        """Run point ``i`` with seed ``i`` only (parameter draws, each with its own noise).

        Returns:
            One row per point, as :meth:`evaluate`.
        """
        if len(points) != len(seeds):
            raise ValueError("one seed per point is needed")
        pairs = enumerate(zip(points, seeds, strict=True))
        return self._table([(i, dict(p), int(s), self.end_year, self.scale) for i, (p, s) in pairs])

    def mean(self, points: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """The mean over seeds of each point's outcomes: one row per point."""
        df = self.evaluate(points)
        return df.drop(columns="seed").groupby("point").mean().reindex(range(len(points)))


def interval(values: np.ndarray | pd.Series, level: float = 0.90) -> tuple[float, float]:
    """The central ``level`` interval of a sample (quantiles), e.g. the 5% and 95% points."""
    a = (1 - level) / 2
    q = np.nanquantile(np.asarray(values, float), [a, 1 - a])
    return float(q[0]), float(q[1])
