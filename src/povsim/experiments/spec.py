"""The experiment table: scenarios × parameter grid × replications, each row one run.

An experiment is defined by its scenario files, the ``--set`` overrides applied to every
scenario, a grid of swept parameter values (``--param key.path=v1,v2,...``; the grid is every
combination), the number of replications and a base seed. Every row of the table — one run —
is a :class:`RunSpec`: small, picklable, and enough for any worker process to rebuild the
scenario from its file and run it.

Common random numbers: replication ``r`` uses the same seed in every scenario and at every
grid point (:func:`rep_seed`), and the model draws each mechanism's shocks from its own named
stream (``povsim.streams``), so a household meets the same illness, disaster and job-loss
draws under every policy. A difference between two scenarios in the same replication is then
policy, not sampling noise.

Everything is validated when the experiment is built — every scenario at every grid point —
so a bad value stops the command before any run starts or any file is written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from povsim.errors import PovsimInputError
from povsim.parameters import ParameterSet, split_dated
from povsim.scenario import RUN_KEYS, Scenario, load_scenario, parse_set

CORE_COLUMNS = ["year", "region", "measure", "channel", "value"]
"""The columns of one run's ``results()`` table."""

DEFAULT_REPS = 10
"""Replications per scenario and grid point when ``--reps`` is not given."""


def rep_seed(base_seed: int, rep: int) -> int:
    """The seed of replication ``rep``: derived from the base seed and ``rep`` only.

    Replication 0 uses the base seed itself, so it reproduces ``povsim run`` with that seed;
    replication ``r > 0`` uses a 32-bit seed drawn from ``SeedSequence([base_seed, r])``.
    The seed does not depend on the scenario or the grid point: that is what makes the
    random numbers common across them.
    """
    if rep == 0:
        return int(base_seed)
    return int(np.random.SeedSequence([int(base_seed), int(rep)]).generate_state(1, dtype=np.uint32)[0])


