"""Parameters as data: every number the model uses, with its unit and source.

Parameters live in the TOML files of ``povsim/params/`` (one file per part of the model,
OpenFisca-style). A leaf table is one parameter::

    [growth.farm]
    value = 0.05
    unit = "1/yr, nominal"
    source = "assumption"
    range = [0.0, 0.08]      # the interval an assumed value is calibrated over
    bounds = [-0.5, 0.5]     # what a scenario may set

A parameter's path is the file name followed by the table path, e.g. ``economy.growth.farm``.
Values may be numbers, booleans, strings, lists of numbers, or tables keyed by region
(``{east = .., central = .., west = ..}``) or by year. A scenario is a set of overrides on
these defaults; the formulas never change for a what-if.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
import tomllib
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from povsim.errors import PovsimInputError, os_error

REGIONS: tuple[str, ...] = ("east", "central", "west")
"""NBS regions, in the order used for region codes 0, 1, 2."""

LAST_YEAR = 2025
"""The last year a run can simulate (``run.end_year`` is at most this): a dated override sets a
series by year from its year to this one."""

FIRST_DATED_YEAR = 2014
"""The earliest year of a dated override (``KEY@YEAR``): the first simulated year."""


def split_dated(path: str, where: str = "") -> tuple[str, int | None]:
    """Split a dated override key ``budget.central_special_funds@2018`` into the parameter path
    and the year it applies from; an undated key has year None.

    Raises:
        PovsimInputError: the text after ``@`` is not a year from :data:`FIRST_DATED_YEAR` to
            :data:`LAST_YEAR`.
    """
    head, at, year = path.partition("@")
    if not at:
        return path, None
    prefix = f"{where}: " if where else ""
    if not year.strip().isdigit() or not FIRST_DATED_YEAR <= int(year) <= LAST_YEAR:
        raise PovsimInputError(
            f"{prefix}{path}: a dated override is KEY@YEAR with YEAR from {FIRST_DATED_YEAR} to {LAST_YEAR}, "
            f"got {year!r}"
        )
    return head.strip(), int(year)


def is_series_by_year(value: Any) -> bool:
    """Whether a parameter value is a table keyed by year (``{"2016" = .., "2017" = ..}``)."""
    return isinstance(value, dict) and bool(value) and all(str(k).isdigit() for k in value)


class Parameter(BaseModel):
    """One parameter: its value and where the value came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    value: Any
    unit: str
    source: str
    range: tuple[float, float] | None = None
    bounds: tuple[float, float] | None = None
    sums_to_one: bool = False
    description: str | None = None
    extend: str | None = None
    """For a series by year: its value after the last year given — ``hold`` (the last value), ``zero``,
    or the path of a yearly growth rate the last value grows at (before the first year it is 0; in a gap,
    the earlier year's value holds): :meth:`ParameterSet.at`."""
    lever: tuple[float, float] | None = None
    """A policy lever: the interval a sensitivity analysis varies it over (its role is then ``lever``)."""

    @property
    def role(self) -> str:
        """``lever`` (a policy choice a scenario varies), ``uncertainty`` (an assumed value with a calibration
        ``range``) or ``constant`` (documented, or a modelling choice held fixed)."""
        if self.lever is not None:
            return "lever"
        return "uncertainty" if self.range is not None else "constant"


def _numbers(value: Any) -> list[float]:
    """The numbers inside a value (a scalar, list or table), for bounds checks."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list):
        return [float(v) for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
    if isinstance(value, dict):
        return [float(v) for v in value.values() if isinstance(v, int | float) and not isinstance(v, bool)]
    return []


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _coerce_scalar(default: Any, new: Any, where: str) -> Any:
    """Check that ``new`` has the type of ``default``; ints are accepted for floats, and numpy
    scalars for their Python kinds."""
    is_bool = isinstance(new, bool | np.bool_)
    if isinstance(default, bool):
        if is_bool:
            return bool(new)
    elif isinstance(default, int):
        if isinstance(new, numbers.Integral) and not is_bool:
            return int(new)
    elif isinstance(default, float):
        if isinstance(new, numbers.Real) and not is_bool:
            if not math.isfinite(float(new)):
                raise PovsimInputError(f"{where}: value {new!r} is not a finite number")
            return float(new)
    elif isinstance(default, str):
        if isinstance(new, str):
            return new
    else:  # pragma: no cover - parameter files hold only the types above
        return new
    raise PovsimInputError(f"{where}: expected {_type_name(default)}, got {new!r} ({_type_name(new)})")


EXTEND_RULES = ("hold", "zero")
"""The fixed rules of a series' ``extend`` (the alternative is the path of a growth rate)."""


