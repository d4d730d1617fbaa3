"""``povsim forecast``: 2018–2020 with 90% intervals, beside two naive trend forecasts.

The model forecast is an ensemble: replication ``r`` runs posterior parameter draw ``r`` (cycling
through the ``ensemble`` written by ``povsim calibrate``) with its own seed, so the interval
carries both parameter uncertainty and stochastic variation. The naive forecasts are fitted to
the same 2014–2017 survey headcounts the model was calibrated on: a linear trend (least squares
on the level, floored at zero) and a log-linear trend (least squares on the logarithm, i.e. a
constant rate of decline). By region they apply the national trend to each region's 2014 share
(the survey's regional series after 2014 is not among the calibration data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from povsim.calibration.evaluate import Evaluator, interval
from povsim.experiments.spec import rep_seed
from povsim.observed import FORECAST_ORIGIN, SURVEY_POOR_PEOPLE, TARGET_2020_POOR_PEOPLE
from povsim.parameters import REGIONS, read_calibrated
from povsim.scenario import Scenario

FIRST_YEAR = 2014
HORIZON = 2020
"""The forecast runs to the campaign's target year."""

NAIVE_YEARS = tuple(range(2014, FORECAST_ORIGIN + 1))
"""Years the naive trends are fitted to (the calibration window)."""


@dataclass
class Forecast:
    """A forecast ensemble and its summary.

    Attributes:
        table: one row per year and region: model mean and 5%/95% points, the survey value
            where observed (≤ 2017, national), and the two naive forecasts.
        runs: one row per replication: its parameter draw, seed and outcomes.
        parameter_draws: draws used (0 when uncalibrated: stochastic variation only).
    """

    table: pd.DataFrame
    runs: pd.DataFrame
    parameter_draws: int
    notes: list[str] = field(default_factory=list)


def ensemble_points() -> list[dict[str, float]]:
    """The posterior parameter draws written by ``povsim calibrate`` (empty when uncalibrated)."""
    data = read_calibrated().get("parameters", {})
    columns = {p: item.get("ensemble", []) for p, item in data.items()}
    n = min((len(v) for v in columns.values()), default=0)
    return [{p: v[i] for p, v in columns.items()} for i in range(n)]


def naive_trends(years: range | list[int]) -> pd.DataFrame:
    """Linear and log-linear trends fitted to the survey headcount of 2014–2017, for ``years``."""
    x = np.array(NAIVE_YEARS, float)
    y = np.array([SURVEY_POOR_PEOPLE[int(t)] for t in x])
    lin = np.polyfit(x, y, 1)
    loglin = np.polyfit(x, np.log(y), 1)
    ys = np.array(list(years), float)
    return pd.DataFrame(
        {
            "naive_linear": np.clip(np.polyval(lin, ys), 0, None),
            "naive_loglinear": np.exp(np.polyval(loglin, ys)),
        },
        index=pd.Index([int(t) for t in ys], name="year"),
    )


def run_forecast(
    scenario: Scenario,
    reps: int,
    *,
    scale: float = 1000.0,
    workers: int | None = None,
    progress: bool = False,
) -> Forecast:
    """Run the forecast ensemble of ``reps`` replications to 2020 and summarise it."""
    points = ensemble_points()
    notes = []
    if not points:
        notes.append("no calibration ensemble found: intervals show stochastic variation only (run povsim calibrate)")
        points = [{}]
    # a scenario's own setting of a calibrated parameter wins over the posterior draw
    own = set(scenario.overrides)
    chosen = [{k: v for k, v in points[r % len(points)].items() if k not in own} for r in range(reps)]
    seeds = [rep_seed(scenario.run.seed, r) for r in range(reps)]
    end_year = max(HORIZON, scenario.run.end_year)
    with Evaluator(scenario, seeds, end_year=end_year, scale=scale, workers=workers, progress=progress) as ev:
        runs = ev.evaluate_paired(chosen, seeds)
    runs.insert(1, "draw", [r % len(points) for r in range(reps)])
    years = list(range(FIRST_YEAR, HORIZON + 1))
    naive = naive_trends(years)
    shares = {
        r: float(runs[f"poor_people_{r}_{FIRST_YEAR}"].mean() / runs[f"poor_people_{FIRST_YEAR}"].mean())
        for r in REGIONS
    }
    rows = []
    for year in years:
        for region in ("national", *REGIONS):
            col = f"poor_people_{year}" if region == "national" else f"poor_people_{region}_{year}"
            lo, hi = interval(runs[col])
            share = 1.0 if region == "national" else shares[region]
            rows.append(
                {
                    "year": year,
                    "region": region,
                    "model_mean": float(runs[col].mean()),
                    "model_p05": lo,
                    "model_p95": hi,
                    "observed": float(SURVEY_POOR_PEOPLE[year])
                    if region == "national" and year in SURVEY_POOR_PEOPLE
                    else np.nan,
                    "naive_linear": float(naive.loc[year, "naive_linear"]) * share,
                    "naive_loglinear": float(naive.loc[year, "naive_loglinear"]) * share,
                    "target_met_share": float((runs[col] <= TARGET_2020_POOR_PEOPLE).mean())
                    if year == HORIZON
                    else np.nan,
                }
            )
    return Forecast(
        table=pd.DataFrame(rows), runs=runs, parameter_draws=len(points) if points != [{}] else 0, notes=notes
    )


