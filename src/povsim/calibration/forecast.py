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

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from povsim.calibration.evaluate import Evaluator, interval
from povsim.experiments.compare import MIN_BAND_RUNS
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
        decomposition: one row per year and component of the national headcount's change and
            the registry's flows (:func:`decomposition`).
    """

    table: pd.DataFrame
    runs: pd.DataFrame
    parameter_draws: int
    notes: list[str] = field(default_factory=list)
    decomposition: pd.DataFrame = field(default_factory=pd.DataFrame)


HEADCOUNT_COMPONENTS: tuple[tuple[str, str], ...] = (
    ("change", "change in poor people (survey definition)"),
    ("fell_into_poverty_people", "fell below the line"),
    ("relapse_people", "  of whom exited households (relapse)"),
    ("newly_poor_people", "  of whom never registered (newly poor)"),
    ("registered_fell_in", "  of whom registered, not yet exited"),
    ("escaped_poverty_people", "rose above the line"),
)
"""The headcount's change, ``poor(t) − poor(t−1) = fell below − rose above``, and who fell below."""

REGISTRY_COMPONENTS: tuple[tuple[str, str], ...] = (
    ("exits_people", "registry exits"),
    ("reregistered_people", "re-registered (exited households taken back)"),
    ("newly_registered_people", "newly registered"),
    ("removed_people", "removed by the re-check"),
)
"""The registry's flows of the year."""


def decomposition(runs: pd.DataFrame) -> pd.DataFrame:
    """Why each year's headcount moves: per year and component, the mean over the runs and the
    5% and 95% points.

    Components: the change in the survey-definition headcount and its two sides — people who fell
    below the line (split into exited households relapsing, never-registered households becoming
    poor, and registered households falling further) and people who rose above it; the registry's
    exits, re-registrations, new registrations and removals; and the registry exits credited to each
    channel (``exits: <channel>``). The identity ``change = fell below − rose above`` holds run by run.
    """
    years = sorted(int(c.rsplit("_", 1)[1]) for c in runs.columns if c.startswith("fell_into_poverty_people_"))
    channels = sorted(
        {c[len("exits_people_") :].rsplit("_", 1)[0] for c in runs.columns if c.startswith("exits_people_")}
        - {str(y) for y in years}
    )
    rows = []
    for year in years:
        values: dict[str, tuple[str, str, pd.Series]] = {}
        values["change"] = (
            "headcount",
            HEADCOUNT_COMPONENTS[0][1],
            runs[f"poor_people_{year}"] - runs[f"poor_people_{year - 1}"],
        )
        for key, label in HEADCOUNT_COMPONENTS[1:]:
            if key == "registered_fell_in":
                v = (
                    runs[f"fell_into_poverty_people_{year}"]
                    - runs[f"relapse_people_{year}"]
                    - runs[f"newly_poor_people_{year}"]
                )
            else:
                v = runs[f"{key}_{year}"]
            values[key] = ("headcount", label, v)
        for key, label in REGISTRY_COMPONENTS:
            values[key] = ("registry", label, runs.get(f"{key}_{year}", pd.Series(0.0, index=runs.index)))
        for channel in channels:
            col = f"exits_people_{channel}_{year}"
            if col in runs:
                values[f"exits_{channel}"] = ("exits by channel", f"exits: {channel}", runs[col])
        for key, (group, label, v) in values.items():
            lo, hi = interval(v)
            rows.append(
                {
                    "year": year,
                    "group": group,
                    "component": key,
                    "label": label,
                    "mean": float(v.mean()),
                    "p05": lo,
                    "p95": hi,
                }
            )
    return pd.DataFrame(rows)


def ensemble_points() -> list[dict[str, float]]:
    """The posterior parameter draws written by ``povsim calibrate`` (empty when uncalibrated)."""
    data = read_calibrated().get("parameters", {})
    columns = {p: item.get("ensemble", []) for p, item in data.items()}
    n = min((len(v) for v in columns.values()), default=0)
    return [{p: v[i] for p, v in columns.items()} for i in range(n)]


