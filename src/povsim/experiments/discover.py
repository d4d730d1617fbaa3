"""Scenario discovery (``povsim discover``): under which conditions is the 2020 target missed?

A design samples levers and uncertain parameters — a Latin hypercube over ``--param KEY=LO:HI``
ranges, or the grid of an existing ``povsim sweep`` folder — and runs the model at every point.
Each case gets a yes/no outcome (by default: national ``poor_people`` at the end of the last
simulated year above the 2020 target, :data:`povsim.observed.TARGET_2020_POOR_PEOPLE`, i.e. the
target is missed). PRIM, the Patient Rule Induction Method of Friedman and Fisher (1999) as
implemented in the EMA Workbench (Kwakkel 2017), then looks for boxes — a few inputs restricted
to intervals — that hold most of the cases of interest (*coverage*) and few others (*density*).

A hypercube is an ordinary experiment whose rows are the sampled points: it is built here
(:func:`build_design_experiment`) from explicit points, and run through
:func:`povsim.experiments.runner.run_experiment` — the same run store, executors, common random
numbers and resume as ``povsim sweep``.

From Python::

    from povsim.experiments.discover import latin_hypercube, build_design_experiment, Outcome, discover

    points = latin_hypercube({"budget.scale": (0.5, 1.5), "economy.growth.farm": (0.02, 0.07)}, n=40, seed=1)
    exp = build_design_experiment("scenarios/baseline.toml", points)
    report = run_experiment(exp, "results/disc", executor="process", workers=2)
    result = discover(report.runs, list(points.columns), Outcome("poor_people", 2020, 0.0))
    print(result.summary())
"""

from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from povsim.errors import PovsimInputError
from povsim.experiments.spec import (
    Experiment,
    RunSpec,
    _column_value,
    _resolved_value,
    build_experiment,
    format_value,
    is_number,
    point_runs,
)
from povsim.io import atomic_write, write_csv, write_json
from povsim.measures import TOTALS
from povsim.observed import TARGET_2020_POOR_PEOPLE

DEFAULT_N = 40
"""Points of the Latin hypercube when ``--n`` is not given."""

DEFAULT_REPS = 1
"""Replications per point: a hypercube spends its runs on points rather than on replications."""

DEFAULT_MIN_DENSITY = 0.8
"""PRIM's density threshold: a box is reported only if at least this share of its cases are of interest."""

DEFAULT_MAX_BOXES = 3
"""At most this many boxes, each found among the cases the earlier boxes leave."""

PEEL_ALPHA = 0.05
PASTE_ALPHA = 0.05
MASS_MIN = 0.05
"""The EMA Workbench's defaults: share of a box peeled or pasted per step, smallest box (share of all cases)."""

OUTPUTS = ("boxes.csv", "discover.json", "points.csv", "discover.png")
"""The files ``povsim discover`` writes into its folder."""

SIGNIFICANT_DIGITS = 6
"""Sampled values are rounded to this many significant digits (readable keys and columns)."""

OUTCOME_MEASURES = TOTALS
"""Measures with a national total (``channel == "all"``) that an outcome may use."""


# -- the design -------------------------------------------------------------------------


def parse_range(item: str) -> tuple[str, float, float]:
    """Parse one ``--param KEY.PATH=LO:HI`` into the key path and its bounds.

    Raises:
        PovsimInputError: not ``key=lo:hi``, a bound that is not a finite number, or ``lo >= hi``.
    """
    key, sep, text = item.partition("=")
    key, text = key.strip(), text.strip()
    lo_text, colon, hi_text = text.partition(":")
    if not sep or not key or not colon:
        raise PovsimInputError(f"--param {item!r}: expected KEY.PATH=LO:HI, e.g. budget.scale=0.5:1.5")
    try:
        lo, hi = float(lo_text), float(hi_text)
    except ValueError:
        raise PovsimInputError(f"--param {item!r}: LO and HI must be numbers, e.g. budget.scale=0.5:1.5") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise PovsimInputError(f"--param {item!r}: LO and HI must be finite numbers")
    if lo >= hi:
        raise PovsimInputError(f"--param {key}: LO ({lo:g}) must be below HI ({hi:g})")
    return key, lo, hi


