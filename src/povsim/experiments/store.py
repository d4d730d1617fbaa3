"""The results folder of an experiment: one file per run, a manifest, the assembled tables.

Layout of ``DIR``::

    manifest.json            the experiment's definition, seeds, run keys, status, versions
    runs/<key>.parquet       one finished run: its tidy results with scenario, swept values,
                             rep and seed columns (written atomically as the run finishes)
    runs/<key>.error.json    a run that raised: its error and traceback (retried on rerun)
    runs.parquet, runs.csv   every finished run, assembled from runs/ in experiment order
    summary.csv, *.png       written by ``povsim compare`` (and at the end of a batch)

A run file is complete or absent (``povsim.io.atomic_write``), so after Ctrl-C, a killed
worker or a killed batch the files present are exactly the runs that finished; rerunning the
same command skips them and completes the rest. The final tables are always rebuilt from the
run files, so no run can appear twice.

A run file is checked whenever it is read (it must be Parquet, hold the run's columns and
record its own key). One that fails — truncated, overwritten, unreadable — is moved aside to
``runs/<key>.parquet.corrupt`` and reported (:attr:`RunStore.set_aside`); the batch then runs it
again, and ``povsim compare`` summarises the others.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from povsim.errors import PovsimError, PovsimInputError, os_error
from povsim.experiments.spec import CORE_COLUMNS, Experiment, RunSpec
from povsim.io import atomic_write, write_csv, write_json

MANIFEST = "manifest.json"
RUNS_DIR = "runs"
RUNS_PARQUET = "runs.parquet"
RUNS_CSV = "runs.csv"
SUMMARY_CSV = "summary.csv"
FIGURES = ("trajectories.png", "exits_by_channel.png", "relapse.png", "frontier.png")
DERIVED = (RUNS_PARQUET, RUNS_CSV, SUMMARY_CSV, *FIGURES)
LOCK = ".povsim.lock"
CORRUPT_SUFFIX = ".corrupt"
"""Appended to a run file found unreadable when it is moved aside (it no longer counts as finished)."""
FORMAT_VERSION = 1
_META_KEY = b"povsim.run"


class CorruptRunError(PovsimInputError):
    """A run file that cannot be read or is not the run it claims to be (the message says why)."""


def write_parquet(df: pd.DataFrame, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write a DataFrame as Parquet, atomically, with optional JSON metadata in the schema."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata is not None:
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps(metadata, sort_keys=True, default=str).encode("utf-8")
        table = table.replace_schema_metadata(meta)

    def write(fh: Any) -> None:
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        fh.write(buf.getvalue())

    return atomic_write(path, write)


class RunStore:
    """The files of one experiment folder.

    Args:
        root: the folder (``--out``).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs_dir = self.root / RUNS_DIR
        self.set_aside: dict[str, str] = {}
        """Run files found corrupt and moved aside by this store: key → what was wrong, where it went."""

    # -- paths ------------------------------------------------------------------------
    def run_path(self, key: str) -> Path:
        """Where a finished run is stored."""
        return self.runs_dir / f"{key}.parquet"

    def error_path(self, key: str) -> Path:
        """Where a failed run's error is stored."""
        return self.runs_dir / f"{key}.error.json"

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    # -- reading ----------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, or None when the folder has none.

        Raises:
            PovsimInputError: the manifest exists but is not readable JSON.
        """
        if not self.manifest_path.is_file():
            return None
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PovsimInputError(f"{self.manifest_path}: not a readable manifest: {exc}") from None

    def finished_keys(self) -> set[str]:
        """Keys of the runs with a result file."""
        if not self.runs_dir.is_dir():
            return set()
        return {p.name[: -len(".parquet")] for p in self.runs_dir.glob("*.parquet") if not p.name.startswith(".")}

    def failed_keys(self) -> set[str]:
        """Keys of the runs with an error file (and no result file)."""
        if not self.runs_dir.is_dir():
            return set()
        errors = {p.name[: -len(".error.json")] for p in self.runs_dir.glob("*.error.json")}
        return errors - self.finished_keys()

    def read_error(self, key: str) -> dict[str, Any] | None:
        """A failed run's error record, or None."""
        try:
            return json.loads(self.error_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def read_run(self, key: str) -> pd.DataFrame:
        """One finished run's table, checked: Parquet, the run's columns, rows, and its own key.

        Raises:
            CorruptRunError: the file cannot be read or is not this run.
            PovsimEnvironmentError: the file may not be read (permission).
        """
        path = self.run_path(key)
        try:
            table = pq.read_table(path)
            frame = table.to_pandas()
            meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
        except PermissionError as exc:
            raise os_error(exc, path, "cannot read the run file") from None
        except Exception as exc:  # ArrowInvalid, OSError of a truncated file, bad JSON ...
            text = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise CorruptRunError(f"{path}: unreadable run file ({type(exc).__name__}: {text})") from None
        missing = [c for c in ("scenario", "rep", "seed", *CORE_COLUMNS) if c not in frame.columns]
        if missing:
            raise CorruptRunError(f"{path}: not a povsim run file (no column {', '.join(missing)})")
        if frame.empty:
            raise CorruptRunError(f"{path}: run file holds no rows")
        recorded = meta.get("spec", {}).get("key") if isinstance(meta, dict) else None
        if recorded != key:
            raise CorruptRunError(f"{path}: run file records key {recorded!r}, not {key!r}")
        return frame

    def read_run_metadata(self, key: str) -> dict[str, Any]:
        """What was recorded about a finished run (spec, wall time, host)."""
        meta = pq.read_schema(self.run_path(key)).metadata or {}
        return json.loads(meta.get(_META_KEY, b"{}"))

    def set_aside_run(self, key: str, problem: str) -> Path:
        """Move a corrupt run file to ``runs/<key>.parquet.corrupt`` (so it counts as not done), and note it."""
        path = self.run_path(key)
        aside = path.with_name(path.name + CORRUPT_SUFFIX)
        try:
            os.replace(path, aside)
        except OSError as exc:
            raise os_error(exc, path, "cannot move the corrupt run file aside") from None
        self.set_aside[key] = f"{problem}; moved aside to {aside.name}, to be run again"
        return aside

    def check_runs(self, keys: Sequence[str]) -> dict[str, str]:
        """Read every finished run among ``keys``; move the corrupt ones aside (:meth:`set_aside_run`).

        Returns:
            The runs moved aside by this call: key → what was wrong.
        """
        found: dict[str, str] = {}
        finished = self.finished_keys()
        for key in dict.fromkeys(keys):
            if key not in finished:
                continue
            try:
                self.read_run(key)
            except CorruptRunError as exc:
                self.set_aside_run(key, str(exc))
                found[key] = self.set_aside[key]
        return found

    def check_compatible(self, experiment: Experiment) -> None:
        """Refuse to mix experiments: the folder must be new, empty, or hold this experiment.

        Raises:
            PovsimInputError: the folder holds other files or a different experiment.
        """
        if not self.root.exists():
            return
        if not self.root.is_dir():
            raise PovsimInputError(f"--out {self.root}: exists and is not a folder")
        manifest = self.read_manifest()
        if manifest is None:
            if any(not p.name.startswith(".") for p in self.root.iterdir()):
                raise PovsimInputError(
                    f"--out {self.root}: folder exists and is not a povsim experiment (no {MANIFEST}); "
                    "choose another --out"
                )
            return
        old = manifest.get("experiment")
        if old is None:
            raise PovsimInputError(
                f"--out {self.root}: holds the output of another command (its {MANIFEST} describes no experiment); "
                "choose another --out"
            )
        new = json.loads(json.dumps(experiment.definition(), default=str))
        if old != new:
            raise PovsimInputError(
                f"--out {self.root}: holds a different experiment ({_first_difference(old, new)}); "
                "use another --out, or delete the folder to start over"
            )

    # -- writing ----------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one process: a second batch on the same folder is refused.

        The lock is an advisory ``flock`` on ``DIR/.povsim.lock``; the operating system
        releases it when the process ends, however it ends.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            yield
            return
        fh = open(self.root / LOCK, "a+")
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PovsimInputError(
                    f"--out {self.root}: another povsim batch is writing to this folder; wait for it or choose "
                    "another --out"
                ) from None
            yield
        finally:
            fh.close()

    def clean_strays(self) -> int:
        """Remove temporary files left by a batch that was killed mid-write; return how many."""
        removed = 0
        for folder in (self.root, self.runs_dir):
            if folder.is_dir():
                for p in folder.glob(".*.tmp"):
                    p.unlink(missing_ok=True)
                    removed += 1
        return removed

    def remove_derived(self) -> None:
        """Remove the assembled tables and figures (rebuilt when the batch ends)."""
        for name in DERIVED:
            (self.root / name).unlink(missing_ok=True)

    def write_run(self, spec: RunSpec, frame: pd.DataFrame, info: dict[str, Any]) -> Path:
        """Store a finished run atomically and drop any earlier error record of it."""
        path = write_parquet(frame, self.run_path(spec.key), {"spec": _spec_record(spec), **info})
        self.error_path(spec.key).unlink(missing_ok=True)
        return path

    def write_error(self, spec: RunSpec, error: dict[str, Any], info: dict[str, Any]) -> Path:
        """Record a failed run: its spec, the error and traceback, and how often it failed."""
        previous = self.read_error(spec.key) or {}
        record = {
            "key": spec.key,
            "run": _spec_record(spec),
            "error": error,
            "attempts": int(previous.get("attempts", 0)) + 1,
            **info,
        }
        return write_json(record, self.error_path(spec.key))

    def write_manifest(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest atomically."""
        return write_json(manifest, self.manifest_path)

    # -- assembling -------------------------------------------------------------------
    def assemble(self, keys: Sequence[str]) -> pd.DataFrame:
        """The finished runs among ``keys``, concatenated in the order of ``keys``.

        Each key appears at most once, so no run is ever duplicated; missing runs (still to
        do, or failed) are left out, and so are corrupt ones (moved aside, :attr:`set_aside`).
        """
        finished = self.finished_keys()
        frames = []
        for key in dict.fromkeys(keys):
            if key not in finished:
                continue
            try:
                frames.append(self.read_run(key))
            except CorruptRunError as exc:
                self.set_aside_run(key, str(exc))
        if not frames:
            return pd.DataFrame(columns=["scenario", "rep", "seed", *CORE_COLUMNS])
        return pd.concat(frames, ignore_index=True)

    def write_tables(self, runs: pd.DataFrame) -> list[Path]:
        """Write ``runs.parquet`` and ``runs.csv`` atomically."""
        return [write_parquet(runs, self.root / RUNS_PARQUET), write_csv(runs, self.root / RUNS_CSV)]

    def load_runs(self) -> pd.DataFrame:
        """The runs table: ``runs.parquet``, or assembled from ``runs/`` (and written) when absent.

        An unreadable ``runs.parquet`` is rebuilt from ``runs/``; corrupt run files are moved aside
        (:attr:`set_aside`) and the others assembled.

        Raises:
            PovsimInputError: the folder holds no (readable) runs.
        """
        if (self.root / RUNS_PARQUET).is_file():
            try:
                runs = pd.read_parquet(self.root / RUNS_PARQUET)
                if {"scenario", "rep", *CORE_COLUMNS} <= set(runs.columns):
                    return runs
            except PermissionError as exc:
                raise os_error(exc, self.root / RUNS_PARQUET, "cannot read") from None
            except Exception:  # unreadable: rebuilt from the run files below
                pass
        if not self.root.is_dir():
            raise PovsimInputError(f"{self.root}: no such folder")
        finished = self.finished_keys()
        if not finished:
            raise PovsimInputError(
                f"{self.root}: no runs found (expected {RUNS_PARQUET} or {RUNS_DIR}/*.parquet from povsim batch or "
                "povsim sweep)"
            )
        manifest = self.read_manifest() or {}
        keys = [k for k in manifest.get("runs", {}).get("keys", []) if k in finished]
        keys += sorted(finished - set(keys)) if not keys else []
        with self.lock():
            runs = self.assemble(keys)
            if runs.empty:
                self.remove_derived()
                raise PovsimInputError(
                    f"{self.root}: no readable runs ({len(self.set_aside)} corrupt run file(s) moved aside; "
                    "rerun the batch to run them again)"
                )
            try:
                self.write_tables(runs)
            except PovsimError:
                self.remove_derived()  # never a runs.parquet without its runs.csv, or a stale one
                raise
        return runs


def _spec_record(spec: RunSpec) -> dict[str, Any]:
    return {
        "key": spec.key,
        "scenario": spec.scenario,
        "scenario_file": spec.scenario_file,
        "overrides": dict(spec.overrides),
        "point": {k: v for k, v in spec.point},
        "rep": spec.rep,
        "seed": spec.seed,
        "scale": spec.scale,
        "poor_area_scale": spec.poor_area_scale,
        "end_year": spec.end_year,
    }


def _first_difference(old: Any, new: Any, path: str = "") -> str:
    """A short description of where two experiment definitions first differ."""
    if path == "scenarios" and isinstance(old, list) and isinstance(new, list):
        names_old = [s.get("name") for s in old if isinstance(s, dict)]
        names_new = [s.get("name") for s in new if isinstance(s, dict)]
        if names_old != names_new:
            return f"scenarios: {', '.join(map(str, names_old))} then, {', '.join(map(str, names_new))} now"
        for a, b in zip(old, new, strict=True):
            if a != b:
                return _first_difference(a, b, f"scenario {a.get('name')}")
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
    if path.endswith(".params_digest"):
        where = path.removesuffix(".params_digest")
        return f"{where}: its parameters differ (the scenario file or a parameter default changed)"
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
    return f"{path or 'definition'}: {_short(old)} then, {_short(new)} now"


def _short(value: Any) -> str:
    if value is None:
        return "none"
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
