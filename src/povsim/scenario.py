"""Scenario files: the run settings and parameter overrides of one what-if.

A scenario is a TOML file in ``scenarios/``::

    name = "baseline"
    description = "..."
    extends = "baseline"           # optional: start from another scenario (a path relative to
                                   # this file, else a shipped one in scenarios/; .toml optional)

    [run]
    end_year = 2020                # last simulated year (2015–2025)
    scale = 5000                   # real households per household agent ...
    poor_area_scale = 500          # ... and in the poor areas (poor counties and villages), if finer
    seed = 20141231

    [params]                       # overrides of povsim/params/*.toml, by key path
    "economy.growth.farm" = 0.04
    [params.population.causes]
    illness = { east = 0.6 }       # a table replaces only the keys it gives
    [params.budget]
    "central_special_funds@2018" = 100e9   # a dated reform: this value from 2018 on (a series by
                                           # year only; earlier years keep theirs)

Bad input (unknown key, wrong type, value out of range, shares not summing to 1, a cycle in
``extends``, a missing or malformed file) raises :class:`PovsimInputError` naming the file
and the key path.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from povsim.errors import PovsimInputError
from povsim.io import read_text
from povsim.parameters import LAST_YEAR, ParameterSet

START_YEAR = 2014
"""The initial state: the registry of 2014 (建档立卡)."""
MAX_END_YEAR = LAST_YEAR

SCENARIO_DIR = Path("scenarios")
DEFAULT_SCENARIO = SCENARIO_DIR / "baseline.toml"
RESULTS_DIR = Path("results")
"""Where ``povsim run`` writes a scenario's folder without ``--out``: ``results/<name>/``."""
SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
"""What a scenario ``name`` may be: letters, digits, ``_`` and ``-`` (it becomes a folder name)."""


def check_name(name: str, origin: str, key: str = "name") -> str:
    """``name`` if it is a safe folder name (:data:`SAFE_NAME`), else a one-line error naming the key.

    Raises:
        PovsimInputError: the name is empty, too long, or holds anything but letters, digits, ``_``, ``-``
            (a ``/``, ``..``, a space ...), so it could write outside ``results/``.
    """
    if not SAFE_NAME.fullmatch(name):
        raise PovsimInputError(
            f"{origin}: {key}: {name!r} is not a safe name: use 1–100 letters, digits, '_' or '-' "
            "(it names the output folder results/<name>/)"
        )
    return name


def sampling_text(scale: float, poor_area_scale: float) -> str:
    """``1:1000``, or ``1:100 in poor areas, 1:1000 elsewhere`` for a sampling design."""
    if poor_area_scale == scale:
        return f"1:{scale:g}"
    return f"1:{poor_area_scale:g} in poor areas, 1:{scale:g} elsewhere"


class RunSettings(BaseModel):
    """How one run is set up: the years, the sampling design and the seed.

    The sampling design: ``scale`` real households per household agent, and
    ``poor_area_scale`` per agent in the poor areas (the 832 poor counties and the poor villages
    of the other counties), whose incidence the county and village exit rules judge, or ``scale``
    where that is finer (so ``scale = 1`` is every household). The default, the baseline's design,
    is 1:500 in the poor areas and 1:5000 elsewhere (``docs/calibration.md``, Sampling design);
    ``poor_area_scale`` at or above ``scale`` samples every household alike."""

    model_config = ConfigDict(extra="forbid", strict=True)

    end_year: int = Field(2020, ge=START_YEAR + 1, le=MAX_END_YEAR)
    scale: float = Field(5000.0, ge=1.0, le=1e8)
    poor_area_scale: float = Field(500.0, ge=1.0, le=1e8)
    seed: int = Field(20141231, ge=0, le=2**63 - 1)
    sampling_correction: bool = True
    """Correct the county rules for agent sampling at coarse scales (:mod:`povsim.sampling`); a no-op at 1 : 1."""

    @property
    def poor_areas(self) -> float:
        """Real households per agent in the poor areas."""
        return min(self.poor_area_scale, self.scale)

    @property
    def sampling(self) -> str:
        """The design in words (:func:`sampling_text`)."""
        return sampling_text(self.scale, self.poor_areas)

    def design(self) -> dict[str, Any]:
        """The sampling design as a manifest records it."""
        return {
            "scale": self.scale,
            "poor_area_scale": self.poor_areas,
            "sampling": self.sampling,
            "sampling_correction": self.sampling_correction,
        }