def latin_hypercube(ranges: Mapping[str, tuple[float, float]], n: int, seed: int) -> pd.DataFrame:
    """A Latin hypercube of ``n`` points over ``ranges`` (SciPy's ``qmc.LatinHypercube``, seeded).

    Each range is cut into ``n`` equal strata and every stratum holds exactly one point; values
    are rounded to :data:`SIGNIFICANT_DIGITS` significant digits.

    Args:
        ranges: key path → (low, high), in the order the columns should have.
        n: number of points (at least 2).
        seed: the sampler's seed; the same seed gives the same points.

    Returns:
        One row per point, one column per key path.
    """
    from scipy.stats import qmc

    if n < 2:
        raise PovsimInputError(f"--n {n}: a design needs at least 2 points")
    sample = qmc.LatinHypercube(d=len(ranges), seed=np.random.default_rng(seed)).random(n)
    lows = np.array([lo for lo, _ in ranges.values()])
    highs = np.array([hi for _, hi in ranges.values()])
    values = qmc.scale(sample, lows, highs)
    rounded = np.vectorize(lambda v: float(f"{v:.{SIGNIFICANT_DIGITS}g}"))(values)
    return pd.DataFrame(rounded, columns=list(ranges))


def build_design_experiment(
    scenario_file: str | Path,
    points: pd.DataFrame,
    *,
    sets: Iterable[str] = (),
    reps: int = DEFAULT_REPS,
    seed: int | None = None,
    scale: float | None = None,
    end_year: int | None = None,
) -> Experiment:
    """An experiment whose rows are the given points (e.g. a Latin hypercube), each ``reps`` times.

    It is the table ``povsim sweep`` builds, with explicit points instead of every combination
    of a grid: the same :class:`~povsim.experiments.spec.RunSpec` rows, run keys, common random
    numbers (replication ``r`` has the same seed at every point) and checks. Its definition
    (kind ``"discover"``, the points column by column) is what a rerun must agree on to resume.

    Args:
        scenario_file: the scenario every point modifies.
        points: one row per point, one column per parameter key path (numbers).
        sets, reps, seed, scale, end_year: as for :func:`~povsim.experiments.spec.build_experiment`.

    Raises:
        PovsimInputError: an unknown key (with a suggestion), a ``run.*`` key, a parameter that is
            not a number, a value out of the parameter's range, or two equal points.
    """
    base_exp = build_experiment([scenario_file], sets=sets, reps=reps, seed=seed, scale=scale, end_year=end_year)
    ref = base_exp.scenarios[0]
    from povsim.scenario import load_scenario

    base = load_scenario(scenario_file).with_settings(
        scale=float(scale) if scale is not None else None, end_year=end_year, origin="command line"
    )
    if base_exp.sets:
        base = base.with_overrides(base_exp.sets, origin="--set")
    paths = list(points.columns)
    if not paths:
        raise PovsimInputError("povsim discover needs at least one --param KEY.PATH=LO:HI")
    for path in paths:
        if path.startswith("run."):
            raise PovsimInputError(
                f"--param {path}: discover samples model parameters; set run settings with --scale, --end-year, --seed"
            )
        if path in base_exp.sets:
            raise PovsimInputError(f"{path} is both sampled (--param) and fixed (--set); give it once")
        lo, hi = points[path].min(), points[path].max()
        for v in (lo, hi):
            one = base.with_overrides({path: float(v)}, origin=f"--param {path}")
            resolved = _resolved_value(one, path)
            if not is_number(resolved):
                raise PovsimInputError(
                    f"--param {path}: discover samples numbers; this parameter is {type(resolved).__name__}"
                )
    param_sets = {k: v for k, v in base_exp.sets.items() if not k.startswith("run.")}
    runs: list[RunSpec] = []
    seen: set[tuple[tuple[str, Any], ...]] = set()
    for values in points.itertuples(index=False):
        given = {p: float(v) for p, v in zip(paths, values, strict=True)}
        sc = base.with_overrides(given, origin="--param")
        if any(isinstance(_resolved_value(sc, p), int) for p in paths):  # an integer parameter: sample integers
            given = {p: (round(v) if isinstance(_resolved_value(sc, p), int) else v) for p, v in given.items()}
            sc = base.with_overrides(given, origin="--param")
        point = tuple((p, _column_value(_resolved_value(sc, p), given[p])) for p in paths)
        if point in seen:
            raise PovsimInputError(
                f"the design repeats the point {', '.join(f'{k}={format_value(v)}' for k, v in point)} "
                "(an integer parameter with a narrow range?); widen the range or lower --n"
            )
        seen.add(point)
        runs += point_runs(ref, sc, point, {**param_sets, **given}, base_exp.seeds, start=len(runs))
    columns = {p: [dict(r.point)[p] for r in runs if r.rep == 0] for p in paths}
    return Experiment("discover", [ref], columns, base_exp.sets, reps, base_exp.base_seed, runs)


