"""``povsim calibrate``: fit the uncertain parameters to the 2014–2017 targets.

Method (a maximum a posteriori fit with a Laplace approximation, for a stochastic simulator):

1. **Common random numbers.** Every parameter point is run with the same ``S`` seeds and the
   outcomes averaged, so the objective is a deterministic function of the parameters and a
   difference between two points is a parameter effect, not noise.
2. **Objective.** For each fitted target, the residual (mean simulated − observed) / tolerance
   (:mod:`povsim.calibration.targets`); for each fitted parameter, a prior residual
   (u − u₀) / 0.3 where u is the parameter's position in its calibration ``range`` and u₀ that of
   its documented (assumed) value — a Gaussian prior about as wide as the uniform over the range,
   which keeps parameters the targets cannot identify at their documented values.
3. **Search.** Optionally a Latin hypercube over the ranges picks the best starting point; then a
   bounded trust-region least-squares fit (``scipy.optimize.least_squares``, ``trf``) whose
   Jacobian is a forward difference of 0.05 of each range, the ``d`` perturbed points evaluated in
   parallel.
4. **Uncertainty.** The Gauss–Newton posterior covariance (JᵀJ)⁻¹ at the optimum (prior rows
   included) gives parameter draws (the Laplace approximation), kept within the ranges. The draws
   are written with the calibrated values and give the forecast its parameter uncertainty.
5. **Check.** The calibrated point is run with the ten seeds ``povsim batch --reps 10`` uses for
   the baseline (not the fitting seeds), and the draws with one seed each: the fit report shows
   observed, documented-value and calibrated means, and the 90% band of the draws.

Which parameters are fitted: :data:`FITTED_PARAMETERS`, chosen by a Morris screening of every
uncertain parameter on the targets (``docs/calibration.md``); ``--params`` fits others.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.stats import qmc

from povsim import __version__
from povsim.calibration.evaluate import Evaluator, interval
from povsim.calibration.settings import CHECK_REPS, FULL, QUICK, REFINE, Settings  # noqa: F401 (re-exported)
from povsim.calibration.space import Space
from povsim.calibration.targets import Target, default_targets
from povsim.errors import PovsimInputError
from povsim.experiments.spec import rep_seed
from povsim.io import write_bytes, write_csv, write_json
from povsim.observed import FORECAST_ORIGIN
from povsim.parameters import ParameterSet, calibrated_path, read_calibrated
from povsim.scenario import Scenario

FITTED_PARAMETERS: tuple[str, ...] = (
    "economy.growth.local_wage",
    "economy.growth.persistent_sigma",
    "economy.income.initial_sigma",
    "households.migration.intercept",
    "programs.industry.production_gain_per_person",
    "budget.household_programme_share",
    "governance.recheck.income_ratio",
    "governance.recheck.removal_prob",
    "registry.exit.verification_prob",
    "geography.counties.intensity_sigma",
    "governance.county.satisfaction_mean",
    "governance.assessment_sigma",
    "governance.evaluation.detection_prob",
    "governance.county.poor_county_rural_people",
    "governance.exit_pressure.max",
    "programs.floor.take_up",
    "programs.floor.assessment_sigma",
    "programs.floor.poor_county_ratio",
    "programs.floor.east_ratio",
)
"""The parameters ``povsim calibrate`` fits by default: the largest Morris effects (μ*) on the
targets among the uncertain parameters — income growth and dispersion, migration and the
industry programme for the survey headcounts; the 2015 re-check and exit verification for the
registry stock; the spread of county poverty, the size of a poor county, the satisfaction test,
the exit pressure and the assessment error that make the false exits of counties planning to exit
early, and the evaluation that finds them (at the documented values almost no county passes in
2016, at any scale), for the 2016 county exits; and the 兜底 floor's coverage — take-up, the means
test's assessment error, and how far poor counties' standards sit below the documented national
average — which set how many households without labour the documented standards lift above the line;
and how far the east's standards sit above the others', the one parameter that moves the regional
split (``docs/calibration.md``, Identifiability).
Policy levers (funds, post-exit support) are not fitted."""

PRIOR_SD = 0.3
"""Prior standard deviation of a fitted parameter, as a share of its calibration range."""

STEP = 0.05
"""Finite-difference step of the Jacobian, as a share of each range."""

FIT_SEED_OFFSET = 1000
"""Fitting seeds are replications 1000, 1001, … of the scenario's seed: never the check seeds."""