def yearly_series(values: Mapping[str, float], year: int, growth_after: float | None) -> float:
    """A series given for documented years: the value of ``year``; 0 before the first year; in a gap,
    the earlier year's value; after the last, grown at ``growth_after`` a year (0: held), or 0 when
    ``growth_after`` is None."""
    series = {int(y): float(v) for y, v in values.items()}
    if year in series:
        return series[year]
    first, last = min(series), max(series)
    if year < first or (year > last and growth_after is None):
        return 0.0
    if year > last:
        return series[last] * (1.0 + growth_after) ** (year - last)
    earlier = max(y for y in series if y < year)  # a gap inside the series: hold the earlier value
    return series[earlier]


def extended(values: Mapping[str, float], rule: str, year: int, lookup: Callable[[str], Any]) -> float:
    """A series by year in ``year`` by its ``extend`` ``rule`` (:data:`EXTEND_RULES`, or the path of a growth
    rate, read with ``lookup``): :func:`yearly_series` with no growth after the last year (``zero``), a
    held value (``hold``) or the named rate."""
    growth = None if rule == "zero" else 0.0 if rule == "hold" else float(lookup(rule))
    return yearly_series(values, year, growth)


class ValuesInYear:
    """The parameters as they stand in one year (:meth:`ParameterSet.at`): a series by year gives its
    value in that year by its ``extend`` rule, every other parameter its value."""

    def __init__(self, params: ParameterSet, year: int):
        self.params, self.year = params, int(year)

    def __getitem__(self, path: str) -> Any:
        p = self.params.parameter(path)
        if not is_series_by_year(p.value):
            return p.value
        if p.extend is None:
            raise KeyError(f"parameter {path!r} is a series by year without an extend rule")
        return extended(p.value, p.extend, self.year, self.params.__getitem__)