# -- the outcome ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The yes/no question each case answers: is a national measure in a year above (below) a threshold?

    Attributes:
        measure: a measure of the results (``poor_people``, ``exits_people``, ...), national total.
        year: the year it is read in.
        threshold: the value it is compared with.
        above: True: a case is of interest when the measure is above the threshold; False: below.
    """

    measure: str
    year: int
    threshold: float
    above: bool = True

    @property
    def column(self) -> str:
        """The outcome's column in ``points.csv``, e.g. ``poor_people_2020``."""
        return f"{self.measure}_{self.year}"

    @property
    def is_target(self) -> bool:
        """Whether this is "the 2020 target is missed" (poor people in 2020 above the target)."""
        return (
            self.measure == "poor_people"
            and self.year == 2020
            and self.above
            and self.threshold == TARGET_2020_POOR_PEOPLE
        )

    def text(self) -> str:
        """A readable statement of the condition, e.g. ``national poor_people in 2020 > 0``."""
        return f"national {self.measure} in {self.year} {'>' if self.above else '<'} {_fmt(self.threshold)}"

    def of_interest(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Which values meet the condition (strictly above or strictly below the threshold)."""
        v = np.asarray(values, dtype=float)
        return v > self.threshold if self.above else v < self.threshold


def parse_outcome(
    text: str | None, threshold: float | None, below: bool, end_year: int, years: Sequence[int] | None = None
) -> Outcome:
    """The outcome of ``--outcome MEASURE[:YEAR] --threshold X [--above | --below]``.

    Without ``--outcome`` it is national ``poor_people`` at the end of ``end_year`` above the 2020
    target (:data:`~povsim.observed.TARGET_2020_POOR_PEOPLE`, no poor people): the target missed.

    Args:
        text: ``MEASURE`` or ``MEASURE:YEAR`` (default year: ``end_year``), or None.
        threshold: the threshold; required unless the measure is ``poor_people``.
        below: cases of interest are below the threshold (default: above).
        end_year: the design's last simulated year.
        years: the years the runs report (default 2015 to ``end_year``).

    Raises:
        PovsimInputError: an unknown measure, a year the runs do not report, or no threshold.
    """
    measure, year = "poor_people", end_year
    if text is not None:
        measure, colon, year_text = text.strip().partition(":")
        measure = measure.strip()
        if measure not in OUTCOME_MEASURES:
            import difflib

            close = difflib.get_close_matches(measure, OUTCOME_MEASURES, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}?" if close else "e.g. poor_people, incidence, exits_people"
            raise PovsimInputError(f"--outcome {text!r}: unknown measure {measure!r} ({hint}); give MEASURE[:YEAR]")
        if colon:
            try:
                year = int(year_text)
            except ValueError:
                raise PovsimInputError(
                    f"--outcome {text!r}: YEAR must be a whole year, e.g. poor_people:2020"
                ) from None
    allowed = list(years) if years is not None else list(range(2015, end_year + 1))
    if year not in allowed:
        raise PovsimInputError(
            f"--outcome {text or measure}: year {year} is not simulated (allowed {min(allowed)}–{max(allowed)})"
        )
    if threshold is None:
        if measure != "poor_people":
            raise PovsimInputError(f"--outcome {measure}: give --threshold X (the default applies to poor_people only)")
        threshold = float(TARGET_2020_POOR_PEOPLE)
    if not math.isfinite(threshold):
        raise PovsimInputError(f"--threshold {threshold}: must be a finite number")
    return Outcome(measure, year, float(threshold), above=not below)


def outcome_cases(runs: pd.DataFrame, inputs: Sequence[str], outcome: Outcome, per: str = "run") -> pd.DataFrame:
    """The cases PRIM looks at: the inputs, the outcome's value and whether it is of interest.

    Args:
        runs: a runs table (``runs.parquet``): scenario, the inputs, rep, seed, year, region,
            measure, channel, value.
        inputs: the input columns (the sampled or swept parameters).
        outcome: the condition.
        per: ``"run"`` — every run is a case (a point with several replications gives several
            cases at the same inputs); ``"point"`` — the outcome is averaged over a point's
            replications first, and each point is one case.

    Returns:
        Columns: the inputs, ``reps`` (replications behind the case) or ``rep``, the outcome's
        column (:attr:`Outcome.column`) and ``of_interest``.

    Raises:
        PovsimInputError: a run does not report the measure nationally in the year.
    """
    rows = runs[
        (runs["measure"] == outcome.measure)
        & (runs["year"] == outcome.year)
        & (runs["region"] == "national")
        & (runs["channel"] == "all")
    ]
    keys = ["scenario", *inputs, "rep"]
    n_runs = len(runs.drop_duplicates(keys)) if not runs.empty else 0
    if rows.empty or len(rows.drop_duplicates(keys)) < n_runs:
        raise PovsimInputError(
            f"--outcome {outcome.measure}:{outcome.year}: {n_runs - len(rows.drop_duplicates(keys))} of {n_runs} "
            "runs report no national value of it in that year; choose another --outcome"
        )
    table = rows[[*keys, "value"]].rename(columns={"value": outcome.column}).reset_index(drop=True)
    if per == "point":
        table = (
            table.groupby([*inputs], sort=False, dropna=False)
            .agg(reps=("rep", "size"), **{outcome.column: (outcome.column, "mean")})
            .reset_index()
        )
    elif per != "run":
        raise PovsimInputError(f"--cases {per!r}: allowed: run, point")
    else:
        table = table.drop(columns=["scenario"])
    table["of_interest"] = outcome.of_interest(table[outcome.column])
    return table


# -- PRIM -------------------------------------------------------------------------------


@dataclass
class Box:
    """One box PRIM found, at the point of its peeling trajectory that was chosen.

    Attributes:
        number: 1 for the first box, 2 for the one found among the cases outside box 1, ...
        limits: input → (lower, upper), inclusive, for every input (unrestricted ones span the data).
        restricted: the inputs the box restricts, most restricted first (the share of the input's
            range cut away), with ``"lower"``, ``"upper"`` or ``"both"``.
        coverage: cases of interest in the box / all cases of interest.
        density: cases of interest in the box / cases in the box.
        mass: cases in the box / all cases.
        cases: cases in the box (not counting those of earlier boxes).
        cases_of_interest: of them, cases of interest.
        chosen: index of the chosen step on the peeling trajectory.
        trajectory: the workbench's peeling-and-pasting trajectory (coverage, density, mass,
            res_dim, n, k per step).
        quasi_p: input → (p of the lower limit, p of the upper limit): the workbench's quasi-p-values
            of each restriction (a one-sided binomial test; small is significant, -1 unrestricted).
    """

    number: int
    limits: dict[str, tuple[float, float]]
    restricted: list[tuple[str, str]]
    coverage: float
    density: float
    mass: float
    cases: int
    cases_of_interest: int
    chosen: int
    trajectory: pd.DataFrame = field(repr=False)
    quasi_p: dict[str, tuple[float, float]] = field(default_factory=dict)

    def rule(self) -> str:
        """The box as a readable condition, e.g. ``budget.scale ≤ 0.8 and economy.growth.farm ≤ 0.03``."""
        if not self.restricted:
            return "anywhere in the sampled ranges"
        parts = []
        for name, side in self.restricted:
            lo, hi = self.limits[name]
            if side == "lower":
                parts.append(f"{name} ≥ {_fmt(lo)}")
            elif side == "upper":
                parts.append(f"{name} ≤ {_fmt(hi)}")
            else:
                parts.append(f"{_fmt(lo)} ≤ {name} ≤ {_fmt(hi)}")
        return " and ".join(parts)

    def contains(self, x: pd.DataFrame) -> np.ndarray:
        """Which rows of ``x`` lie in the box (limits inclusive, as the workbench draws them)."""
        inside = np.ones(len(x), dtype=bool)
        for name, _ in self.restricted:
            lo, hi = self.limits[name]
            inside &= (x[name].to_numpy(dtype=float) >= lo) & (x[name].to_numpy(dtype=float) <= hi)
        return inside

    def stats(self) -> dict[str, Any]:
        """The box's statistics and limits, JSON-able."""
        return {
            "box": self.number,
            "rule": self.rule(),
            "coverage": self.coverage,
            "density": self.density,
            "mass": self.mass,
            "cases": self.cases,
            "cases_of_interest": self.cases_of_interest,
            "trajectory_step": self.chosen,
            "restricted": [
                {
                    "input": name,
                    "side": side,
                    "lower": self.limits[name][0],
                    "upper": self.limits[name][1],
                    "quasi_p_lower": self.quasi_p.get(name, (None, None))[0],
                    "quasi_p_upper": self.quasi_p.get(name, (None, None))[1],
                }
                for name, side in self.restricted
            ],
        }