RUN_KEYS = tuple(RunSettings.model_fields)
FLOAT_RUN_KEYS = ("scale", "poor_area_scale")
TOP_KEYS = ("name", "description", "extends", "run", "params")


class Scenario(BaseModel):
    """A resolved scenario: run settings, parameter overrides and the resolved parameters."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    description: str = ""
    path: str | None = None
    run: RunSettings = RunSettings()
    overrides: dict[str, Any] = {}
    params: ParameterSet = Field(default_factory=ParameterSet.defaults, exclude=True)

    def with_settings(
        self,
        *,
        seed: int | None = None,
        scale: float | None = None,
        end_year: int | None = None,
        poor_area_scale: float | None = None,
        origin: str = "argument",
    ) -> Scenario:
        """A copy with run settings replaced (each checked like a scenario file's)."""
        given = (("seed", seed), ("scale", scale), ("end_year", end_year), ("poor_area_scale", poor_area_scale))
        updates = {k: v for k, v in given if v is not None}
        if not updates:
            return self
        run = _run_settings({**self.run.model_dump(), **updates}, origin)
        return self.model_copy(update={"run": run})

    def with_overrides(self, overrides: Mapping[str, Any], origin: str = "--set") -> Scenario:
        """A copy with ``key.path=value`` overrides: ``run.*`` keys or parameter paths."""
        run_updates: dict[str, Any] = {}
        param_updates: dict[str, Any] = {}
        for key, value in overrides.items():
            if key.startswith("run."):
                sub = key[4:]
                if sub not in RUN_KEYS:
                    raise PovsimInputError(f"{origin}: unknown key {key!r}{_suggest(sub, RUN_KEYS, 'run.')}")
                run_updates[sub] = float(value) if sub in FLOAT_RUN_KEYS and isinstance(value, int) else value
            else:
                param_updates[key.removeprefix("params.")] = value
        run = _run_settings({**self.run.model_dump(), **run_updates}, origin) if run_updates else self.run
        params = self.params.with_overrides(param_updates, origin)
        return self.model_copy(update={"run": run, "params": params, "overrides": {**self.overrides, **param_updates}})


def output_folder(scenario: Scenario) -> Path:
    """The folder ``povsim run`` writes without ``--out``: ``results/<name>/``, for a safe name only.

    Raises:
        PovsimInputError: the name is not a safe folder name (a scenario file without ``name`` whose
            file name is not one).
    """
    return RESULTS_DIR / check_name(scenario.name, scenario.path or "scenario")


def _suggest(name: str, choices: Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return (
        f" (did you mean {prefix + close[0]!r}?)" if close else f" (allowed: {', '.join(prefix + c for c in choices)})"
    )


def _plain(value: Any) -> Any:
    """numpy scalars as the Python numbers they stand for (sweeps often build them)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _run_settings(data: Mapping[str, Any], origin: str) -> RunSettings:
    data = {k: _plain(v) for k, v in data.items()}
    for key in FLOAT_RUN_KEYS:
        if isinstance(data.get(key), int) and not isinstance(data.get(key), bool):
            data[key] = float(data[key])
    for key in data:
        if key not in RUN_KEYS:
            raise PovsimInputError(f"{origin}: unknown key 'run.{key}'{_suggest(key, RUN_KEYS, 'run.')}")
    try:
        return RunSettings(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise PovsimInputError(f"{origin}: run.{loc}: {err['msg']} (got {err.get('input')!r})") from None


def flatten_overrides(table: Mapping[str, Any], params: ParameterSet, origin: str, prefix: str = "") -> dict[str, Any]:
    """Turn a nested ``[params]`` table into ``{key.path: value}``.

    Nesting stops at a parameter path: a table given for a table-valued parameter is its
    (partial) value. A table is opened only where parameters lie under it (``[params.economy]``); any
    other key keeps its table as a value, so validation refuses it by name instead of an empty table
    (``"budget.central_special_funds.2016" = {}``) dropping out unseen.
    """
    out: dict[str, Any] = {}
    for name, value in table.items():
        path = f"{prefix}.{name}" if prefix else name
        if path in params or not isinstance(value, dict) or not params.has_group(path):
            out[path] = value
        else:
            out.update(flatten_overrides(value, params, origin, path))
    return out


def _extended(path: Path, extends: str, origin: str) -> Path:
    """The file a scenario's ``extends`` names: a path relative to the scenario file, else a shipped
    scenario (``scenarios/``); ``.toml`` may be left out, so ``extends = "baseline"`` works from a
    what-if written anywhere.

    Raises:
        PovsimInputError: neither place holds the file (both are named), or it is a folder.
    """
    names = [extends] if not extends or Path(extends).suffix == ".toml" else [extends, extends + ".toml"]
    places: list[Path] = []
    for name in names:
        places.append(path.parent / name)
        if not Path(name).is_absolute() and (SCENARIO_DIR / name).resolve() != places[-1].resolve():
            places.append(SCENARIO_DIR / name)
    for target in places:
        if extends and target.is_file():
            return target
    if extends and places[0].is_dir() and len(names) == 1:
        raise PovsimInputError(f"{origin}: extends: {extends!r} ({places[0]}): is a folder, not a scenario file")
    where = " or ".join(str(p) for p in places)
    raise PovsimInputError(f"{origin}: extends: {extends!r}: no such scenario file ({where})")


def load_scenario(path: str | Path, _stack: tuple[Path, ...] = ()) -> Scenario:
    """Read and validate a scenario file, following ``extends``.

    Raises:
        PovsimInputError: the file is missing or malformed, a key is unknown, a value is
            of the wrong type or out of range, or ``extends`` forms a cycle.
    """
    path = Path(path)
    origin = str(path)
    resolved = path.resolve()
    if resolved in _stack:
        chain = " -> ".join(str(p.name) for p in (*_stack, resolved))
        raise PovsimInputError(f"{origin}: extends: cycle {chain}")
    if path.is_dir():
        raise PovsimInputError(f"{origin}: is a folder, not a scenario file (give a .toml file in it)")
    if not path.is_file():
        raise PovsimInputError(f"scenario file not found: {origin}")
    text = read_text(path, "scenario file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PovsimInputError(f"{origin}: not valid TOML: {' '.join(str(exc).split())}") from None

    for key in data:
        if key not in TOP_KEYS:
            raise PovsimInputError(f"{origin}: unknown key {key!r}{_suggest(key, TOP_KEYS)}")
    for key in ("name", "description", "extends"):
        if key in data and not isinstance(data[key], str):
            raise PovsimInputError(f"{origin}: {key}: expected a string, got {data[key]!r}")
    for key in ("run", "params"):
        if key in data and not isinstance(data[key], dict):
            raise PovsimInputError(f"{origin}: {key}: expected a table, got {data[key]!r}")

    if "name" in data:
        check_name(data["name"], origin)
    if "extends" in data:
        target = _extended(path, data["extends"], origin)
        base = load_scenario(target, (*_stack, resolved))
    else:
        base = Scenario(name=path.stem)

    run = _run_settings({**base.run.model_dump(), **data.get("run", {})}, origin)
    overrides = flatten_overrides(data.get("params", {}), base.params, origin)
    params = base.params.with_overrides(overrides, origin)
    return Scenario(
        name=data.get("name", path.stem),
        description=data.get("description", base.description if "extends" in data else ""),
        path=origin,
        run=run,
        overrides={**base.overrides, **overrides},
        params=params,
    )


def parse_set(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``--set key.path=value`` arguments; values are read as TOML (``0.5``, ``true``,
    ``{east = 0.1}``), anything else as a string."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise PovsimInputError(f"--set {item!r}: expected key.path=value")
        try:
            parsed = tomllib.loads(f"v = {text.strip()}")
        except tomllib.TOMLDecodeError:
            parsed = {"v": text.strip()}
        if list(parsed) != ["v"]:
            raise PovsimInputError(f"--set {item!r}: expected key.path=value with one value, got more than one line")
        out[key] = parsed["v"]
    return out