class ParameterSet:
    """The resolved parameters of one run: defaults plus a scenario's overrides.

    Look values up by path: ``params["economy.growth.farm"]``; ``params.region(path)``
    gives a region table as an array ordered east, central, west.
    """

    def __init__(self, parameters: Mapping[str, Parameter]):
        self._parameters = dict(parameters)

    @classmethod
    def defaults(cls) -> ParameterSet:
        """The default parameters: those of ``povsim/params/`` with the calibrated values of
        ``povsim/calibration/calibrated.toml`` (written by ``povsim calibrate``) in place of the
        assumed ones, each with its calibration provenance as source."""
        return cls(copy.deepcopy(_load_calibrated()))

    @classmethod
    def priors(cls) -> ParameterSet:
        """The documented parameters of ``povsim/params/`` before calibration (the assumed values
        each uncertain parameter is calibrated from)."""
        return cls(copy.deepcopy(_load_defaults()))

    def __getitem__(self, path: str) -> Any:
        try:
            return self._parameters[path].value
        except KeyError:
            raise KeyError(f"no parameter {path!r}") from None

    def __contains__(self, path: object) -> bool:
        return path in self._parameters

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __len__(self) -> int:
        return len(self._parameters)

    def parameter(self, path: str) -> Parameter:
        """The full parameter record (value, unit, source, range) at ``path``."""
        try:
            return self._parameters[path]
        except KeyError:
            raise KeyError(f"no parameter {path!r}") from None

    def at(self, year: int) -> ValuesInYear:
        """The parameters in ``year``: ``params.at(2018)["programs.floor.standard"]`` is the floor standard
        of 2018, a series by year read by its declared ``extend`` rule (every caller reads a series the
        same way); other parameters read as ``params[path]``."""
        return ValuesInYear(self, year)

    def with_role(self, role: str) -> list[str]:
        """The paths of the parameters of ``role`` (``lever``, ``uncertainty``, ``constant``), in file order."""
        return [p.path for p in self._parameters.values() if p.role == role]

    def region(self, path: str) -> np.ndarray:
        """A region-keyed parameter as a float array ordered east, central, west."""
        value = self[path]
        return np.array([float(value[r]) for r in REGIONS])

    def values(self) -> dict[str, Any]:
        """All values by path, for manifests."""
        return {path: copy.deepcopy(p.value) for path, p in self._parameters.items()}

    def paths(self) -> list[str]:
        """Every settable path: parameters and the keys of table-valued parameters."""
        out = []
        for path, p in self._parameters.items():
            out.append(path)
            if isinstance(p.value, dict):
                out.extend(f"{path}.{k}" for k in p.value)
        return out

    def has_group(self, prefix: str) -> bool:
        """Whether parameters lie under ``prefix`` (``economy``, ``economy.growth``): a table of the
        parameter files, not a parameter."""
        return any(path.startswith(prefix + ".") for path in self._parameters)

    def resolve_path(self, path: str) -> tuple[str, str | None]:
        """Split a key path into (parameter path, key inside a table value or None).

        Raises:
            PovsimInputError: the path names no parameter; the message suggests the nearest.
        """
        if path in self._parameters:
            return path, None
        head, _, key = path.rpartition(".")
        if head in self._parameters and isinstance(self._parameters[head].value, dict):
            if key in self._parameters[head].value:
                return head, key
            allowed = ", ".join(self._parameters[head].value)
            raise PovsimInputError(f"unknown key {path!r}: {head} has keys {allowed}")
        raise PovsimInputError(f"unknown key {path!r}{self._suggest(path)}")

    def _suggest(self, path: str) -> str:
        close = difflib.get_close_matches(path, self.paths(), n=1, cutoff=0.5)
        return f" (did you mean {close[0]!r}?)" if close else " (see `povsim params` for the list)"

    def with_overrides(self, overrides: Mapping[str, Any], origin: str) -> ParameterSet:
        """A copy with ``overrides`` applied, each checked for key, type, bounds and sums.

        Args:
            overrides: key path → new value. A path may name a parameter or one key of a
                table-valued parameter (``population.causes.illness.east``); a table value
                replaces only the keys it gives.
            origin: where the overrides come from (a file name or ``--set``), for messages.

        Raises:
            PovsimInputError: naming ``origin``, the key path and what is allowed.
        """
        params = dict(self._parameters)
        # undated overrides first, then the dated ones year by year, so that a later year wins from its year on
        dated = {path: split_dated(path, origin) for path in overrides}
        order = sorted(overrides, key=lambda path: (dated[path][1] is not None, dated[path][1] or 0))
        for path in order:
            new = overrides[path]
            ppath, year = dated[path]
            if year is not None:
                params[ppath] = self._dated(params, ppath, year, new, f"{origin}: {path}")
                continue
            try:
                ppath, key = self.resolve_path(path)
            except PovsimInputError as exc:
                raise PovsimInputError(f"{origin}: {exc}") from None
            p = params[ppath]
            where = f"{origin}: {path}"
            value = _validated_value(p, new, key, where)
            params[ppath] = p.model_copy(update={"value": value})
        out = ParameterSet(params)
        if overrides:
            check_consistency(out, origin, overrides)
        return out

    def series_paths(self) -> list[str]:
        """The parameters whose value is a series by year: those a dated override can change."""
        return [path for path, p in self._parameters.items() if is_series_by_year(p.value)]

    def _dated(self, params: Mapping[str, Parameter], path: str, year: int, new: Any, where: str) -> Parameter:
        """The parameter at ``path`` with its series by year set to ``new`` from ``year`` to
        :data:`LAST_YEAR` (the years before keep their values), as a reform "from 2018 on".

        Raises:
            PovsimInputError: ``path`` is not a series by year (the message lists those that are),
                or ``new`` is not a number of the series' type within its bounds.
        """
        if path not in params:
            raise PovsimInputError(f"{where}: unknown key {path!r}{self._suggest(path)}")
        p = params[path]
        if not is_series_by_year(p.value):
            raise PovsimInputError(
                f"{where}: {path} is not a series by year; a dated override KEY@YEAR applies to "
                f"{', '.join(self.series_paths())}"
            )
        if isinstance(new, dict | list):
            raise PovsimInputError(
                f"{where}: a dated override takes one value for every year from {year} on, got {new!r}"
            )
        earlier = {k: v for k, v in p.value.items() if int(k) < year}
        sample = next(iter(p.value.values()))
        value = _coerce_scalar(
            float(sample) if isinstance(sample, int) and isinstance(new, float) else sample, new, where
        )
        series = {**earlier, **{str(y): value for y in range(year, LAST_YEAR + 1)}}
        if p.bounds is not None and not p.bounds[0] <= float(value) <= p.bounds[1]:
            lo, hi = p.bounds
            raise PovsimInputError(f"{where}: value {value:g} is outside the allowed range [{lo:g}, {hi:g}] ({p.unit})")
        return p.model_copy(update={"value": series})