def choose_step(trajectory: pd.DataFrame, min_density: float) -> int:
    """The step of a peeling trajectory to report: the largest coverage among the steps whose
    density is at least ``min_density`` (ties: fewer restricted inputs, then higher density);
    when none reaches it, the last (densest) step."""
    ok = trajectory[trajectory["density"] >= min_density]
    if ok.empty:
        return len(trajectory) - 1
    ranked = ok.assign(_i=np.arange(len(ok))).sort_values(
        ["coverage", "res_dim", "density", "_i"], ascending=[False, True, False, True], kind="stable"
    )
    return int(trajectory.index.get_loc(ranked.index[0]))


def find_boxes(
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    min_density: float = DEFAULT_MIN_DENSITY,
    max_boxes: int = DEFAULT_MAX_BOXES,
    peel_alpha: float = PEEL_ALPHA,
    paste_alpha: float = PASTE_ALPHA,
    mass_min: float = MASS_MIN,
) -> list[Box]:
    """Run the EMA Workbench's PRIM on inputs ``x`` and the boolean outcome ``y``.

    PRIM peels a box from all the cases, each step cutting off the ``peel_alpha`` share of the
    cases at one end of one input (the cut that raises the density most per case removed, the
    workbench's lenient objective), until the box would hold less than ``mass_min`` of the cases;
    then it pastes back what raises the density. On that trajectory the step reported is chosen
    by :func:`choose_step`. If even the densest step has a density below ``min_density``, the
    workbench finds no box and the search stops. Otherwise the cases in the box are set aside and
    the next box is looked for among the others, up to ``max_boxes``; the search also stops when
    a box needs no restriction or no case of interest is left.

    Args:
        x: one row per case, one numeric column per input.
        y: one boolean per case: is it a case of interest?
        min_density, max_boxes, peel_alpha, paste_alpha, mass_min: as above.

    Returns:
        The boxes found, possibly none (also when all or none of the cases are of interest).
    """
    y = np.asarray(y, dtype=bool)
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows and y {len(y)}")
    if not y.any() or y.all():
        return []
    prim = _workbench_prim()
    x = x.reset_index(drop=True).astype(float)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"ema_workbench(\..*)?")  # its pandas deprecations
        alg = prim.Prim(
            x,
            y.astype(int),
            threshold=min_density,
            peel_alpha=peel_alpha,
            paste_alpha=paste_alpha,
            mass_min=mass_min,
        )
        boxes: list[Box] = []
        full = {c: (float(x[c].min()), float(x[c].max())) for c in x.columns}
        while len(boxes) < max_boxes:
            remaining_coi = int(y[alg.yi_remaining].sum()) if hasattr(alg, "yi_remaining") else int(y.sum())
            if remaining_coi == 0:
                break
            pbox = alg.find_box()
            if pbox is None:
                break
            traj = pbox.peeling_trajectory.reset_index(drop=True)
            if len(traj) == 1 or float(traj["density"].iloc[-1]) < min_density:
                break  # the workbench's "dump box": no box reaches the density threshold
            step = choose_step(traj, min_density)
            pbox.select(step)
            lims = pbox.box_lims[step]
            limits = {c: (float(lims.loc[0, c]), float(lims.loc[1, c])) for c in x.columns}
            restricted = []
            for c in x.columns:
                lo_cut, hi_cut = limits[c][0] > full[c][0], limits[c][1] < full[c][1]
                if lo_cut or hi_cut:
                    span = full[c][1] - full[c][0]
                    cut = 1 - (limits[c][1] - limits[c][0]) / span if span > 0 else 0.0
                    restricted.append((cut, c, "both" if lo_cut and hi_cut else "lower" if lo_cut else "upper"))
            restricted.sort(key=lambda t: -t[0])
            qp = pbox.qp[step] if step < len(pbox.qp) else {}
            row = traj.iloc[step]
            boxes.append(
                Box(
                    number=len(boxes) + 1,
                    limits=limits,
                    restricted=[(c, side) for _, c, side in restricted],
                    coverage=float(row["coverage"]),
                    density=float(row["density"]),
                    mass=float(row["mass"]),
                    cases=int(row["n"]),
                    cases_of_interest=int(row["k"]),
                    chosen=step,
                    trajectory=traj[["coverage", "density", "mass", "res_dim", "n", "k"]].copy(),
                    quasi_p={c: (float(v[0]), float(v[1])) for c, v in qp.items()},
                )
            )
            if not restricted:
                break
    return boxes


