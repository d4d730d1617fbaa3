"""Global sensitivity analysis with SALib: which parameters drive the forecast.

Methods:

- **Morris** elementary effects (``--method morris``): ``n`` trajectories of ``d + 1`` runs
  each, on a 4-level grid. An elementary effect is the change in the outcome per unit of the
  parameter's range (SALib scales each step by the range), so ``mu_star`` — the mean absolute
  effect — reads as "outcome change when the parameter moves across its whole range" and ranks
  parameters; ``sigma`` large against ``mu_star`` flags interactions or non-linearity. Cheap enough
  for all ~90 parameters (screening).
- **Sobol** variance decomposition (``--method sobol``): ``n (d + 2)`` runs (Saltelli/Sobol'
  sampling without second-order terms). ``S1`` is the share of the outcome's variance due to
  the parameter alone, ``ST`` including its interactions.

Every run uses the same seed(s), so effects are parameter effects under common random numbers.
Outcomes: poor people in 2020, relapse 2016–2020 and cost per sustained exit (spending on the
2015–2017 exit cohorts over those of their exits not followed by relapse within three years).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from povsim.calibration.evaluate import Evaluator
from povsim.calibration.space import LEVERS, Space, ranged_paths, uncertain_paths
from povsim.errors import PovsimInputError
from povsim.parameters import ParameterSet


def default_outcomes(end_year: int = 2020) -> dict[str, str]:
    """The outcomes analysed by default for runs ending in ``end_year``, with their labels."""
    return {
        f"poor_people_{end_year}": f"poor people in {end_year}",
        f"relapse_people_2016_{end_year}": f"relapse 2016–{end_year} (people)",
        "cost_per_sustained_exit_yuan": "cost per sustained exit (yuan)",
    }


OUTCOMES: dict[str, str] = default_outcomes(2020)
"""The outcomes analysed by default (runs to 2020), with their labels."""


def target_outcomes() -> dict[str, str]:
    """The calibration targets as outcomes (``--outcomes targets``), with their labels: every target
    after 2014 (2014 is reproduced by construction) except incidence (the headcount over an input)."""
    from povsim.calibration.targets import default_targets

    return {t.outcome: t.label for t in default_targets() if t.year > 2014 and not t.outcome.startswith("incidence")}


def identifiability(result: SensitivityResult) -> pd.DataFrame:
    """Morris μ* of each parameter on each calibration target, in the target's tolerances: one row per
    parameter (most influential first), a column per target, and ``max`` and ``targets_moved`` (how
    many targets it moves by more than one tolerance over its range)."""
    from povsim.calibration.targets import default_targets

    sd = {t.outcome: t.sd for t in default_targets()}
    sub = result.indices[(result.indices["index"] == "mu_star") & result.indices["outcome"].isin(sd)]
    wide = sub.pivot(index="parameter", columns="outcome", values="value")
    wide = wide[[o for o in result.outcomes if o in wide.columns]]
    wide = wide / pd.Series({o: sd[o] for o in wide.columns})
    wide["max"] = wide.max(axis=1)
    wide["targets_moved"] = (wide.drop(columns="max") > 1).sum(axis=1)
    return wide.sort_values("max", ascending=False)


METHODS = ("morris", "sobol")
MORRIS_LEVELS = 4


@dataclass
class SensitivityResult:
    """Indices and the runs they come from.

    Attributes:
        method: ``morris`` or ``sobol``.
        indices: long table ``outcome, parameter, index, value`` (Morris: ``mu``, ``mu_star``,
            ``sigma``, ``mu_star_conf``; Sobol: ``S1``, ``S1_conf``, ``ST``, ``ST_conf``);
            ``mu_star_norm`` is ``mu_star`` over its largest value for the outcome.
        samples: one row per sampled point: parameter values and outcomes (mean over seeds).
        runs: model runs made.
    """

    method: str
    indices: pd.DataFrame
    samples: pd.DataFrame
    runs: int
    outcomes: dict[str, str] = field(default_factory=dict)

    def ranking(self, outcome: str, top: int | None = None) -> pd.DataFrame:
        """A wide table of the indices for ``outcome``, most influential parameter first."""
        sub = self.indices[self.indices["outcome"] == outcome]
        wide = sub.pivot(index="parameter", columns="index", values="value")
        key = "mu_star" if self.method == "morris" else "ST"
        wide = wide.sort_values(key, ascending=False)
        return wide.head(top) if top else wide


VARY_SETS = ("all", "uncertain", "levers", "fitted")


def sensitivity_space(params: ParameterSet, vary: str | Sequence[str] = "all") -> Space:
    """The parameters a sensitivity analysis varies.

    Args:
        params: the parameters (their calibration ranges give the intervals).
        vary: ``all`` (the uncertainties and the levers of
            :data:`povsim.calibration.space.LEVERS`), ``uncertain`` (the parameters whose role is
            uncertainty: the levers are not), ``levers``, ``fitted`` (those
            ``povsim calibrate`` fits), a comma-separated string of paths, or a list of paths.

    Raises:
        PovsimInputError: a path is unknown or has neither a range nor a lever interval.
    """
    from povsim.calibration.fit import FITTED_PARAMETERS

    ranged = ranged_paths(params)
    sets = {
        # the uncertainties and the levers, in file order, then the levers without a calibration range
        "all": [*ranged, *[p for p in LEVERS if p not in ranged]],
        "uncertain": uncertain_paths(params),
        "levers": list(LEVERS),
        "fitted": list(FITTED_PARAMETERS),
    }
    if isinstance(vary, str):
        paths = sets.get(vary) or [p.strip() for p in vary.split(",") if p.strip()]
    else:
        paths = list(vary)
    return Space.from_paths(params, paths, extra=LEVERS)


def sample(space: Space, method: str, n: int, seed: int) -> np.ndarray:
    """SALib's sample for ``method`` with ``n`` trajectories (Morris) or base samples (Sobol), in
    parameter units, one row per run."""
    problem = space.salib_problem()
    if method == "morris":
        from SALib.sample import morris as morris_sample

        return morris_sample.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        check_size(method, n)
        return sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    raise PovsimInputError(f"--method {method!r}: allowed: {', '.join(METHODS)}")


def check_size(method: str, n: int) -> None:
    """Check a design's size before anything runs.

    Raises:
        PovsimInputError: ``n`` below 2, a Sobol ``n`` that is not a power of two, or an unknown method.
    """
    if method not in METHODS:
        raise PovsimInputError(f"--method {method!r}: allowed: {', '.join(METHODS)}")
    if n < 2:
        raise PovsimInputError(f"--n {n}: at least 2 is needed")
    if method == "sobol" and n & (n - 1):
        raise PovsimInputError(f"--n {n}: Sobol sampling needs a power of two (e.g. 64, 128, 256)")


def run_count(space: Space, method: str, n: int) -> int:
    """Points a design of this size evaluates (each run once per seed)."""
    d = len(space)
    return n * (d + 1) if method == "morris" else n * (d + 2)


def analyse(space: Space, method: str, x: np.ndarray, y: np.ndarray, seed: int) -> list[dict[str, Any]]:
    """Indices for one outcome ``y`` over the sample ``x`` (rows ``outcome`` left to the caller)."""
    problem = space.salib_problem()
    rows: list[dict[str, Any]] = []
    if method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=MORRIS_LEVELS, seed=seed, print_to_console=False)
        top = float(np.nanmax(res["mu_star"])) or 1.0
        for i, name in enumerate(space.paths):
            for key in ("mu", "mu_star", "sigma", "mu_star_conf"):
                rows.append({"parameter": name, "index": key, "value": float(res[key][i])})
            rows.append({"parameter": name, "index": "mu_star_norm", "value": float(res["mu_star"][i]) / top})
    else:
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed, print_to_console=False)
        for i, name in enumerate(space.paths):
            for key in ("S1", "S1_conf", "ST", "ST_conf"):
                rows.append({"parameter": name, "index": key, "value": float(res[key][i])})
    return rows


def run_sensitivity(
    evaluator: Evaluator,
    space: Space,
    method: str,
    n: int,
    *,
    seed: int = 1,
    outcomes: Mapping[str, str] | Sequence[str] | None = None,
) -> SensitivityResult:
    """Sample ``space``, run every point with the evaluator's seeds and compute the indices.

    Args:
        evaluator: runs points (its seeds are the common random numbers, its end year must
            reach the outcomes' years).
        space: the parameters varied and their intervals.
        method: ``morris`` or ``sobol``.
        n: Morris trajectories or Sobol base samples (a power of two).
        seed: the sampling seed.
        outcomes: outcome names (see :func:`povsim.calibration.evaluate.outcomes`), or a dict
            name → label (default: :func:`default_outcomes` of the evaluator's end year).

    Raises:
        PovsimInputError: an unknown method, a bad ``n``, or an outcome the runs do not report.
    """
    check_size(method, n)
    if outcomes is None:
        outcomes = default_outcomes(evaluator.end_year)
    labels = dict(outcomes) if isinstance(outcomes, Mapping) else {o: o for o in outcomes}
    x = sample(space, method, n, seed)
    points = [space.point([d.position(v) for d, v in zip(space.dims, row, strict=True)]) for row in x]
    means = evaluator.mean(points)
    missing = [o for o in labels if o not in means.columns]
    if missing:
        raise PovsimInputError(f"outcome {missing[0]!r} is not reported by runs ending in {evaluator.end_year}")
    rows = []
    for outcome in labels:
        y = means[outcome].to_numpy(float)
        if not np.isfinite(y).all():  # e.g. no sustained exits in a run: analyse on finite rows is not valid
            y = np.where(np.isfinite(y), y, np.nanmean(y))
        for row in analyse(space, method, x, y, seed):
            rows.append({"outcome": outcome, **row})
    samples = pd.concat([pd.DataFrame(x, columns=space.paths), means[list(labels)].reset_index(drop=True)], axis=1)
    return SensitivityResult(
        method=method,
        indices=pd.DataFrame(rows),
        samples=samples,
        runs=len(points) * len(evaluator.seeds),
        outcomes=labels,
    )


def figure(result: SensitivityResult, top: int = 15) -> bytes:
    """One panel per outcome: the ``top`` parameters by ``mu_star`` (Morris, with ``sigma``) or by
    ``ST`` (Sobol, with ``S1``) as horizontal bars; PNG bytes."""
    import matplotlib.pyplot as plt

    from povsim.reporting import png_bytes

    names = list(result.outcomes)
    cols = min(len(names), 4)
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, (0.32 * top + 1.6) * rows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for ax, outcome in zip(axes.flat, names, strict=False):
        wide = result.ranking(outcome, top).iloc[::-1]
        pos = np.arange(len(wide))
        if result.method == "morris":
            scale = float(wide["mu_star"].max()) or 1.0
            ax.barh(pos, wide["mu_star"] / scale, color="#1f77b4", label="μ* (scaled)")
            ax.errorbar(wide["mu_star"] / scale, pos, xerr=wide["mu_star_conf"] / scale, fmt="none", ecolor="k", lw=0.8)
            ax.plot(wide["sigma"] / scale, pos, "o", color="#d62728", ms=4, label="σ (same scale)")
            ax.set_xlabel("elementary effect, relative to the largest μ*")
        else:
            ax.barh(pos + 0.2, wide["ST"], height=0.4, color="#1f77b4", label="total ST")
            ax.barh(pos - 0.2, wide["S1"], height=0.4, color="#ff7f0e", label="first-order S1")
            ax.set_xlabel("share of variance")
        ax.set_yticks(pos, [p.replace("programs.", "").replace("governance.", "gov.") for p in wide.index], fontsize=7)
        ax.set_title(result.outcomes[outcome], fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{result.method.capitalize()} sensitivity ({result.runs} runs)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    return png_bytes(fig)