MAX_HOUSEHOLD_SIZE = 8
"""The largest household the population builds (``povsim.population.MAX_SIZE``)."""

CONSISTENCY: tuple[tuple[str, float, str, str], ...] = (
    (
        "population.registry_2014.households",
        1.0,
        "population.registry_2014.people",
        "registered households cannot outnumber registered people",
    ),
    (
        "population.registry_2014.people",
        MAX_HOUSEHOLD_SIZE,
        "population.registry_2014.households",
        f"a registered household has at most {MAX_HOUSEHOLD_SIZE} people",
    ),
    (
        "population.unregistered_poor_people",
        1.0,
        "population.survey_2014.poor_people",
        "the income-poor the registry missed are some of the survey's income-poor",
    ),
    (
        "population.survey_2014.poor_people",
        1.0,
        "population.rural_population",
        "the income-poor are some of the rural population",
    ),
    (
        "population.registry_2014.people",
        1.0,
        "population.rural_population",
        "the registered poor are some of the rural population",
    ),
    (
        "population.hazard_zone.people",
        1.0,
        "population.registry_2014.people",
        "the hazard-zone people to relocate are registered poor people",
    ),
)
"""Cross-field checks of the population inputs: the total of the first path may be at most the
factor times the total of the last (shares lie in [0, 1] by each parameter's ``bounds``)."""


def check_consistency(params: ParameterSet, origin: str, changed: Mapping[str, Any] | None = None) -> None:
    """Check the cross-field relations of :data:`CONSISTENCY` (households ≤ people, ...).

    Args:
        params: the parameters after overrides.
        origin: where the overrides came from (a file name or ``--set``), for the message.
        changed: the overridden key paths; the message names the first that takes part in the
            failed relation (default: the relation's first path).

    Raises:
        PovsimInputError: naming ``origin``, the key and the relation it breaks.
    """
    for small, factor, large, why in CONSISTENCY:
        if small not in params or large not in params:
            continue
        a, b = sum(_numbers(params[small])), sum(_numbers(params[large]))
        if a <= factor * b:
            continue
        key = next(
            (k for k in changed or () if any(k == p or k.startswith(p + ".") for p in (small, large))),
            small,
        )
        times = "" if factor == 1 else f"{factor:g} × "
        lhs = f"{a:,.10g}" if key == small else f"makes {small} = {a:,.10g}, which"
        raise PovsimInputError(f"{origin}: {key}: {lhs} is more than {times}{large} = {b:,.10g} ({why})")


def _validated_value(p: Parameter, new: Any, key: str | None, where: str) -> Any:
    default = p.value
    if key is not None:
        value = dict(default)
        value[key] = _coerce_scalar(default[key], new, where)
    elif isinstance(default, dict):
        if not isinstance(new, dict):
            raise PovsimInputError(f"{where}: expected a table with keys {', '.join(default)}, got {new!r}")
        unknown = [k for k in new if k not in default]
        if unknown:
            raise PovsimInputError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(default)}")
        value = dict(default)
        for k, v in new.items():
            value[k] = _coerce_scalar(default[k], v, f"{where}.{k}")
    elif isinstance(default, list):
        if not isinstance(new, list) or len(new) != len(default):
            raise PovsimInputError(f"{where}: expected a list of {len(default)} numbers, got {new!r}")
        value = [_coerce_scalar(d, v, f"{where}[{i}]") for i, (d, v) in enumerate(zip(default, new, strict=True))]
    else:
        value = _coerce_scalar(default, new, where)
    if p.bounds is not None:
        lo, hi = p.bounds
        for x in _numbers(value):
            if not lo <= x <= hi:
                raise PovsimInputError(f"{where}: value {x:g} is outside the allowed range [{lo:g}, {hi:g}] ({p.unit})")
    if p.sums_to_one:
        total = sum(_numbers(value))
        if abs(total - 1.0) > 1e-6:
            raise PovsimInputError(f"{where}: shares of {p.path} sum to {total:.6g}, they must sum to 1")
    return value