def naive_trends(years: range | list[int], fit_years: Sequence[int] = NAIVE_YEARS) -> pd.DataFrame:
    """Linear and log-linear trends fitted to the survey headcount of ``fit_years`` (default
    2014–2017, the calibration window; a backtest passes 2014 to its origin), for ``years``."""
    x = np.array(fit_years, float)
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
    scale: float | None = None,
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
        table=pd.DataFrame(rows),
        runs=runs,
        parameter_draws=min(reps, len(points)) if points != [{}] else 0,  # the distinct draws the runs used
        notes=notes,
        decomposition=decomposition(runs),
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
            ax.plot([HORIZON], [TARGET_2020_POOR_PEOPLE], "r*", ms=14, clip_on=False, zorder=5, label="2020 target")
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
    n = len(fc.runs)
    if fc.parameter_draws == n:
        how = "each a posterior parameter draw with its own seed"
    elif fc.parameter_draws:
        how = f"{fc.parameter_draws} posterior parameter draws, each run with its own seed"
    else:
        how = "own seeds, no parameter uncertainty"
    caveat = (
        ""
        if n >= MIN_BAND_RUNS
        else f"\n(fewer than {MIN_BAND_RUNS} runs: the band is about their range, not a 90% interval)"
    )
    fig.suptitle(f"Forecast from the end of {FORECAST_ORIGIN}: {n} runs ({how}){caveat}", fontsize=11)
    fig.tight_layout()
    return png_bytes(fig)


def decomposition_text(fc: Forecast) -> str:
    """The decomposition's means by year as a printable table (millions of people)."""
    d = fc.decomposition
    d = d[d["group"] != "exits by channel"]
    t = d.pivot_table(index=["group", "component"], columns="year", values="mean", sort=False) / 1e6
    labels = d.drop_duplicates("component").set_index("component")["label"]
    years = list(t.columns)
    lines = [f"{'':<48}" + "".join(f"{y:>8}" for y in years)]
    for (_, comp), row in t.iterrows():
        lines.append(f"{labels[comp]:<48}" + "".join(f"{v:8.2f}" for v in row))
    return "\n".join(lines)


def _finish_yearly_axis(ax, years: Sequence[int], title: str, legend_columns: int) -> None:
    """Title, yearly ticks, the forecast origin (dotted), a legend below and a light grid for one
    panel of the decomposition figure (people in millions per year)."""
    ax.axvline(FORECAST_ORIGIN + 0.5, color="grey", lw=0.8, ls=":")
    ax.set_title(title)
    ax.set_ylabel("millions of people in the year")
    ax.set_xticks(years)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=legend_columns)
    ax.grid(axis="y", alpha=0.3)


def decomposition_figure(fc: Forecast) -> bytes:
    """Why each year moves (PNG): the headcount's inflows (stacked by who fell below the line) and
    outflows with the net change and its 90% interval; and the registry exits by channel with the
    re-registrations and new registrations."""
    import matplotlib.pyplot as plt

    from povsim.reporting import png_bytes

    d = fc.decomposition
    mean = d.pivot_table(index="year", columns="component", values="mean") / 1e6
    lo = d.pivot_table(index="year", columns="component", values="p05") / 1e6
    hi = d.pivot_table(index="year", columns="component", values="p95") / 1e6
    years = list(mean.index)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 6.5), dpi=110)

    bottom = np.zeros(len(years))
    for key, label, color in (
        ("relapse_people", "fell below: exited households (relapse)", "C3"),
        ("newly_poor_people", "fell below: never registered (newly poor)", "C1"),
        ("registered_fell_in", "fell below: registered, not exited", "C8"),
    ):
        ax1.bar(years, mean[key], bottom=bottom, color=color, label=label)
        bottom += mean[key].to_numpy()
    ax1.bar(years, -mean["escaped_poverty_people"], color="C2", label="rose above the line")
    ax1.errorbar(
        years,
        mean["change"],
        yerr=[mean["change"] - lo["change"], hi["change"] - mean["change"]],
        fmt="-ko",
        capsize=3,
        label="net change in poor people (90% interval)",
    )
    ax1.axhline(0, color="k", lw=0.6)
    _finish_yearly_axis(ax1, years, "Poor people (survey definition): who fell below and rose above the line", 2)

    channel_cols = [c for c in mean.columns if c.startswith("exits_") and c != "exits_people"]
    channel_cols.sort(key=lambda c: -float(mean[c].sum()))
    bottom = np.zeros(len(years))
    for i, col in enumerate(channel_cols):
        ax2.bar(years, mean[col], bottom=bottom, color=f"C{i % 10}", label=col.replace("exits_", "exits: "))
        bottom += mean[col].to_numpy()
    ax2.plot(years, mean["reregistered_people"], "k^--", label="re-registered")
    ax2.plot(years, mean["newly_registered_people"], "ks:", mfc="none", label="newly registered")
    _finish_yearly_axis(ax2, years, "Registry: exits by channel credited, and entries", 4)
    share = fc.table.loc[(fc.table["region"] == "national") & (fc.table["year"] == HORIZON), "target_met_share"]
    fig.suptitle(
        f"Why each year moves: means of {len(fc.runs)} forecast runs (dotted: the forecast origin, {FORECAST_ORIGIN}); "
        f"share of runs meeting the {HORIZON} target: {float(share.iloc[0]):.0%}",
        fontsize=10,
    )
    fig.tight_layout()
    return png_bytes(fig)