def forecast_text(fc: Forecast) -> str:
    """The 2018–2020 forecast as a printable table (millions of people)."""
    t = fc.table[fc.table["year"] > FORECAST_ORIGIN]
    lines = [
        f"{'year':<6}{'region':<10}{'model mean [90% interval]':>30}{'linear trend':>15}{'log-linear trend':>18}",
    ]
    for _, r in t.iterrows():
        band = f"{r.model_mean / 1e6:6.2f} [{r.model_p05 / 1e6:5.2f}, {r.model_p95 / 1e6:5.2f}]"
        lines.append(f"{r.year:<6}{r.region:<10}{band:>30}{r.naive_linear / 1e6:15.2f}{r.naive_loglinear / 1e6:18.2f}")
    return "\n".join(lines)


def forecast_figure(fc: Forecast) -> bytes:
    """National and regional poor people: the model's mean and 90% band, the survey to 2017, the
    naive trends and the 2020 target (PNG)."""
    import matplotlib.pyplot as plt

    from povsim.reporting import png_bytes

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), dpi=110)
    for ax, region in zip(axes.flat, ("national", *REGIONS), strict=True):
        t = fc.table[fc.table["region"] == region].set_index("year")
        ax.fill_between(
            t.index, t.model_p05 / 1e6, t.model_p95 / 1e6, color="C0", alpha=0.25, lw=0, label="model: 90% interval"
        )
        ax.plot(t.index, t.model_mean / 1e6, "-o", color="C0", ms=4, label="model: mean")
        future = t.index >= FORECAST_ORIGIN
        ax.plot(t.index[future], t.naive_linear[future] / 1e6, "--", color="C2", label="naive: linear trend")
        ax.plot(
            t.index[future], t.naive_loglinear[future] / 1e6, ":", color="C3", lw=2, label="naive: log-linear trend"
        )
        if region == "national":
            obs = t.observed.dropna()
            ax.plot(obs.index, obs / 1e6, "k^", ms=7, label="NBS survey (to 2017)")
            ax.plot([HORIZON], [TARGET_2020_POOR_PEOPLE], "r*", ms=14, label="2020 target")
        ax.axvline(FORECAST_ORIGIN + 0.5, color="grey", lw=0.8, ls=":")
        ax.set_title(
            f"{region}: rural poor people" + (" (naive: national trend × 2014 share)" if region != "national" else ""),
            fontsize=10,
        )
        ax.set_ylabel("millions")
        ax.set_ylim(bottom=0)
        ax.set_xticks(list(t.index))
        ax.grid(alpha=0.3)
        if region == "national":
            ax.legend(fontsize=7)
    draws = f"{fc.parameter_draws} posterior draws" if fc.parameter_draws else "no parameter uncertainty"
    fig.suptitle(f"Forecast from the end of {FORECAST_ORIGIN}: {len(fc.runs)} runs ({draws} × own seeds)", fontsize=11)
    fig.tight_layout()
    return png_bytes(fig)
