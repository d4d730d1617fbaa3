"""Run an experiment: each run in a worker, each result written as it finishes, resumable.

:func:`run_experiment` drives a whole experiment through an executor (serial, a local process
pool or Dask), skipping runs already stored in the folder, writing each new run atomically the
moment it arrives, and assembling ``runs.parquet`` and ``runs.csv`` from the run files at the
end.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd
from tqdm import tqdm

import povsim
from povsim.experiments.executors import ExecutorOptions, make_executor
from povsim.experiments.spec import Experiment, RunSpec
from povsim.experiments.store import FORMAT_VERSION, RunStore
from povsim.experiments.worker import RunOutcome, execute_run


@dataclass
class BatchReport:
    """What a call of :func:`run_experiment` did.

    Attributes:
        out_dir: the results folder.
        total: runs in the experiment.
        skipped: runs already finished before this call.
        finished: runs finished in this call.
        failed: keys of runs that failed in this call, with their error messages.
        wall_seconds: time of this call.
        runs: the assembled runs table (every finished run, in experiment order).
        paths: files written at the end (``runs.parquet``, ``runs.csv``, ``manifest.json``).
        set_aside: run files found corrupt, moved aside and run again: key → what was wrong.
    """

    out_dir: Path
    total: int
    skipped: int
    finished: int
    failed: dict[str, str]
    wall_seconds: float
    runs: pd.DataFrame
    paths: list[Path] = field(default_factory=list)
    set_aside: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every run of the experiment has a result."""
        return self.skipped + self.finished == self.total


