"""``povsim backtest --origin YEAR``: calibrate on data up to YEAR, forecast to 2017, score it.

The out-of-sample test of the forecast method. From an earlier origin (2015 or 2016) the model is
calibrated exactly as ``povsim calibrate`` does, but only on the targets describing the origin
year or earlier (:func:`povsim.calibration.targets.default_targets` filtered by year); its posterior
draws, each with its own seed, are run to 2017 — the same ensemble the 2018–2020 forecast uses — and
every target describing a year after the origin is scored against it: the national and regional
survey headcounts, the counties exited, the re-registered (返贫) people and the relocated people.
The naive linear and log-linear trends are fitted to the survey headcounts of 2014 to the origin
(by region: the national trend times the region's 2014 share) and scored alike.

What the backtest cannot hide: the policy inputs of the years after the origin — the budgets, the
低保 standards, the relocation schedule — are documented inputs, not outcomes, and are used as
documented (a forecast conditional on the policy that was announced), as in the 2018–2020 forecast.
Parameters calibrated in the committed calibration are reset to their documented values before the
fit (:func:`povsim.calibration.fit.base_scenario`), so nothing fitted to 2017 enters a backtest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from povsim.calibration.evaluate import interval
from povsim.calibration.fit import Calibration, Settings, calibrate
from povsim.calibration.forecast import naive_trends
from povsim.calibration.targets import Target, default_targets
from povsim.errors import PovsimInputError
from povsim.observed import FORECAST_ORIGIN, REGIONAL_POOR_PEOPLE
from povsim.parameters import REGIONS
from povsim.scenario import Scenario

ORIGINS = (2015, 2016)
"""Origins a backtest can start from: at least one fitted survey year, and a later year to score."""

SCORED_PREFIXES = ("poor_people", "counties_exited", "reregistered_people", "relocated_people")
"""Kinds of target scored after the origin (incidence repeats the headcount; the registry stock is
not observed after 2015)."""


@dataclass
class Backtest:
    """A backtest's calibration and scores.

    Attributes:
        origin: the last year whose observations were used.
        calibration: the fit on the targets up to ``origin``.
        table: one row per scored target: observed; the model's mean and 90% interval over the
            posterior draws (each with its own seed) and whether the interval covers the
            observation; the calibrated point's ten-seed mean; the naive trends (headcounts only);
            and each forecast's relative error.
        summary: by kind of target, the mean absolute relative error of the model (draws' mean),
            the calibrated point and the two naive trends, and the interval coverage.
    """

    origin: int
    calibration: Calibration
    table: pd.DataFrame
    summary: pd.DataFrame


def check_origin(origin: int) -> None:
    """Reject an origin outside :data:`ORIGINS`.

    Raises:
        PovsimInputError: naming the origin and the allowed values.
    """
    if origin not in ORIGINS:
        allowed = ", ".join(str(o) for o in ORIGINS)
        raise PovsimInputError(
            f"--origin {origin}: must be one of {allowed} (a year with survey data to fit and a later year up to "
            f"{FORECAST_ORIGIN} to score)"
        )


def split_targets(origin: int) -> tuple[list[Target], list[Target]]:
    """The targets a backtest from ``origin`` fits (and checks) — those describing ``origin`` or
    earlier — and those it scores: the later ones of :data:`SCORED_PREFIXES`."""
    targets = default_targets()
    before = [t for t in targets if t.year <= origin]
    after = [t for t in targets if origin < t.year <= FORECAST_ORIGIN and t.outcome.startswith(SCORED_PREFIXES)]
    return before, after


def _region(outcome: str) -> str:
    parts = outcome.split("_")
    return parts[2] if parts[0] == "poor" and parts[2] in REGIONS else "national"


def score(origin: int, scored: list[Target], cal: Calibration) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the calibration's posterior runs (to 2017) on the targets after ``origin``."""
    fit_years = list(range(2014, origin + 1))
    naive = naive_trends(range(2014, FORECAST_ORIGIN + 1), fit_years=fit_years)
    shares = {r: v / sum(REGIONAL_POOR_PEOPLE[2014].values()) for r, v in REGIONAL_POOR_PEOPLE[2014].items()}
    rows = []
    for t in scored:
        draws = cal.draw_runs[t.outcome]
        lo, hi = interval(draws)
        mean = float(draws.mean())
        region = _region(t.outcome)
        headcount = t.outcome.startswith("poor_people")
        share = 1.0 if region == "national" else shares[region]
        lin = float(naive.loc[t.year, "naive_linear"]) * share if headcount else np.nan
        loglin = float(naive.loc[t.year, "naive_loglinear"]) * share if headcount else np.nan
        point = float(cal.check_runs[t.outcome].mean())
        rows.append(
            {
                "target": t.outcome,
                "label": t.label,
                "kind": "headcount" if headcount else t.outcome.rsplit("_", 1)[0],
                "year": t.year,
                "region": region,
                "observed": t.observed,
                "model_mean": mean,
                "model_p05": lo,
                "model_p95": hi,
                "covered": bool(lo <= t.observed <= hi),
                "calibrated_point": point,
                "naive_linear": lin,
                "naive_loglinear": loglin,
                "model_rel_error": mean / t.observed - 1,
                "point_rel_error": point / t.observed - 1,
                "naive_linear_rel_error": lin / t.observed - 1,
                "naive_loglinear_rel_error": loglin / t.observed - 1,
                "source": t.source,
            }
        )
    table = pd.DataFrame(rows)
    errors = ["model_rel_error", "point_rel_error", "naive_linear_rel_error", "naive_loglinear_rel_error"]
    summary = table.groupby("kind", sort=False).agg(
        targets=("target", "size"),
        **{f"mean_abs_{e}": (e, lambda x: float(np.nanmean(np.abs(x))) if x.notna().any() else np.nan) for e in errors},
        coverage=("covered", "mean"),
    )
    return table, summary.reset_index()


def run_backtest(
    scenario: Scenario,
    origin: int,
    *,
    settings: Settings,
    scale: float | None = None,
    workers: int | None = None,
    progress: bool = False,
    log=None,
) -> Backtest:
    """Calibrate on the targets up to ``origin`` (``settings``: QUICK or FULL; a refinement would
    start from the committed calibration, which saw 2017) and score the forecast to 2017."""
    check_origin(origin)
    if settings.refine:
        raise PovsimInputError("a backtest cannot refine: the committed calibration it would start from saw 2017")
    fit_targets, scored = split_targets(origin)
    # every run records every outcome, so the scored targets need not be among the fit's
    cal = calibrate(
        scenario, settings=settings, targets=fit_targets, scale=scale, workers=workers, progress=progress, log=log
    )
    table, summary = score(origin, scored, cal)
    return Backtest(origin=origin, calibration=cal, table=table, summary=summary)


def backtest_text(bt: Backtest) -> str:
    """The scores as a printable table (headcounts in millions)."""
    lines = [
        f"Backtest from the end of {bt.origin}: calibrated on data to {bt.origin}, forecast to {FORECAST_ORIGIN}",
        f"{'target':<38}{'observed':>10}{'model [90% interval]':>28}{'covered':>9}{'point':>9}{'linear':>9}"
        f"{'log-lin':>9}",
    ]
    for _, r in bt.table.iterrows():
        m = 1e6 if r.observed > 1000 else 1.0

        def f(x: float, m: float = m) -> str:
            return "—" if x != x else (f"{x / m:.2f}" if m > 1 else f"{x:.1f}")

        band = f"{f(r.model_mean)} [{f(r.model_p05)}, {f(r.model_p95)}]"
        lines.append(
            f"{r.label:<38}{f(r.observed):>10}{band:>28}{'yes' if r.covered else 'no':>9}{f(r.calibrated_point):>9}"
            f"{f(r.naive_linear):>9}{f(r.naive_loglinear):>9}"
        )
    lines.append("")
    lines.append(
        f"{'kind':<22}{'targets':>8}{'model':>9}{'point':>9}{'linear':>9}{'log-lin':>9}{'coverage':>10}"
        "   (mean absolute relative error)"
    )
    for _, r in bt.summary.iterrows():

        def pct(x: float) -> str:
            return "—" if x != x else f"{x:.1%}"

        lines.append(
            f"{r.kind:<22}{r.targets:>8}{pct(r.mean_abs_model_rel_error):>9}{pct(r.mean_abs_point_rel_error):>9}"
            f"{pct(r.mean_abs_naive_linear_rel_error):>9}{pct(r.mean_abs_naive_loglinear_rel_error):>9}"
            f"{r.coverage:>10.0%}"
        )
    return "\n".join(lines)


def backtest_figure(bt: Backtest) -> bytes:
    """National and regional headcounts 2014–2017: the backtest's posterior band and mean, the
    calibrated point, the naive trends from the origin and the survey (PNG)."""
    import matplotlib.pyplot as plt

    from povsim.observed import SURVEY_POOR_PEOPLE
    from povsim.reporting import png_bytes

    cal = bt.calibration
    years = list(range(2014, FORECAST_ORIGIN + 1))
    naive = naive_trends(years, fit_years=list(range(2014, bt.origin + 1)))
    total_2014 = sum(REGIONAL_POOR_PEOPLE[2014].values())
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), dpi=110)
    for ax, region in zip(axes.flat, ("national", *REGIONS), strict=True):
        stem = "poor_people" if region == "national" else f"poor_people_{region}"
        cols = [f"{stem}_{y}" for y in years]
        draws = cal.draw_runs[cols] / 1e6
        lo = [interval(draws[c])[0] for c in cols]
        hi = [interval(draws[c])[1] for c in cols]
        ax.fill_between(years, lo, hi, color="C0", alpha=0.25, lw=0, label="model: 90% interval (posterior draws)")
        ax.plot(years, draws.mean().to_numpy(), "-o", color="C0", ms=4, label="model: mean")
        ax.plot(years, (cal.check_runs[cols] / 1e6).mean().to_numpy(), ":", color="C0", label="calibrated point")
        share = 1.0 if region == "national" else REGIONAL_POOR_PEOPLE[2014][region] / total_2014
        after = [y for y in years if y >= bt.origin]
        ax.plot(after, naive.loc[after, "naive_linear"] * share / 1e6, "--", color="C2", label="naive: linear trend")
        ax.plot(
            after, naive.loc[after, "naive_loglinear"] * share / 1e6, ":", color="C3", lw=2, label="naive: log-linear"
        )
        if region == "national":
            obs = {y: SURVEY_POOR_PEOPLE[y] for y in years}
        else:
            obs = {y: v[region] for y, v in REGIONAL_POOR_PEOPLE.items() if y in years}
        used = [y for y in obs if y <= bt.origin]
        unseen = [y for y in obs if y > bt.origin]
        ax.plot(used, [obs[y] / 1e6 for y in used], "k^", ms=7, label="NBS survey: to the origin")
        ax.plot(
            unseen,
            [obs[y] / 1e6 for y in unseen],
            "^",
            color="k",
            mfc="white",
            ms=8,
            label="NBS survey: after the origin (unseen)",
        )
        ax.axvline(bt.origin + 0.5, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{region}: rural poor people", fontsize=10)
        ax.set_ylabel("millions")
        ax.set_ylim(bottom=0)
        ax.set_xticks(years)
        ax.grid(alpha=0.3)
        if region == "national":
            ax.legend(fontsize=7)
    fig.suptitle(
        f"Backtest: calibrated on data to {bt.origin} ({cal.settings.mode}, {cal.runs} runs), forecast to "
        f"{FORECAST_ORIGIN}, {len(cal.draw_runs)} posterior draws",
        fontsize=11,
    )
    fig.tight_layout()
    return png_bytes(fig)