def _workbench_prim() -> Any:
    """The EMA Workbench's PRIM module, imported quietly (it warns about optional extras it does not need)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
    return prim


# -- the whole analysis -------------------------------------------------------------------


@dataclass
class Discovery:
    """What ``povsim discover`` found.

    Attributes:
        inputs: the input columns.
        outcome: the condition.
        per: ``"run"`` or ``"point"`` (:func:`outcome_cases`).
        cases: the cases (inputs, outcome value, ``of_interest``, ``box``: the box a case falls
            in, 0 for none).
        boxes: the boxes found.
        settings: PRIM's settings.
    """

    inputs: list[str]
    outcome: Outcome
    per: str
    cases: pd.DataFrame
    boxes: list[Box]
    settings: dict[str, Any]

    @property
    def n_cases(self) -> int:
        return len(self.cases)

    @property
    def n_of_interest(self) -> int:
        return int(self.cases["of_interest"].sum())

    def headline(self) -> str:
        """``the target is missed in k of n cases`` (or the outcome's condition)."""
        what = (
            f"the 2020 target (no poor people) is missed ({self.outcome.text()})"
            if self.outcome.is_target
            else self.outcome.text()
        )
        unit = "runs" if self.per == "run" else "points (mean over replications)"
        return f"{what} in {self.n_of_interest} of {self.n_cases} {unit}"

    def summary(self) -> str:
        """The readable summary printed by ``povsim discover``."""
        lines = [self.headline()]
        if self.n_of_interest == 0:
            lines.append("no case is of interest: there is no box to find")
        elif self.n_of_interest == self.n_cases:
            lines.append("every case is of interest: there is no box to find (change --threshold or the ranges)")
        elif not self.boxes:
            lines.append(
                f"PRIM found no box with a density of at least {self.settings['min_density']:g} "
                "(lower --min-density, or sample more points)"
            )
        for box in self.boxes:
            lines.append(
                f"box {box.number}: {box.rule()} — coverage {box.coverage:.2f}, density {box.density:.2f} "
                f"({box.cases} cases, {box.cases_of_interest} of interest; mass {box.mass:.2f})"
            )
            if not box.restricted:
                lines.append(
                    f"  (at least {self.settings['min_density']:g} of all cases are of interest: no restriction is "
                    "needed; raise --min-density to look for a purer box)"
                )
        return "\n".join(lines)

    def boxes_table(self) -> pd.DataFrame:
        """``boxes.csv``: one row per box and restricted input, with the box's statistics."""
        rows = []
        for box in self.boxes:
            stats = {
                "coverage": box.coverage,
                "density": box.density,
                "mass": box.mass,
                "cases": box.cases,
                "cases_of_interest": box.cases_of_interest,
                "restricted_inputs": len(box.restricted),
            }
            for item in box.stats()["restricted"] or [{"input": "", "side": "none"}]:
                rows.append(
                    {
                        "box": box.number,
                        "input": item["input"],
                        "side": item["side"],
                        "lower": item.get("lower"),
                        "upper": item.get("upper"),
                        "quasi_p_lower": item.get("quasi_p_lower"),
                        "quasi_p_upper": item.get("quasi_p_upper"),
                        **stats,
                    }
                )
        columns = ["box", "input", "side", "lower", "upper", "quasi_p_lower", "quasi_p_upper", "coverage"]
        columns += ["density", "mass", "cases", "cases_of_interest", "restricted_inputs"]
        return pd.DataFrame(rows, columns=columns)

    def record(self, design: dict[str, Any]) -> dict[str, Any]:
        """``discover.json``: the design, the outcome, PRIM's settings and the boxes."""
        return {
            "design": design,
            "inputs": self.inputs,
            "outcome": {
                "measure": self.outcome.measure,
                "region": "national",
                "year": self.outcome.year,
                "threshold": self.outcome.threshold,
                "of_interest": "above" if self.outcome.above else "below",
                "condition": self.outcome.text(),
                "target_2020_missed": self.outcome.is_target,
            },
            "cases": {"per": self.per, "total": self.n_cases, "of_interest": self.n_of_interest},
            "prim": self.settings,
            "boxes": [{**box.stats(), "trajectory": box.trajectory.to_dict(orient="records")} for box in self.boxes],
            "summary": self.summary(),
        }


def discover(
    runs: pd.DataFrame,
    inputs: Sequence[str],
    outcome: Outcome,
    *,
    per: str = "run",
    min_density: float = DEFAULT_MIN_DENSITY,
    max_boxes: int = DEFAULT_MAX_BOXES,
    peel_alpha: float = PEEL_ALPHA,
    paste_alpha: float = PASTE_ALPHA,
    mass_min: float = MASS_MIN,
) -> Discovery:
    """Scenario discovery on a runs table: the cases (:func:`outcome_cases`), then PRIM (:func:`find_boxes`).

    Raises:
        PovsimInputError: the outcome is not reported, or an input is not numeric.
    """
    check_prim_settings(min_density, max_boxes, peel_alpha, mass_min)
    cases = outcome_cases(runs, inputs, outcome, per)
    x = cases[list(inputs)]
    for c in inputs:
        if x[c].dtype == bool:
            x = x.assign(**{c: x[c].astype(int)})
        elif not pd.api.types.is_numeric_dtype(x[c]):
            raise PovsimInputError(f"input {c}: PRIM here uses numeric inputs; this column holds text (e.g. tables)")
    boxes = find_boxes(
        x,
        cases["of_interest"].to_numpy(),
        min_density=min_density,
        max_boxes=max_boxes,
        peel_alpha=peel_alpha,
        paste_alpha=paste_alpha,
        mass_min=mass_min,
    )
    in_box = np.zeros(len(cases), dtype=int)
    for box in boxes:
        in_box[(in_box == 0) & box.contains(x)] = box.number
    cases = cases.assign(box=in_box)
    settings = {
        "implementation": f"ema_workbench {_workbench_version()} analysis.prim.Prim (binary mode)",
        "objective": "lenient1 (the workbench's default)",
        "min_density": min_density,
        "peel_alpha": peel_alpha,
        "paste_alpha": paste_alpha,
        "mass_min": mass_min,
        "max_boxes": max_boxes,
        "step_chosen": "the largest coverage among the trajectory's steps with density >= min_density "
        "(ties: fewer restricted inputs, then higher density)",
        "next_boxes": "found among the cases outside the earlier boxes (the workbench's default update)",
    }
    return Discovery(list(inputs), outcome, per, cases, boxes, settings)


def check_prim_settings(min_density: float, max_boxes: int, peel_alpha: float, mass_min: float) -> None:
    """Refuse PRIM settings out of range, naming the option.

    Raises:
        PovsimInputError: ``--min-density`` outside (0, 1], ``--max-boxes`` below 1,
            ``--peel-alpha`` outside (0, 0.5), ``--mass-min`` outside (0, 1).
    """
    if not (0 < min_density <= 1):
        raise PovsimInputError(f"--min-density {min_density:g}: must be above 0 and at most 1")
    if max_boxes < 1:
        raise PovsimInputError(f"--max-boxes {max_boxes}: must be at least 1")
    if not (0 < peel_alpha < 0.5):
        raise PovsimInputError(f"--peel-alpha {peel_alpha:g}: must be above 0 and below 0.5")
    if not (0 < mass_min < 1):
        raise PovsimInputError(f"--mass-min {mass_min:g}: must be above 0 and below 1")


def _workbench_version() -> str:
    from importlib.metadata import version

    return version("ema_workbench")


def inputs_of(runs: pd.DataFrame) -> list[str]:
    """The swept (or sampled) parameter columns of a runs table: those between ``scenario`` and ``rep``."""
    columns = list(runs.columns)
    return columns[columns.index("scenario") + 1 : columns.index("rep")]


# -- writing ------------------------------------------------------------------------------


def write_discovery(result: Discovery, out: str | Path, design: dict[str, Any]) -> list[Path]:
    """Write ``boxes.csv``, ``discover.json``, ``points.csv`` and ``discover.png`` into ``out``, each atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    png = discovery_figure(result)
    return [
        write_csv(result.boxes_table(), out / "boxes.csv"),
        write_json(result.record(design), out / "discover.json"),
        write_csv(result.cases, out / "points.csv"),
        atomic_write(out / "discover.png", lambda fh: fh.write(png)),
    ]


def remove_outputs(out: str | Path) -> None:
    """Remove the files of an earlier ``povsim discover`` in ``out`` (before its runs are extended)."""
    for name in OUTPUTS:
        (Path(out) / name).unlink(missing_ok=True)


def discovery_figure(result: Discovery) -> bytes:
    """The figure: box 1's peeling trajectory (coverage against density, the chosen step marked)
    and the cases over the two inputs box 1 restricts most, with the boxes drawn. PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12.5, 5.4))
    title = result.headline()
    fig.suptitle(title if len(title) < 110 else title[:107] + "...", fontsize=11)
    density = result.settings["min_density"]

    if result.boxes:
        top = max(1, len(result.inputs))
        cmap = plt.get_cmap("viridis", top + 1)
        for box in result.boxes:
            t = box.trajectory
            ax1.plot(t["coverage"], t["density"], "-", color="0.6", lw=0.8, zorder=1)
            sc = ax1.scatter(
                t["coverage"], t["density"], c=t["res_dim"], cmap=cmap, s=22, zorder=2, vmin=-0.5, vmax=top + 0.5
            )
            ax1.scatter(
                [box.coverage],
                [box.density],
                marker="*",
                s=260,
                facecolor="red",
                edgecolor="k",
                zorder=3,
                label=f"box {box.number}, chosen step: coverage {box.coverage:.2f}, density {box.density:.2f}",
            )
        cbar = fig.colorbar(sc, ax=ax1, pad=0.02, ticks=range(top + 1))
        cbar.set_label("restricted inputs")
        ax1.axhline(density, color="red", ls="--", lw=1, label=f"--min-density {density:g}")
        ax1.legend(loc="lower left", fontsize=8, framealpha=0.9)
    else:
        ax1.text(0.5, 0.5, "no box found", ha="center", va="center", transform=ax1.transAxes, fontsize=12)
    ax1.set_xlim(-0.02, 1.02)
    ax1.set_ylim(-0.02, 1.05)
    ax1.set_xlabel("coverage (share of the cases of interest inside the box)")
    ax1.set_ylabel("density (share of the box's cases that are of interest)")
    ax1.set_title("PRIM peeling trajectory" + (" (each box)" if len(result.boxes) > 1 else ""), fontsize=10)
    ax1.grid(alpha=0.3)

    cases = result.cases
    hit = cases["of_interest"].to_numpy(dtype=bool)
    dims = _figure_dims(result)
    if len(dims) >= 2:
        a, b = dims[0], dims[1]
        ax2.scatter(cases.loc[~hit, a], cases.loc[~hit, b], s=26, c="tab:blue", alpha=0.8, label="not of interest")
        ax2.scatter(cases.loc[hit, a], cases.loc[hit, b], s=26, c="tab:red", marker="x", label="of interest")
        ax2.set_xlim(*_padded(cases[a]))
        ax2.set_ylim(*_padded(cases[b]))
        (xmin, xmax), (ymin, ymax) = ax2.get_xlim(), ax2.get_ylim()
        for box, color in zip(result.boxes, ("k", "tab:purple", "tab:orange"), strict=False):
            sides = dict(box.restricted)
            alo, ahi = _drawn(box.limits[a], sides.get(a), xmin, xmax)
            blo, bhi = _drawn(box.limits[b], sides.get(b), ymin, ymax)
            ax2.add_patch(Rectangle((alo, blo), ahi - alo, bhi - blo, fc=color, alpha=0.08, lw=0))
            ax2.add_patch(
                Rectangle((alo, blo), ahi - alo, bhi - blo, fill=False, lw=1.8, ec=color, label=f"box {box.number}")
            )
        ax2.set_xlabel(a)
        ax2.set_ylabel(b)
        ax2.set_title("cases over the two inputs the box restricts most", fontsize=10)
    else:
        a = dims[0]
        value = cases[result.outcome.column]
        scale, unit = (1e6, " (millions)") if value.abs().max() >= 1e6 else (1.0, "")
        ax2.scatter(cases.loc[~hit, a], value[~hit] / scale, s=26, c="tab:blue", label="not of interest")
        ax2.scatter(cases.loc[hit, a], value[hit] / scale, s=26, c="tab:red", marker="x", label="of interest")
        ax2.axhline(result.outcome.threshold / scale, color="red", ls="--", lw=1, label="threshold")
        for box in result.boxes:
            ax2.axvspan(*box.limits[a], color="0.5", alpha=0.2, label=f"box {box.number}")
        ax2.set_xlabel(a)
        ax2.set_ylabel(f"{result.outcome.column}{unit}")
        ax2.set_title("cases and the box", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=5, fontsize=8, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _padded(values: pd.Series) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    pad = (hi - lo) * 0.05 or abs(lo) * 0.05 or 1.0
    return lo - pad, hi + pad


def _drawn(limits: tuple[float, float], side: str | None, lo: float, hi: float) -> tuple[float, float]:
    """A box's limits on one axis as drawn: an unrestricted end runs to the edge of the axes."""
    return (
        limits[0] if side in ("lower", "both") else lo,
        limits[1] if side in ("upper", "both") else hi,
    )


def _figure_dims(result: Discovery) -> list[str]:
    """Box 1's restricted inputs, most restricted first, then the other inputs in order."""
    first = [c for c, _ in result.boxes[0].restricted] if result.boxes else []
    return first + [c for c in result.inputs if c not in first]


def _fmt(value: float) -> str:
    """A compact number: ``0.8``, ``0.0312``, ``12.4 M`` for people counts."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g} M"
    if value == 0:
        return "0"
    return f"{value:.3g}"


def design_record(
    experiment: Experiment | None, ranges: Mapping[str, tuple[float, float]], **extra: Any
) -> dict[str, Any]:
    """The design section of ``discover.json``: how the points were made and run."""
    record: dict[str, Any] = {**extra}
    if ranges:
        record["ranges"] = {k: [lo, hi] for k, (lo, hi) in ranges.items()}
    if experiment is not None:
        ref = experiment.scenarios[0]
        record.update(
            scenario=ref.name,
            scenario_file=ref.given,
            points=len(experiment.runs) // max(experiment.reps, 1),
            reps=experiment.reps,
            base_seed=experiment.base_seed,
            scale=ref.scale,
            poor_area_scale=ref.poor_area_scale,
            end_year=ref.end_year,
            set=json.loads(json.dumps(experiment.sets, default=str)),
        )
    return record