def versions() -> dict[str, str]:
    """Versions of povsim and what it runs on."""
    out = {
        "povsim": povsim.__version__,
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }
    for name in ("pyarrow", "dask", "distributed"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", "?")
    return out


def run_experiment(
    experiment: Experiment,
    out_dir: str | Path,
    *,
    executor: str = "process",
    workers: int | None = None,
    address: str | None = None,
    progress: bool | None = None,
    command: list[str] | None = None,
    run_fn: Callable[[RunSpec], RunOutcome] = execute_run,
    on_result: Callable[[RunSpec, RunOutcome], None] | None = None,
) -> BatchReport:
    """Run every run of ``experiment`` not yet stored in ``out_dir``.

    Each run is written to ``out_dir/runs/<key>.parquet`` (or ``<key>.error.json``) as soon as
    it finishes; at the end ``runs.parquet`` and ``runs.csv`` are assembled from the run files
    in experiment order, so they are byte-identical whatever the executor and however many
    invocations it took. Calling it again with the same experiment resumes: finished runs are
    skipped, failed ones are retried.

    Args:
        experiment: the table of runs (:func:`~povsim.experiments.spec.build_experiment`).
        out_dir: the results folder; created if needed.
        executor: ``"serial"``, ``"process"`` (a local process pool) or ``"dask"``.
        workers: worker processes (process pool, or a Dask LocalCluster); default: the
            number of CPUs, at most the number of runs to do.
        address: a running Dask scheduler, e.g. ``tcp://10.0.0.5:8786`` (dask only); without
            it a LocalCluster is started and closed again.
        progress: show a progress bar on stderr (None: only on a terminal).
        command: the command line, for the manifest.
        run_fn: the worker function (tests replace it; it must be picklable for
            ``process`` and ``dask``).
        on_result: called in this process after each run is stored.

    Returns:
        A :class:`BatchReport`.

    Raises:
        PovsimInputError: bad executor options, or ``out_dir`` holds a different experiment
            or other files (nothing is written then).
        KeyboardInterrupt: after storing every run that had finished; rerun to resume.
    """
    started = time.perf_counter()
    options = ExecutorOptions.validate(executor, workers, address)
    store = RunStore(out_dir)
    store.check_compatible(experiment)
    keys = [r.key for r in experiment.runs]
    old_manifest = store.read_manifest() or {}

    runner = None
    failed: dict[str, str] = {}
    finished = 0
    manifest: dict[str, Any] = {}
    try:
        with store.lock():
            store.check_compatible(experiment)
            store.clean_strays()
            store.check_runs(keys)  # a corrupt run file is moved aside and run again
            done_before = store.finished_keys() & set(keys)
            todo = [r for r in experiment.runs if r.key not in done_before]
            runner = make_executor(options, n_runs=len(todo)) if todo else None
            manifest = {
                "format": FORMAT_VERSION,
                "command": command,
                "experiment": experiment.definition(),
                "scenarios": [
                    {
                        "name": s.name,
                        "file": s.file,
                        "given": s.given,
                        "scale": s.scale,
                        "poor_area_scale": s.poor_area_scale,
                        "end_year": s.end_year,
                    }
                    for s in experiment.scenarios
                ],
                "grid": experiment.grid,
                "set": experiment.sets,
                "reps": experiment.reps,
                "base_seed": experiment.base_seed,
                "seeds": experiment.seeds,
                "seed_rule": "rep 0 uses the base seed; rep r>0 uses SeedSequence([base_seed, r]) (32 bits); "
                "the same for every scenario and grid point (common random numbers)",
                "created": old_manifest.get("created") or _now(),
                "updated": _now(),
                "status": "running",
                "executor": options.describe(runner),
                "versions": versions(),
                "runs": {"total": len(keys), "keys": keys},
            }
            store.write_manifest(manifest)
            if todo or store.set_aside:
                store.remove_derived()
            bar = tqdm(
                total=len(keys),
                initial=len(done_before),
                desc=f"povsim {experiment.kind}",
                unit="run",
                disable=(not progress) if progress is not None else None,
                file=sys.stderr,
                dynamic_ncols=True,
            )

            def postfix() -> None:
                done = len(done_before) + finished
                bar.set_postfix_str(f"done {done}, failed {len(failed)}, remaining {len(keys) - done - len(failed)}")

            postfix()
            try:
                if runner is not None:
                    with runner:
                        for spec, outcome in runner.run(run_fn, todo):
                            info = {"wall_seconds": round(outcome.wall_seconds, 3), "host": outcome.host}
                            if outcome.ok and outcome.frame is not None:
                                store.write_run(spec, outcome.frame, info)
                                finished += 1
                            else:
                                error = outcome.error or {"type": "?", "message": "no result", "traceback": ""}
                                store.write_error(spec, error, info)
                                failed[spec.key] = error["message"]
                            bar.update(1)
                            postfix()
                            if on_result is not None:
                                on_result(spec, outcome)
                bar.close()
                runs = store.assemble(keys)
                paths = store.write_tables(runs)
                counts = _counts(store, keys)
                manifest["runs"].update(counts)
                manifest.update(
                    status="complete" if counts["finished"] == len(keys) else "incomplete",
                    updated=_now(),
                    wall_time_seconds=round(time.perf_counter() - started, 3),
                    this_invocation={"skipped": len(done_before), "finished": finished, "failed": len(failed)},
                )
                if store.set_aside:
                    manifest["set_aside"] = dict(store.set_aside)
                paths.append(store.write_manifest(manifest))
            except BaseException as exc:
                _record_end(store, manifest, keys, exc)
                raise
            finally:
                bar.close()
    finally:
        if runner is not None:
            runner.close()
    return BatchReport(
        out_dir=Path(out_dir),
        total=len(keys),
        skipped=len(done_before),
        finished=finished,
        failed=failed,
        wall_seconds=time.perf_counter() - started,
        runs=runs,
        paths=paths,
        set_aside=dict(store.set_aside),
    )


def _record_end(store: RunStore, manifest: dict[str, Any], keys: list[str], exc: BaseException) -> None:
    """After a batch stopped early: the manifest says ``interrupted`` (Ctrl-C) or ``failed`` (with the
    error), and no partial table is left beside the run files (``povsim compare`` rebuilds them).

    Best effort: on a full disk the manifest may not be writable either, and the original error is
    the one reported.
    """
    interrupted = isinstance(exc, KeyboardInterrupt)
    try:
        store.remove_derived()
        manifest.update(status="interrupted" if interrupted else "failed", updated=_now())
        if not interrupted:
            manifest["error"] = " ".join(str(exc).split()) or type(exc).__name__
        manifest["runs"].update(_counts(store, keys))
        store.write_manifest(manifest)
    except Exception:
        pass


def _counts(store: RunStore, keys: list[str]) -> dict[str, Any]:
    finished = store.finished_keys()
    errors = store.failed_keys()
    failed = [k for k in keys if k in errors and k not in finished]
    return {
        "finished": sum(k in finished for k in keys),
        "failed": [
            {"key": k, "error": (store.read_error(k) or {}).get("error", {}).get("message", "")} for k in failed
        ],
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