def _walk(table: dict[str, Any], prefix: str, out: dict[str, Parameter], origin: str) -> None:
    for name, item in table.items():
        path = f"{prefix}.{name}" if prefix else name
        if not isinstance(item, dict):
            raise ValueError(f"{origin}: {path} is not a parameter table")
        if "value" in item:
            try:
                out[path] = Parameter(path=path, **item)
            except ValidationError as exc:
                raise ValueError(f"{origin}: parameter {path} is malformed: {exc}") from exc
            _validated_value(out[path], item["value"], None, f"{origin}: {path}")
        else:
            _walk(item, path, out, origin)


@cache
def _load_defaults() -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    folder = resources.files("povsim") / "params"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        stem = entry.name[: -len(".toml")]
        with entry.open("rb") as fh:
            _walk(tomllib.load(fh), stem, out, f"params/{entry.name}")
    return out


CALIBRATED_FILE = "calibration/calibrated.toml"
"""Where ``povsim calibrate`` writes calibrated values, inside the ``povsim`` package."""


def calibrated_path() -> Any:
    """The calibrated-values file of the installed package (it may not exist)."""
    return resources.files("povsim") / CALIBRATED_FILE


def read_calibrated(path: Any | None = None) -> dict[str, Any]:
    """The calibrated-values file as a dict (``meta`` and ``parameters``), or {} when absent.

    Raises:
        PovsimInputError: the file is not valid TOML.
        PovsimEnvironmentError: the file may not be read.
    """
    path = calibrated_path() if path is None else path
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PovsimInputError(f"{path}: not valid TOML: {' '.join(str(exc).split())}") from None
    except OSError as exc:
        raise os_error(exc, str(path), "cannot read the calibration file") from None


def check_calibration_file(path: Any) -> dict[str, Any]:
    """Read a calibrated-values file and check every value before any model run.

    Each ``parameters.<path>.value`` must name a known parameter, have its type, lie within its
    ``bounds`` and, for a parameter with a calibration ``range``, within that range (a calibration
    never leaves it, and :func:`povsim.calibration.fit.calibrate` starts a refinement there).

    Returns:
        The file's contents (as :func:`read_calibrated`), {} when it does not exist.

    Raises:
        PovsimInputError: one line naming the file, the key and the allowed range or type.
    """
    data = read_calibrated(path)
    origin = str(path)
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise PovsimInputError(f"{origin}: parameters: expected a table of parameters, got {parameters!r}")
    defaults = _load_defaults()
    apply_calibration(defaults, data, origin)  # known path, a table with a value, type and bounds
    for key, item in parameters.items():
        p = defaults[key]
        if p.range is None:
            continue
        lo, hi = p.range
        for x in _numbers(item["value"]):
            if not (math.isfinite(x) and lo <= x <= hi):
                raise PovsimInputError(
                    f"{origin}: parameters.{key}.value: {x:g} is outside the calibration range [{lo:g}, {hi:g}] "
                    f"({p.unit})"
                )
    return data


def apply_calibration(params: dict[str, Parameter], data: Mapping[str, Any], origin: str) -> dict[str, Parameter]:
    """``params`` with each calibrated value of ``data`` in place, its source the calibration's.

    Raises:
        PovsimInputError: naming ``origin`` and the key, when a calibrated path is unknown or
            its value is of the wrong type or outside the parameter's bounds.
    """
    out = dict(params)
    meta = data.get("meta", {})
    for path, item in data.get("parameters", {}).items():
        if path not in out:
            raise PovsimInputError(
                f"{origin}: parameters.{path}: no such parameter (recalibrate with povsim calibrate)"
            )
        if not isinstance(item, dict) or "value" not in item:
            raise PovsimInputError(f"{origin}: parameters.{path}: expected a table with a value")
        p = out[path]
        value = _validated_value(p, item["value"], None, f"{origin}: parameters.{path}")
        source = (
            f"calibrated by povsim calibrate on {meta.get('targets', 'the 2014–2017 targets')}, "
            f"{meta.get('date', '?')}, povsim {meta.get('version', '?')}; "
            f"prior {p.value!r} ({p.source})"
        )
        out[path] = p.model_copy(update={"value": value, "source": source})
    return out


@cache
def _load_calibrated() -> dict[str, Parameter]:
    path = calibrated_path()
    return apply_calibration(_load_defaults(), read_calibrated(path), f"povsim/{CALIBRATED_FILE}")
