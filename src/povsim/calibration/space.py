"""Parameter spaces: the uncertain parameters (each with its calibration ``range``) and levers.

A point in a space is a dict ``{parameter path: value}`` usable as scenario overrides. Spaces
map the unit cube to values, so optimisers and samplers work on ``[0, 1]^d``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from povsim.errors import PovsimInputError
from povsim.parameters import ParameterSet


def levers(params: ParameterSet | None = None) -> dict[str, tuple[float, float]]:
    """The policy levers (parameters whose role is ``lever``, declared in the parameter files with the
    interval a sensitivity analysis varies each over), in file order."""
    params = ParameterSet.defaults() if params is None else params
    return {path: params.parameter(path).lever for path in params.with_role("lever")}


LEVERS: dict[str, tuple[float, float]] = levers()
"""The main policy levers for sensitivity analysis, with the interval each is varied over (the
parameters' ``lever`` interval: half to one and a half times the documented funds; the calibration
ranges of the others)."""


@dataclass(frozen=True)
class Dimension:
    """One varied parameter: its path, interval and whether its values are whole numbers."""

    path: str
    lo: float
    hi: float
    integer: bool = False

    def value(self, u: float) -> float | int:
        """The parameter value at position ``u`` in [0, 1] of the interval."""
        x = self.lo + float(np.clip(u, 0.0, 1.0)) * (self.hi - self.lo)
        return round(x) if self.integer else x

    def position(self, value: float) -> float:
        """Where ``value`` lies in the interval, as a number in [0, 1]."""
        return float(np.clip((float(value) - self.lo) / (self.hi - self.lo), 0.0, 1.0))


class Space:
    """An ordered set of dimensions mapping the unit cube to parameter overrides."""

    def __init__(self, dims: Sequence[Dimension]):
        if not dims:
            raise PovsimInputError("no parameters to vary")
        self.dims = list(dims)

    @property
    def paths(self) -> list[str]:
        """The parameter paths, in order."""
        return [d.path for d in self.dims]

    def __len__(self) -> int:
        return len(self.dims)

    def point(self, u: Sequence[float]) -> dict[str, Any]:
        """Overrides for a position ``u`` in the unit cube."""
        return {d.path: d.value(x) for d, x in zip(self.dims, u, strict=True)}

    def points(self, us: np.ndarray) -> list[dict[str, Any]]:
        """Overrides for each row of ``us``."""
        return [self.point(u) for u in np.atleast_2d(us)]

    def position(self, values: Mapping[str, float]) -> np.ndarray:
        """The unit-cube position of a point given as values by path."""
        return np.array([d.position(values[d.path]) for d in self.dims])

    def salib_problem(self) -> dict[str, Any]:
        """The SALib problem dictionary (names and bounds in parameter units)."""
        return {"num_vars": len(self.dims), "names": self.paths, "bounds": [[d.lo, d.hi] for d in self.dims]}

    @classmethod
    def from_paths(
        cls, params: ParameterSet, paths: Iterable[str], extra: Mapping[str, tuple[float, float]] | None = None
    ) -> Space:
        """Dimensions for ``paths``, each over its parameter's calibration ``range`` (or the interval
        given in ``extra``).

        Raises:
            PovsimInputError: a path names no parameter, or a parameter without a range.
        """
        extra = dict(extra or {})
        dims = []
        for path in paths:
            if path not in params:
                raise PovsimInputError(f"unknown parameter {path!r} (see `povsim params`)")
            p = params.parameter(path)
            if path in extra:
                lo, hi = extra[path]
            elif p.range is not None:
                lo, hi = p.range
            else:
                raise PovsimInputError(f"parameter {path!r} has no calibration range and no interval was given")
            if not isinstance(p.value, int | float) or isinstance(p.value, bool):
                raise PovsimInputError(f"parameter {path!r} is not a single number")
            dims.append(Dimension(path, float(lo), float(hi), integer=isinstance(p.value, int)))
        return cls(dims)


def uncertain_paths(params: ParameterSet) -> list[str]:
    """The uncertainties: every parameter whose role is ``uncertainty`` (an assumed value with a calibration
    range, not a policy lever), in file order."""
    return params.with_role("uncertainty")


def ranged_paths(params: ParameterSet) -> list[str]:
    """Every parameter with a calibration range, levers included, in file order."""
    return [p.path for p in params if p.range is not None]
