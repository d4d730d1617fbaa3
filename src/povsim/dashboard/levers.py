"""The dashboard's levers and the run they drive.

A lever is a control on the page (a slider or a switch) that sets one or more model parameters;
:func:`overrides` is the one place that says which. Lever values are keyword arguments, so a set
of levers is a plain dict (``{"funds_scale": 0.8, "floor": False, ...}``) that
:class:`Simulation` turns into a :class:`~povsim.model.PovertyModel`:

=========================== ==================================================================
lever                       model parameter
=========================== ==================================================================
``funds_scale``             ``budget.scale`` (every programme's funds, × documented)
``share_<channel>``         ``budget.shares`` — one weight per pool channel (industry,
                            employment, ecology, education, credit), normalised to sum to 1
``post_exit_support_years`` ``governance.post_exit_support_years`` (摘帽不摘政策)
``floor``                   ``programs.floor.enabled`` (the 兜底 social-security floor)
``scale``                   the run's ``scale``: real households per household agent outside
                            the poor areas (the sampling design)
=========================== ==================================================================

Every lever's default is the baseline's value, so the dashboard at its defaults runs exactly
``povsim run`` (same scenario, seed and scale): the same numbers, year by year.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from povsim.errors import PovsimInputError
from povsim.model import PovertyModel, resolve_scenario
from povsim.scenario import Scenario

SHARE_PREFIX = "share_"
SCALE_CHOICES = (1000, 20000, 1000)
"""Households per agent outside the poor areas on the scale slider: min, max, step (the
baseline's 5,000; the poor areas keep the scenario's ``poor_area_scale``, or the slider's value
where that is finer)."""


@dataclass(frozen=True)
class Lever:
    """One control on the page.

    Attributes:
        name: keyword of the lever in a lever dict.
        label: what the page shows beside the control.
        kind: ``SliderFloat``, ``SliderInt`` or ``Checkbox`` (as in Mesa's ``UserInputs``).
        value: the default (the baseline's value).
        min, max, step: the slider's range (ignored for a checkbox).
    """

    name: str
    label: str
    kind: Literal["SliderFloat", "SliderInt", "Checkbox"]
    value: float | int | bool
    min: float = 0.0
    max: float = 1.0
    step: float = 1.0

    def show(self, value: Any) -> str:
        """The value as the page prints it beside the label."""
        if self.kind == "Checkbox":
            return "on" if value else "off"
        if self.kind == "SliderInt":
            return f"{int(value):,}"
        return f"{float(value):.2f}"


def levers(scenario: Scenario | str | Path | None = None) -> tuple[Lever, ...]:
    """The dashboard's levers, each defaulting to ``scenario``'s value (default: the baseline)."""
    sc = resolve_scenario(scenario)
    p = sc.params
    support = p.parameter("governance.post_exit_support_years")
    support_max = int(support.range[1]) if support.range else 10
    found = [
        Lever("funds_scale", "Programme funds, × documented", "SliderFloat", float(p["budget.scale"]), 0.0, 2.0, 0.05),
        *(
            Lever(f"{SHARE_PREFIX}{channel}", channel, "SliderFloat", float(share), 0.0, 1.0, 0.01)
            for channel, share in p["budget.shares"].items()
        ),
        Lever(
            "post_exit_support_years",
            "Post-exit support, years",
            "SliderInt",
            int(p["governance.post_exit_support_years"]),
            0,
            max(support_max, int(p["governance.post_exit_support_years"])),
            1,
        ),
        Lever("floor", "Social-security floor (dibao top-up)", "Checkbox", bool(p["programs.floor.enabled"])),
        Lever("scale", "Households per agent outside the poor areas", "SliderInt", int(sc.run.scale), *SCALE_CHOICES),
    ]
    return tuple(found)


def check_levers(values: Mapping[str, Any], scenario: Scenario | str | Path | None = None) -> dict[str, Any]:
    """Lever values checked on the server against the page's own controls, as plain Python values.

    A browser session can send anything, so every value is checked as the slider or switch would
    allow it: a slider takes a finite number within its range (an integer one a whole number), a
    switch ``True`` or ``False``. Missing levers take their defaults.

    Raises:
        PovsimInputError: an unknown lever, or a value of the wrong type or outside its range,
            naming the lever and what it allows.
    """
    known = {lever.name: lever for lever in levers(scenario)}
    unknown = sorted(k for k in values if k not in known)
    if unknown:
        raise PovsimInputError(f"unknown dashboard lever(s): {', '.join(unknown)} (known: {', '.join(known)})")
    out: dict[str, Any] = {}
    for name, lever in known.items():
        value = values.get(name, lever.value)
        where = f"dashboard lever {name} ({lever.label})"
        if lever.kind == "Checkbox":
            if not isinstance(value, bool | np.bool_):
                raise PovsimInputError(f"{where}: expected on or off (true/false), got {value!r}")
            out[name] = bool(value)
            continue
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise PovsimInputError(f"{where}: expected a number from {lever.min:g} to {lever.max:g}, got {value!r}")
        number = float(value)
        if not math.isfinite(number) or not lever.min <= number <= lever.max:
            raise PovsimInputError(f"{where}: {value!r} is outside {lever.min:g}–{lever.max:g}")
        if lever.kind == "SliderInt":
            if number != round(number):
                raise PovsimInputError(f"{where}: expected a whole number, got {value!r}")
            out[name] = round(number)
        else:
            out[name] = number
    return out


def default_levers(scenario: Scenario | str | Path | None = None) -> dict[str, Any]:
    """Every lever at its default: ``{name: value}``."""
    return {lever.name: lever.value for lever in levers(scenario)}


def pool_shares(values: Mapping[str, Any]) -> dict[str, float]:
    """The pool channel shares the ``share_<channel>`` weights give: each weight over their sum.

    Raises:
        PovsimInputError: every weight is zero (the pool would go nowhere).
    """
    weights = {k.removeprefix(SHARE_PREFIX): float(v) for k, v in values.items() if k.startswith(SHARE_PREFIX)}
    if any(w < 0 for w in weights.values()):
        raise PovsimInputError("pool weights must not be negative")
    total = sum(weights.values())
    if weights and total <= 0:
        raise PovsimInputError("every pool weight is zero: give at least one channel a positive weight")
    return {channel: w / total for channel, w in weights.items()}


def overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameter overrides (key path → value) a set of lever values stands for.

    Levers not in ``values`` keep the scenario's value. ``scale`` is a run setting, not a
    parameter, and is not among them (see :class:`Simulation`).
    """
    known = {"funds_scale", "post_exit_support_years", "floor", "scale"}
    unknown = [k for k in values if k not in known and not k.startswith(SHARE_PREFIX)]
    if unknown:
        raise PovsimInputError(f"unknown dashboard lever(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "funds_scale" in values:
        out["budget.scale"] = float(values["funds_scale"])
    shares = pool_shares(values)
    if shares:
        out["budget.shares"] = shares
    if "post_exit_support_years" in values:
        out["governance.post_exit_support_years"] = int(values["post_exit_support_years"])
    if "floor" in values:
        out["programs.floor.enabled"] = bool(values["floor"])
    return out


class Simulation:
    """One dashboard run: the model a set of levers gives, stepped a year at a time.

    Stepping and reading results take a lock, so a *Play* loop stepping the model and the page
    redrawing its plots never see a half-written year.

    Args:
        values: lever values (missing levers take their defaults).
        scenario: the scenario the levers are applied to (default: the baseline).

    Raises:
        PovsimInputError: a lever value the model refuses (the message says which).
    """

    def __init__(self, values: Mapping[str, Any] | None = None, scenario: Scenario | str | Path | None = None):
        sc = resolve_scenario(scenario)
        self.levers: dict[str, Any] = check_levers(values or {}, sc)
        scale = float(self.levers["scale"])
        sc = sc.with_settings(scale=scale, origin="dashboard").with_overrides(
            overrides(self.levers), origin="dashboard"
        )
        self.model = PovertyModel(sc)
        self._lock = threading.Lock()

    @property
    def year(self) -> int:
        """The last simulated year (2014 before the first step)."""
        return self.model.year

    @property
    def end_year(self) -> int:
        """The run's last year."""
        return self.model.end_year

    @property
    def running(self) -> bool:
        """False once ``end_year`` is simulated."""
        return bool(self.model.running)

    def step(self) -> bool:
        """Simulate one more year (nothing once the run has ended); return whether more remain."""
        with self._lock:
            if self.model.running:
                self.model.step()
            return bool(self.model.running)

    def results(self) -> pd.DataFrame:
        """The tidy results so far (:meth:`PovertyModel.results`)."""
        with self._lock:
            return self.model.results()