REFINE_SEED_OFFSET = 1500
"""A refinement (``--refine``) fits with replications 1500, 1501, …: other seeds than the full fit's."""


@dataclass
class Calibration:
    """What a calibration found.

    Attributes:
        space: the fitted parameters and their ranges.
        prior: documented values by path.
        values: calibrated values by path.
        posterior_sd: posterior standard deviation by path (parameter units).
        draws: posterior draws, one row per draw, a column per path.
        report: one row per target (observed, documented-value and calibrated means, band).
        evaluations: every parameter point evaluated, with its loss.
        runs: model runs made; seconds: wall time.
        sampling: the sampling design of every run (:attr:`povsim.scenario.RunSettings.sampling`).
    """

    settings: Settings
    space: Space
    targets: list[Target]
    prior: dict[str, Any]
    values: dict[str, Any]
    posterior_sd: dict[str, float]
    draws: pd.DataFrame
    report: pd.DataFrame
    evaluations: pd.DataFrame
    loss: float
    prior_loss: float
    runs: int
    seconds: float
    check_runs: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    draw_runs: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    prior_runs: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    sampling: str = ""

    def missed(self, fitted: bool | None = None) -> list[str]:
        """Labels of the targets whose calibrated 10-seed mean misses its acceptance (``fitted``:
        only the fitted targets, or only the checked ones; None: all)."""
        rows = self.report if fitted is None else self.report[self.report["fitted"] == fitted]
        return [str(label) for label in rows.loc[~rows["met"].astype(bool), "label"]]

    def accepted(self) -> bool:
        """Whether every fitted target's calibrated 10-seed mean meets its acceptance."""
        return not self.missed(fitted=True)