def params_digest(params: ParameterSet) -> str:
    """A short fingerprint of every resolved parameter value (to detect a changed scenario)."""
    text = json.dumps(params.values(), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ScenarioRef:
    """One scenario argument, validated.

    Attributes:
        name: the scenario's ``name`` (the ``scenario`` column of the results).
        file: the scenario file, as an absolute path (what workers read).
        given: the path as typed on the command line.
        scale: real households per agent for this scenario's runs.
        end_year: last simulated year for this scenario's runs.
        digest: fingerprint of the resolved parameters after ``--set``, before the grid.
        poor_area_scale: real households per agent in the poor areas.
    """

    name: str
    file: str
    given: str
    scale: float
    end_year: int
    digest: str
    poor_area_scale: float


@dataclass(frozen=True)
class RunSpec:
    """One run of the experiment table: what a worker needs, and nothing heavier.

    Attributes:
        key: the run's identity and file name stem in ``DIR/runs/``.
        index: position in the experiment table (the order of the final tables).
        scenario: scenario name.
        scenario_file: absolute path of the scenario file, read again by the worker.
        overrides: parameter overrides applied on top of the file (``--set``, then the grid
            point), by key path.
        point: the swept values of this run, ``(key.path, value)`` pairs in grid order —
            one column each in the results.
        rep: replication number, 0-based.
        seed: the run's seed (:func:`rep_seed`).
        scale: real households per household agent.
        end_year: last simulated year.
        params_digest: fingerprint of the resolved parameters, checked by the worker.
        poor_area_scale: real households per agent in the poor areas.
    """

    key: str
    index: int
    scenario: str
    scenario_file: str
    overrides: Mapping[str, Any] = field(hash=False)
    point: tuple[tuple[str, Any], ...]
    rep: int
    seed: int
    scale: float
    end_year: int
    params_digest: str
    poor_area_scale: float

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run (the key is a hash of it)."""
        return run_identity(
            self.scenario, self.point, self.rep, self.seed, self.scale, self.end_year, self.poor_area_scale
        )

    def label(self) -> str:
        """A short human-readable name: scenario, swept values and replication."""
        point = " ".join(f"{k}={format_value(v)}" for k, v in self.point)
        return f"{self.scenario}{' ' + point if point else ''} rep {self.rep}"


@dataclass
class Experiment:
    """The table of runs and how it was defined.

    Attributes:
        kind: ``"batch"`` or ``"sweep"`` (the command that defined it).
        scenarios: the scenarios, in the order given.
        grid: swept key path → values, in the order given (empty for a batch).
        sets: ``--set`` overrides applied to every scenario.
        reps: replications per scenario and grid point.
        base_seed: the seed replication 0 uses; other replications derive from it.
        runs: every run, scenario-major, then grid point, then replication.
    """

    kind: str
    scenarios: list[ScenarioRef]
    grid: dict[str, list[Any]]
    sets: dict[str, Any]
    reps: int
    base_seed: int
    runs: list[RunSpec]

    @property
    def param_columns(self) -> list[str]:
        """The swept key paths: one column each in the results."""
        return list(self.grid)

    @property
    def seeds(self) -> list[int]:
        """The seed of each replication."""
        return [rep_seed(self.base_seed, r) for r in range(self.reps)]

    def definition(self) -> dict[str, Any]:
        """What a results folder must agree on to be resumed (JSON-able).

        The number of replications is not part of it: a rerun with more ``--reps`` adds
        runs, one with fewer uses the first ones. The executor and worker count are not part
        of it either: they do not change the results.
        """
        return {
            "kind": self.kind,
            "set": {k: _jsonable(v) for k, v in self.sets.items()},
            "grid": {k: [_jsonable(v) for v in vs] for k, vs in self.grid.items()},
            "base_seed": self.base_seed,
            "scenarios": [
                {
                    "name": s.name,
                    "scale": s.scale,
                    "poor_area_scale": s.poor_area_scale,
                    "end_year": s.end_year,
                    "params_digest": s.digest,
                }
                for s in self.scenarios
            ],
        }


def format_value(value: Any) -> str:
    """A compact text form of a swept value for labels and file names."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


_SLUG = re.compile(r"[^A-Za-z0-9._=+-]+")


def run_identity(
    scenario: str,
    point: Sequence[tuple[str, Any]],
    rep: int,
    seed: int,
    scale: float,
    end_year: int,
    poor_area_scale: float,
) -> dict[str, Any]:
    """What makes two runs the same run. A uniform design (``poor_area_scale == scale``) leaves
    the poor-area scale out, so its keys are those of the runs before the design existed."""
    ident: dict[str, Any] = {
        "scenario": scenario,
        "point": [[k, v] for k, v in point],
        "rep": rep,
        "seed": seed,
        "scale": scale,
        "end_year": end_year,
    }
    if poor_area_scale != scale:
        ident["poor_area_scale"] = poor_area_scale
    return ident


def run_key(ident: Mapping[str, Any]) -> str:
    """The run's file-name-safe key for its :func:`run_identity`: readable prefix plus a hash of
    every field.

    The same scenario name, swept values, replication, seed, sampling design and end year give
    the same key in every invocation; that is how a rerun finds the runs already finished.
    """
    scenario, point, rep = ident["scenario"], ident["point"], ident["rep"]
    digest = hashlib.sha256(_canonical(ident).encode("utf-8")).hexdigest()[:10]
    text = "_".join([scenario, *(f"{k}={format_value(v)}" for k, v in point)])
    slug = _SLUG.sub("-", text).strip("-.")[:80] or "run"
    return f"{slug}_r{rep:04d}_{digest}"


# -- parsing --------------------------------------------------------------------------


def parse_param(item: str) -> tuple[str, list[Any]]:
    """Parse one ``--param key.path=v1,v2,...`` into the path and its values.

    Values are read as TOML, as ``--set`` values are (``0.5``, ``true``, ``"text"``,
    ``{east = 0.1}``, ``[1, 2]``); commas inside braces or brackets do not split.
    Unquoted text is taken as a string.

    Raises:
        PovsimInputError: no ``=``, no key, no value, an empty value or a repeated value.
    """
    key, sep, text = item.partition("=")
    key = key.strip()
    text = text.strip()
    if not sep or not key or not text:
        raise PovsimInputError(f"--param {item!r}: expected key.path=value1,value2,...")
    try:
        values = tomllib.loads(f"v = [{text}]")["v"]
    except tomllib.TOMLDecodeError:
        parts = [p.strip() for p in _split_top_level(text)]
        if any(not p for p in parts):
            raise PovsimInputError(f"--param {item!r}: empty value in the list") from None
        values = [parse_set([f"v={p}"])["v"] for p in parts]
    if not values:
        raise PovsimInputError(f"--param {item!r}: no values")
    seen: list[str] = []
    for v in values:
        c = _canonical(v)
        if c in seen:
            raise PovsimInputError(f"--param {key}: value {format_value(v)} is given twice")
        seen.append(c)
    return key, list(values)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside braces, brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _resolved_value(scenario: Scenario, path: str) -> Any:
    """The value a swept path takes in a resolved scenario, for the results column."""
    if path.startswith("run."):
        return getattr(scenario.run, path[4:])
    dated, year = split_dated(path.removeprefix("params."))
    if year is not None:  # a dated override: the value it sets from its year on
        return scenario.params[dated][str(year)]
    ppath, key = scenario.params.resolve_path(dated)
    value = scenario.params[ppath]
    return value[key] if key is not None else value


def _column_value(resolved: Any, given: Any) -> Any:
    """A scalar column value: the resolved value (so ``1`` for a float parameter reads
    ``1.0``), or compact JSON text of the given value for tables and lists."""
    if isinstance(resolved, bool | int | float | str):
        return resolved
    return _canonical(given)


# -- building -------------------------------------------------------------------------


def build_experiment(
    scenario_files: Sequence[str | Path],
    *,
    params: Iterable[str] = (),
    sets: Iterable[str] = (),
    reps: int = DEFAULT_REPS,
    seed: int | None = None,
    scale: float | None = None,
    end_year: int | None = None,
    kind: str | None = None,
) -> Experiment:
    """Build and validate the experiment table.

    Args:
        scenario_files: scenario files (``scenarios/*.toml``), at least one.
        params: ``key.path=v1,v2,...`` items; the grid is every combination of their values.
        sets: ``key.path=value`` items applied to every scenario before the grid.
        reps: replications per scenario and grid point (at least 1).
        seed: base seed (default: the first scenario's ``run.seed``).
        scale: real households per agent for every run (default: each scenario's).
        end_year: last simulated year for every run (default: each scenario's).
        kind: ``"batch"`` or ``"sweep"`` (default: ``"sweep"`` when ``params`` are given).

    Returns:
        The experiment, with every scenario × grid point already checked.

    Raises:
        PovsimInputError: a missing or invalid scenario file, a duplicate scenario name,
            a bad ``--param`` or ``--set`` item (syntax, unknown key, wrong type, out of
            range), ``reps`` below 1, or a bad seed, scale or end year.
    """
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise PovsimInputError(f"--reps {reps}: the number of replications must be at least 1")
    if not scenario_files:
        raise PovsimInputError("no scenario file given")
    grid: dict[str, list[Any]] = {}
    for item in params:
        path, values = parse_param(item)
        if path in grid:
            raise PovsimInputError(f"--param {path} is given twice; list all its values in one --param")
        if path == "run.seed":
            raise PovsimInputError(
                "--param run.seed: seeds are set per replication; use --seed for the base seed and --reps"
            )
        if path.startswith("run.") and path[4:] not in RUN_KEYS:
            raise PovsimInputError(
                f"--param: unknown key {path!r} (allowed run keys: run.scale, run.poor_area_scale, run.end_year)"
            )
        grid[path] = values
    set_overrides = parse_set(sets)
    if "run.seed" in set_overrides:
        raise PovsimInputError("--set run.seed: use --seed to set the base seed of the replications")
    for path in set_overrides:
        if path in grid:
            raise PovsimInputError(f"{path} is both swept (--param) and fixed (--set); give it once")
    kind = kind or ("sweep" if grid else "batch")

    refs: list[ScenarioRef] = []
    bases: list[Scenario] = []
    for given in scenario_files:
        sc = load_scenario(given)
        sc = sc.with_settings(
            scale=float(scale) if scale is not None else None, end_year=end_year, origin="command line"
        )
        if set_overrides:
            sc = sc.with_overrides(set_overrides, origin="--set")
        file = str(Path(given).resolve())
        for ref in refs:
            if ref.file == file:
                raise PovsimInputError(f"scenario file {given} is given twice")
            if ref.name == sc.name:
                raise PovsimInputError(
                    f"scenarios {ref.given} and {given} are both named {sc.name!r}; give each a distinct name"
                )
        refs.append(
            ScenarioRef(
                sc.name,
                file,
                str(given),
                sc.run.scale,
                sc.run.end_year,
                params_digest(sc.params),
                sc.run.poor_areas,
            )
        )
        bases.append(sc)

    if seed is not None:
        base_seed = bases[0].with_settings(seed=seed, origin="--seed").run.seed
    else:
        base_seed = bases[0].run.seed
    seeds = [rep_seed(base_seed, r) for r in range(reps)]

    # Check each swept value alone first, so the message names the offending item.
    for path, values in grid.items():
        for sc in bases:
            resolved: dict[str, Any] = {}
            for v in values:
                one = sc.with_overrides({path: v}, origin=f"--param {path}={format_value(v)}")
                c = _canonical(_column_value(_resolved_value(one, path), v))
                if c in resolved:
                    raise PovsimInputError(f"--param {path}: values {resolved[c]} and {format_value(v)} are the same")
                resolved[c] = format_value(v)

    param_sets = {k: v for k, v in set_overrides.items() if not k.startswith("run.")}
    runs: list[RunSpec] = []
    paths = list(grid)
    for ref, base in zip(refs, bases, strict=True):
        for combo in itertools.product(*grid.values()):
            given_point = dict(zip(paths, combo, strict=True))
            sc = base.with_overrides(given_point, origin="--param") if given_point else base
            point = tuple((p, _column_value(_resolved_value(sc, p), given_point[p])) for p in paths)
            overrides = {**param_sets, **{p: v for p, v in given_point.items() if not p.startswith("run.")}}
            runs += point_runs(ref, sc, point, overrides, seeds, start=len(runs))
    return Experiment(kind, refs, grid, set_overrides, reps, base_seed, runs)


def point_runs(
    ref: ScenarioRef,
    scenario: Scenario,
    point: tuple[tuple[str, Any], ...],
    overrides: Mapping[str, Any],
    seeds: Sequence[int],
    start: int = 0,
) -> list[RunSpec]:
    """The replications of one scenario at one point of a design: a :class:`RunSpec` per seed,
    indexed from ``start``, keyed by its :func:`run_identity`. ``scenario`` is the resolved
    scenario at the point (its run settings and parameter digest go into each run),
    ``overrides`` what a worker applies to the scenario file to rebuild it."""
    run = scenario.run
    digest = params_digest(scenario.params)
    out = []
    for rep, seed in enumerate(seeds):
        ident = run_identity(ref.name, point, rep, seed, run.scale, run.end_year, run.poor_areas)
        out.append(
            RunSpec(
                key=run_key(ident),
                index=start + rep,
                scenario=ref.name,
                scenario_file=ref.file,
                overrides=dict(overrides),
                point=point,
                rep=rep,
                seed=seed,
                scale=run.scale,
                end_year=run.end_year,
                params_digest=digest,
                poor_area_scale=run.poor_areas,
            )
        )
    return out


def is_number(value: Any) -> bool:
    """True for an int or a finite float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))