class Objective:
    """Residuals of the fit at unit-cube points, with a cache and a log of every evaluation."""

    def __init__(self, evaluator: Evaluator, space: Space, targets: Sequence[Target], u0: np.ndarray):
        self.evaluator = evaluator
        self.space = space
        self.targets = [t for t in targets if t.fitted]
        self.u0 = np.asarray(u0, float)
        self._cache: dict[tuple[float, ...], dict[str, float]] = {}
        self.log: list[dict[str, Any]] = []
        self.stage = "start"
        self.last_jacobian: np.ndarray | None = None

    @staticmethod
    def _key(u: np.ndarray) -> tuple[float, ...]:
        return tuple(np.round(np.asarray(u, float), 9))

    def means(self, us: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """Seed-mean outcomes of each point (uncached points evaluated in one parallel batch)."""
        todo = [u for u in us if self._key(u) not in self._cache]
        unique = list({self._key(u): u for u in todo}.values())
        if unique:
            means = self.evaluator.mean(self.space.points(np.array(unique)))
            for u, (_, row) in zip(unique, means.iterrows(), strict=True):
                out = row.to_dict()
                self._cache[self._key(u)] = out
                r = self.residuals(out, u)
                self.log.append(
                    {
                        "stage": self.stage,
                        **self.space.point(u),
                        "loss": float(r @ r),
                        **{t.outcome: out.get(t.outcome, np.nan) for t in self.targets},
                    }
                )
        return [self._cache[self._key(u)] for u in us]

    def residuals(self, outcome: dict[str, float], u: np.ndarray) -> np.ndarray:
        """Target residuals (in tolerances) followed by prior residuals."""
        r_t = [t.residual(outcome[t.outcome]) for t in self.targets]
        r_p = (np.asarray(u, float) - self.u0) / PRIOR_SD
        return np.concatenate([r_t, r_p])

    def fun(self, u: np.ndarray) -> np.ndarray:
        """Residual vector at ``u``."""
        return self.residuals(self.means([u])[0], u)

    def jac(self, u: np.ndarray) -> np.ndarray:
        """Forward-difference Jacobian (backward at the upper bound), points run in parallel."""
        u = np.asarray(u, float)
        # an integer parameter moves by at least one unit, or its rounded value would not change
        size = np.array([max(STEP, 1.0 / (d.hi - d.lo)) if d.integer else STEP for d in self.space.dims])
        steps = np.where(u + size <= 1.0, size, -size)
        pts = [u] + [u + steps[i] * np.eye(len(u))[i] for i in range(len(u))]
        outs = self.means(pts)
        r0 = self.residuals(outs[0], u)
        cols = [(self.residuals(o, p) - r0) / steps[i] for i, (o, p) in enumerate(zip(outs[1:], pts[1:], strict=True))]
        self.last_jacobian = np.column_stack(cols)
        return self.last_jacobian

    def loss(self, u: np.ndarray) -> float:
        """Sum of squared residuals at ``u``."""
        r = self.fun(u)
        return float(r @ r)


def hypercube_starts(obj: Objective, lhs: np.ndarray, missed_at: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Least-squares starts from evaluated hypercube points: the one of lowest loss, and for each
    fitted target missed (by more than its tolerance) at ``missed_at`` — default: that lowest-loss
    point — the point that comes closest to meeting it (lowest loss among equally close ones).

    A target can be flat over most of the space — no county passes the exit criteria anywhere near
    the documented values, so the count of exits stays at zero and its gradient is zero — and a
    local fit started there never finds where the target can be met; a start where it is (nearly)
    met gives the fit that region to work from."""
    losses = np.array([obj.loss(u) for u in lhs])
    residuals = np.array([obj.fun(u)[: len(obj.targets)] for u in lhs])
    best = int(np.argmin(losses))
    missed = residuals[best] if missed_at is None else obj.fun(missed_at)[: len(obj.targets)]
    out = {"best hypercube point": lhs[best]}
    for i, target in enumerate(obj.targets):
        if abs(missed[i]) <= 1.0:
            continue
        miss = np.abs(residuals[:, i])
        k = int(np.lexsort((losses, miss))[0])
        if k != best:
            out[f"hypercube point closest to {target.label}"] = lhs[k]
    return out


def base_scenario(scenario: Scenario, space: Space) -> Scenario:
    """The scenario a calibration starts from: parameters calibrated earlier but not fitted now
    are reset to their documented values, so a calibration never builds on a stale one."""
    priors = ParameterSet.priors()
    stale = {p: priors[p] for p in read_calibrated().get("parameters", {}) if p not in space.paths and p in priors}
    return scenario.with_overrides(stale, origin="calibration") if stale else scenario


def calibrate(
    scenario: Scenario,
    *,
    settings: Settings = QUICK,
    paths: Sequence[str] = FITTED_PARAMETERS,
    targets: Sequence[Target] | None = None,
    scale: float | None = None,
    workers: int | None = None,
    progress: bool = False,
    log: Any = None,
    params_file: Path | None = None,
) -> Calibration:
    """Fit ``paths`` to ``targets`` (default: :func:`default_targets`) and check the fit.

    Args:
        scenario: the scenario calibrated (the baseline); its seed is the base of every seed used.
        settings: :data:`QUICK` or :data:`FULL` (or your own :class:`Settings`).
        paths: parameters to fit, each with a calibration range.
        scale: real households per agent in every run (default: the scenario's sampling design).
        workers: processes (default: all CPUs).
        progress: show progress bars; ``log``: a callable for progress lines (e.g. print).
        params_file: the calibration a :data:`REFINE` run starts from (default: the package's).

    Raises:
        PovsimInputError: a path is unknown or has no range; refining without a calibrated value.
    """
    t_start = time.perf_counter()
    say = log or (lambda *_: None)
    targets = list(default_targets() if targets is None else targets)
    priors = ParameterSet.priors()
    space = Space.from_paths(priors, paths)
    sc = base_scenario(scenario, space)
    base = sc.run.seed
    prior_values = {p: priors[p] for p in space.paths}
    if (
        scale is not None
        and scale != sc.run.scale
        and any(t.fitted and t.outcome.startswith("counties") for t in targets)
    ):
        design = sc.run.sampling
        say(
            f"warning: county exits depend on how finely the poor areas are sampled (docs/calibration.md, "
            f"Sampling design); the county targets' tolerances assume the scenario's design, {design}"
        )
    u0 = space.position(prior_values)
    refined = None
    if settings.refine:
        previous = read_calibrated(params_file).get("parameters", {})
        missing = [p for p in space.paths if p not in previous]
        if len(missing) == len(space.paths):
            raise PovsimInputError(
                f"{params_file or calibrated_path()}: no calibrated value of {', '.join(missing)} to refine; "
                "run a full calibration first"
            )
        if missing:  # e.g. a parameter newly added to the fitted set
            say(f"refining from the calibration; not in it, so from the documented values: {', '.join(missing)}")
        start = {p: previous[p]["value"] if p in previous else prior_values[p] for p in space.paths}
        refined = space.position(start)
    offset = REFINE_SEED_OFFSET if settings.refine else FIT_SEED_OFFSET
    fit_seeds = [rep_seed(base, offset + i) for i in range(settings.seeds)]
    check_seeds = [rep_seed(base, r) for r in range(CHECK_REPS)]

    with Evaluator(sc, fit_seeds, end_year=FORECAST_ORIGIN, scale=scale, workers=workers, progress=progress) as ev:
        obj = Objective(ev, space, targets, u0)
        prior_loss = obj.loss(u0)
        say(f"documented values: loss {prior_loss:.2f} ({settings.seeds} seeds per point)")
        starts = {"documented values": u0} if refined is None else {"previous calibration": refined}
        if settings.lhs:
            obj.stage = "latin hypercube"
            lhs = qmc.LatinHypercube(d=len(space), seed=base % 2**32).random(settings.lhs)
            obj.means(list(lhs))
            best_point = lhs[int(np.argmin([obj.loss(u) for u in lhs]))]
            starts["best hypercube point"] = best_point
            say(f"latin hypercube of {settings.lhs}: best loss {obj.loss(best_point):.2f}")

        results = []

        def fit_from(name: str, start: np.ndarray) -> None:
            obj.stage = f"least squares from {name}"
            res = least_squares(
                obj.fun,
                start,
                jac=obj.jac,
                bounds=(0.0, 1.0),
                method="trf",
                max_nfev=settings.max_nfev,
                xtol=1e-3,
                ftol=1e-3,
                gtol=1e-4,
            )
            say(f"{obj.stage}: loss {2 * res.cost:.3f} after {res.nfev} steps")
            results.append(res)

        for name, start in starts.items():
            fit_from(name, start)
        if settings.lhs:
            # then, for each fitted target the best fit so far still misses, from the hypercube point
            # closest to meeting it (a flat target, e.g. county exits, is found nowhere else)
            so_far = np.clip(min(results, key=lambda r: r.cost).x, 0.0, 1.0)
            used = list(starts.values())
            for name, start in hypercube_starts(obj, lhs, missed_at=so_far).items():
                if not any(np.array_equal(start, u) for u in used):
                    used.append(start)
                    fit_from(name, start)
        best_res = min(results, key=lambda r: r.cost)
        u_star = np.clip(best_res.x, 0.0, 1.0)
        obj.stage = "posterior"
        jac = obj.jac(u_star)
        cov = np.linalg.pinv(jac.T @ jac)
        draws_u = _draws(u_star, cov, settings.draws, seed=base % 2**32)
        fit_runs = ev.runs

        # Checks: documented and calibrated values under the ten batch seeds, the draws with one seed each.
        prior_runs = ev.evaluate([space.point(u0)], check_seeds)
        check_runs = ev.evaluate([space.point(u_star)], check_seeds)
        draw_seeds = [rep_seed(base, 2000 + i) for i in range(len(draws_u))]
        draw_runs = ev.evaluate_paired(space.points(draws_u), draw_seeds)
        runs = ev.runs

    values = space.point(u_star)
    sd_u = np.sqrt(np.clip(np.diag(cov), 0, None))
    posterior_sd = {d.path: float(s * (d.hi - d.lo)) for d, s in zip(space.dims, sd_u, strict=True)}
    draws = pd.DataFrame(space.points(draws_u))
    report = fit_report(targets, prior_runs, check_runs, draw_runs)
    evaluations = pd.DataFrame(obj.log)
    say(f"{runs} runs ({fit_runs} fitting) in {time.perf_counter() - t_start:.0f} s")
    return Calibration(
        settings=settings,
        space=space,
        targets=targets,
        prior=prior_values,
        values=values,
        posterior_sd=posterior_sd,
        draws=draws,
        report=report,
        evaluations=evaluations,
        loss=2 * float(best_res.cost),
        prior_loss=prior_loss,
        runs=runs,
        seconds=time.perf_counter() - t_start,
        sampling=sc.with_settings(scale=scale, origin="--scale").run.sampling,
        check_runs=check_runs,
        draw_runs=draw_runs,
        prior_runs=prior_runs,
    )


def check_calibration(
    scenario: Scenario,
    *,
    targets: Sequence[Target] | None = None,
    scale: float | None = None,
    workers: int | None = None,
    progress: bool = False,
    params_file: Path | None = None,
) -> Calibration:
    """Re-check a written calibration against ``targets`` (default: every target) without fitting:
    run its values with the ten check seeds, the documented values alike, and its posterior draws
    with the seeds ``calibrate`` gave them, and report as a calibration does. For a new target or a
    changed model, before deciding whether to recalibrate.

    Raises:
        PovsimInputError: the file holds no calibration.
    """
    t_start = time.perf_counter()
    data = read_calibrated(params_file)
    values = {p: item["value"] for p, item in data.get("parameters", {}).items()}
    if not values:
        raise PovsimInputError(f"{params_file or calibrated_path()}: no calibration to check; run povsim calibrate")
    targets = list(default_targets() if targets is None else targets)
    priors = ParameterSet.priors()
    space = Space.from_paths(priors, list(values))
    sc = base_scenario(scenario, space)
    base = sc.run.seed
    prior_values = {p: priors[p] for p in space.paths}
    items = data["parameters"]
    n_draws = min(len(items[p].get("ensemble", [])) for p in space.paths)
    draws = pd.DataFrame({p: items[p]["ensemble"][:n_draws] for p in space.paths})
    check_seeds = [rep_seed(base, r) for r in range(CHECK_REPS)]
    with Evaluator(sc, check_seeds, end_year=FORECAST_ORIGIN, scale=scale, workers=workers, progress=progress) as ev:
        prior_runs = ev.evaluate([prior_values])
        check_runs = ev.evaluate([values])
        draw_seeds = [rep_seed(base, 2000 + i) for i in range(n_draws)]
        draw_runs = ev.evaluate_paired(draws.to_dict("records"), draw_seeds)
        runs = ev.runs
    meta = data.get("meta", {})
    return Calibration(
        settings=Settings("check", seeds=CHECK_REPS, lhs=0, max_nfev=0, draws=n_draws),
        space=space,
        targets=targets,
        prior=prior_values,
        values=values,
        posterior_sd={p: float(items[p].get("posterior_sd", float("nan"))) for p in space.paths},
        draws=draws,
        report=fit_report(targets, prior_runs, check_runs, draw_runs),
        evaluations=pd.DataFrame(),
        loss=float(meta.get("loss", float("nan"))),
        prior_loss=float(meta.get("loss_at_documented_values", float("nan"))),
        runs=runs,
        seconds=time.perf_counter() - t_start,
        sampling=sc.with_settings(scale=scale, origin="--scale").run.sampling,
        check_runs=check_runs,
        draw_runs=draw_runs,
        prior_runs=prior_runs,
    )


def _draws(u: np.ndarray, cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` draws from N(u, cov) inside the unit cube (rejection, then clipping as a last resort)."""
    if n <= 0:
        return np.empty((0, len(u)))
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for _ in range(200):
        x = rng.multivariate_normal(u, cov, size=n, method="eigh")
        out.extend(x[((x >= 0) & (x <= 1)).all(axis=1)])
        if len(out) >= n:
            break
    if len(out) < n:
        out.extend(np.clip(rng.multivariate_normal(u, cov, size=n - len(out), method="eigh"), 0, 1))
    return np.array(out[:n])


def fit_report(
    targets: Sequence[Target], prior_runs: pd.DataFrame, check_runs: pd.DataFrame, draw_runs: pd.DataFrame
) -> pd.DataFrame:
    """One row per target: observed; the documented-value and calibrated means over the check
    seeds; the 90% band over the check seeds and over the posterior draws; relative errors."""
    rows = []
    for t in targets:
        prior = float(prior_runs[t.outcome].mean())
        cal = float(check_runs[t.outcome].mean())
        lo, hi = interval(check_runs[t.outcome])
        dlo, dhi = interval(draw_runs[t.outcome]) if len(draw_runs) else (np.nan, np.nan)
        rows.append(
            {
                "target": t.outcome,
                "label": t.label,
                "year": t.year,
                "observed": t.observed,
                "tolerance_sd": t.sd,
                "fitted": t.fitted,
                "prior_mean": prior,
                "calibrated_mean": cal,
                "calibrated_rel_error": cal / t.observed - 1,
                "within_2sd": abs(cal - t.observed) <= 2 * t.sd,
                "acceptance": t.acceptance,
                "met": t.accepts(cal),
                "seeds_p05": lo,
                "seeds_p95": hi,
                "posterior_p05": dlo,
                "posterior_p95": dhi,
                "prior_rel_error": prior / t.observed - 1,
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


# -- outputs ----------------------------------------------------------------------------


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(float(f"{v:.6g}"))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def calibrated_toml(cal: Calibration, command: str) -> str:
    """The calibrated-values file: provenance in ``[meta]``, one table per parameter."""
    fitted = [t for t in cal.targets if t.fitted]
    meta = {
        "targets": ", ".join(t.label for t in fitted) + " (all ≤ 2017)",
        "method": "MAP least squares over common-random-number seeds with a Gaussian prior on each range, "
        "Laplace-approximation draws (povsim.calibration.fit)",
        "date": dt.date.today().isoformat(),
        "version": __version__,
        "command": command,
        "mode": cal.settings.mode,
        "seeds_per_point": cal.settings.seeds,
        "runs": int(cal.runs),
        "loss": float(cal.loss),
        "loss_at_documented_values": float(cal.prior_loss),
        "sampling": cal.sampling,
    }
    lines = [
        "# Calibrated parameter values, written by `povsim calibrate` (do not edit by hand: rerun it).",
        "# These replace the documented (prior) values of povsim/params/*.toml for every run;",
        "# `ensemble` holds posterior draws used by `povsim forecast` for parameter uncertainty.",
        "",
        "[meta]",
    ]
    lines += [f"{k} = {_toml_value(v)}" for k, v in meta.items()]
    priors = ParameterSet.priors()
    for d in cal.space.dims:
        p = priors.parameter(d.path)
        value = cal.values[d.path]
        lines += [
            "",
            f'[parameters."{d.path}"]',
            f"value = {_toml_value(value)}",
            f"unit = {_toml_value(p.unit)}",
            f"prior = {_toml_value(p.value)}",
            f"range = {_toml_value([d.lo, d.hi])}",
            f"posterior_sd = {_toml_value(cal.posterior_sd[d.path])}",
            f"ensemble = {_toml_value([type(p.value)(x) for x in cal.draws[d.path]])}",
        ]
    return "\n".join(lines) + "\n"


def write_calibration(cal: Calibration, out_dir: str | Path, params_file: str | Path | None, command: str) -> dict:
    """Write the fit report (``fit.csv``, ``fit.png``), ``evaluations.csv``, ``posterior.csv`` and
    ``calibration.json`` into ``out_dir``, and the calibrated values to ``params_file``. Each file
    atomically. Pass :func:`povsim.parameters.calibrated_path` as ``params_file`` to replace the
    calibration every run uses (what ``povsim calibrate`` does); any other path leaves it alone;
    None writes the report only (a re-check, :func:`check_calibration`)."""
    from povsim.calibration.report import fit_figure
    from povsim.parameters import _load_calibrated

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = None if params_file is None else Path(str(params_file))
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    png = fit_figure(cal)
    written = {
        "fit": write_csv(cal.report, out / "fit.csv"),
        "figure": write_bytes(png, out / "fit.png"),
        "posterior": write_csv(cal.draws, out / "posterior.csv"),
    }
    if len(cal.evaluations):  # a re-check evaluates no fit
        written["evaluations"] = write_csv(cal.evaluations, out / "evaluations.csv")
    if target is not None:
        written["params"] = write_bytes(calibrated_toml(cal, command).encode("utf-8"), target)
    manifest = {
        "command": command,
        "mode": cal.settings.mode,
        "settings": cal.settings.__dict__,
        "targets": cal.report[["target", "observed", "tolerance_sd", "fitted", "source"]].to_dict("records"),
        "parameters": {
            p: {"prior": cal.prior[p], "calibrated": cal.values[p], "posterior_sd": cal.posterior_sd[p]}
            for p in cal.space.paths
        },
        "loss": cal.loss,
        "loss_at_documented_values": cal.prior_loss,
        "accepted": cal.accepted(),
        "missed_fitted": cal.missed(fitted=True),
        "missed_checked": cal.missed(fitted=False),
        "runs": cal.runs,
        "seconds": round(cal.seconds, 1),
        "version": __version__,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "params_file": str(target) if target is not None else None,
    }
    written["manifest"] = write_json(manifest, out / "calibration.json")
    _load_calibrated.cache_clear()
    return written


def check_paths(paths: Sequence[str]) -> None:
    """Reject unknown or range-less parameters before any run.

    Raises:
        PovsimInputError: naming the parameter.
    """
    Space.from_paths(ParameterSet.priors(), paths)
