"""Compare the scenarios and sweep points of an experiment: a summary table and figures.

Every statistic is over replications: the mean and the 5–95% interval (the 5th and 95th
percentiles across replications, linear interpolation) of each scenario × grid point ×
year × region × measure × channel. Differences between scenarios are paired by replication:
with common random numbers, replication ``r`` of every scenario met the same shocks, so the
paired difference is much tighter than the difference of the two means' intervals suggests.

Figures (PNG, written atomically into the experiment folder):

- ``trajectories.png``: national income-poor people by year, mean and 5–95% band per
  scenario or sweep point, against the NBS survey series (to 2017) and the 2020 target;
- ``exits_by_channel.png``: registry exits over the campaign by channel (industry,
  employment, ...) when the results carry channels, otherwise total exits per year;
- ``relapse.png``: people falling back into poverty (返贫) per year;
- ``frontier.png``: poor people at the end of 2020 against total spending (the sum of
  ``spending_yuan`` over channels, 2015–2020) — the budget frontier. Without spending in the
  results it plots against the swept parameter instead and says so on the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from povsim.experiments.spec import CORE_COLUMNS, format_value, is_number
from povsim.experiments.store import SUMMARY_CSV, RunStore
from povsim.io import atomic_write, write_csv
from povsim.observed import FORECAST_ORIGIN, SURVEY_POOR_PEOPLE, TARGET_2020_POOR_PEOPLE
from povsim.reporting import png_bytes
from povsim.scenario import sampling_text

TARGET_YEAR = 2020
"""The campaign's deadline: no rural poor under the current standard by the end of 2020."""
FIRST_FLOW_YEAR = 2015
TAG_COLUMNS = ("scenario", "rep", "seed")
SUMMARY_KEYS = ["year", "region", "measure", "channel"]


def param_columns(runs: pd.DataFrame) -> list[str]:
    """The swept-parameter columns of a runs table (everything not core or a tag)."""
    return [c for c in runs.columns if c not in TAG_COLUMNS and c not in CORE_COLUMNS]


def group_columns(runs: pd.DataFrame) -> list[str]:
    """What identifies one scenario × grid point: ``scenario`` and the swept columns."""
    return ["scenario", *param_columns(runs)]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, 5–95% interval and count over replications.

    Returns:
        ``scenario, <swept parameters>, year, region, measure, channel, mean, p05, p95, n``,
        in the order the runs table lists them (scenario, grid point, then the model's
        row order), so the same runs give the same file.
    """
    keys = [*group_columns(runs), *SUMMARY_KEYS]
    grouped = runs.groupby(keys, sort=False, dropna=False)["value"]
    out = grouped.agg(["mean", "count"])
    quantiles = grouped.quantile([0.05, 0.95]).unstack()
    out["p05"] = quantiles[0.05]
    out["p95"] = quantiles[0.95]
    out = out.rename(columns={"count": "n"})[["mean", "p05", "p95", "n"]].reset_index()
    out["n"] = out["n"].astype(np.int64)
    return out


# -- the groups (scenario × grid point) -------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One scenario × grid point and its label in tables and figures."""

    scenario: str
    point: tuple[tuple[str, object], ...]
    label: str


def groups(runs: pd.DataFrame) -> list[Group]:
    """The scenario × grid points of a runs table, in table order, with short labels.

    The label is the scenario name, followed by the swept values when there are any
    (the scenario name is left out when there is only one scenario).
    """
    params = param_columns(runs)
    combos = runs[["scenario", *params]].drop_duplicates()
    one_scenario = runs["scenario"].nunique() == 1
    out = []
    for row in combos.itertuples(index=False):
        scenario, values = row[0], tuple(row[1:])
        point = tuple(zip(params, values, strict=True))
        parts = [f"{k}={format_value(v)}" for k, v in point]
        if not (one_scenario and parts):
            parts.insert(0, str(scenario))
        out.append(Group(str(scenario), point, ", ".join(parts)))
    return out


def _select(runs: pd.DataFrame, group: Group) -> pd.DataFrame:
    mask = runs["scenario"] == group.scenario
    for k, v in group.point:
        mask &= runs[k] == v
    return runs[mask]


def _national(runs: pd.DataFrame, measure: str, channel: str = "all") -> pd.DataFrame:
    """Rows of one national measure as a rep × year table."""
    rows = runs[(runs["region"] == "national") & (runs["measure"] == measure) & (runs["channel"] == channel)]
    return rows.pivot_table(index="rep", columns="year", values="value", aggfunc="first")


def spending_by_rep(runs: pd.DataFrame, last_year: int) -> pd.Series | None:
    """Total national spending per replication, 2015 to ``last_year``, in yuan.

    Uses the ``channel == "all"`` rows of ``spending_yuan`` when the model reports a total,
    else the sum over channels. None when the results have no ``spending_yuan``.
    """
    rows = runs[(runs["region"] == "national") & (runs["measure"] == "spending_yuan")]
    rows = rows[(rows["year"] >= FIRST_FLOW_YEAR) & (rows["year"] <= last_year)]
    if rows.empty:
        return None
    if (rows["channel"] == "all").any():
        rows = rows[rows["channel"] == "all"]
    return rows.groupby("rep")["value"].sum()


def _interval(values: pd.Series | np.ndarray) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    return float(v.mean()), float(np.quantile(v, 0.05)), float(np.quantile(v, 0.95))


def _fmt(mean: float, lo: float, hi: float, unit: float, digits: int = 2) -> str:
    if np.isnan(mean):
        return ""
    return f"{mean / unit:.{digits}f} [{lo / unit:.{digits}f}, {hi / unit:.{digits}f}]"


def final_year(runs: pd.DataFrame) -> int:
    """The year the comparison is made in: 2020 when simulated, else the last year."""
    years = set(runs["year"].unique().tolist())
    return TARGET_YEAR if TARGET_YEAR in years else int(max(years))


def headline(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario × grid point with the numbers a researcher looks at first.

    Columns (people in millions, mean [5%, 95%] over replications): poor people at the
    forecast origin (2017) and in the final year, the paired difference from the first
    scenario/point in the final year, the share of replications meeting the 2020 target,
    exits and relapse summed over 2015–final year, and total spending when reported.
    """
    year = final_year(runs)
    gs = groups(runs)
    ref = _national(_select(runs, gs[0]), "poor_people").get(year) if gs else None
    rows = []
    for g in gs:
        sub = _select(runs, g)
        poor = _national(sub, "poor_people")
        row: dict[str, object] = {"": g.label, "reps": len(poor)}
        if FORECAST_ORIGIN in poor and FORECAST_ORIGIN != year:
            row[f"poor {FORECAST_ORIGIN} (M)"] = _fmt(*_interval(poor[FORECAST_ORIGIN]), 1e6)
        if year in poor:
            row[f"poor {year} (M)"] = _fmt(*_interval(poor[year]), 1e6)
            if len(gs) > 1 and ref is not None:
                diff = (poor[year] - ref).dropna()
                row[f"Δ vs {gs[0].label} (M, paired)"] = _fmt(*_interval(diff), 1e6) if g != gs[0] else "—"
            if year == TARGET_YEAR:
                met = (poor[year] <= TARGET_2020_POOR_PEOPLE).mean()
                row["target met"] = f"{met:.0%}"
        for measure, label in (("exits_people", "exits"), ("relapse_people", "relapse")):
            table = _national(sub, measure)
            cols = [c for c in table.columns if FIRST_FLOW_YEAR <= c <= year]
            if cols:
                row[f"{label} {FIRST_FLOW_YEAR}–{year} (M)"] = _fmt(*_interval(table[cols].sum(axis=1)), 1e6)
        spending = spending_by_rep(sub, year)
        if spending is not None:
            row[f"spending {FIRST_FLOW_YEAR}–{year} (bn yuan)"] = _fmt(*_interval(spending), 1e9, 1)
        rows.append(row)
    return pd.DataFrame(rows)


# -- figures ---------------------------------------------------------------------------


def _colors(n: int) -> list:
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    cmap = plt.get_cmap("viridis")
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def _legend(ax: plt.Axes, n: int) -> None:
    """The legend beside the axes from four entries on (inside, it would cover a line or a point)."""
    if n > 3:
        ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        ax.legend(fontsize=8, loc="best")


_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _styles(gs: Sequence[Group]) -> list[tuple[object, str, str]]:
    """Colour, line style and marker per group: with several scenarios *and* a sweep, the
    colour follows the grid point and the line style the scenario, so both can be read."""
    scenarios = list(dict.fromkeys(g.scenario for g in gs))
    points = list(dict.fromkeys(g.point for g in gs))
    if len(scenarios) > 1 and len(points) > 1:
        colors = _colors(len(points))
        return [
            (
                colors[points.index(g.point)],
                _LINESTYLES[scenarios.index(g.scenario) % len(_LINESTYLES)],
                _MARKERS[scenarios.index(g.scenario) % len(_MARKERS)],
            )
            for g in gs
        ]
    return [(c, "-", "o") for c in _colors(len(gs))]


BASELINE_NAME = "baseline"
"""The scenario drawn as the reference line: thick and beneath the others, so that a what-if
which barely differs from it does not hide it."""

MIN_BAND_RUNS = 10
"""Fewer replications than this give no 5–95% interval worth the name: figures say so."""


def band_caveat(reps: int) -> str:
    """What a band over ``reps`` replications is, for a title: empty from :data:`MIN_BAND_RUNS` on."""
    if reps >= MIN_BAND_RUNS:
        return ""
    return f"\n(fewer than {MIN_BAND_RUNS} replications: the band is about their range, not a 5–95% interval)"


def _bands(ax: plt.Axes, runs: pd.DataFrame, gs: Sequence[Group], measure: str, unit: float) -> None:
    several = len({g.scenario for g in gs}) > 1  # the baseline stands out among other scenarios
    for g, (color, ls, marker) in zip(gs, _styles(gs), strict=True):
        reference = several and g.scenario == BASELINE_NAME
        table = _national(_select(runs, g), measure)
        if table.empty:
            continue
        years = np.array(table.columns, dtype=int)
        mean = table.mean(axis=0).to_numpy() / unit
        lo = table.quantile(0.05, axis=0).to_numpy() / unit
        hi = table.quantile(0.95, axis=0).to_numpy() / unit
        ax.fill_between(years, lo, hi, color=color, alpha=0.18, lw=0)
        lw, zorder = (4.0, 2.0) if reference else (1.5, 3.0)
        ax.plot(
            years,
            mean,
            ls=ls,
            marker=marker,
            ms=5.5 if reference else 3.5,
            lw=lw,
            zorder=zorder,
            color=color,
            label=f"{g.label} (n={len(table)})",
        )


def _note(ax: plt.Axes, text: str) -> None:
    ax.text(
        0.01,
        0.02,
        text,
        transform=ax.transAxes,
        fontsize=8,
        color="#7a3b00",
        va="bottom",
        ha="left",
        wrap=True,
        bbox={"boxstyle": "round", "fc": "#fff4e0", "ec": "#e0b070", "alpha": 0.95},
    )


def _year_axis(ax: plt.Axes, first: int, last: int) -> None:
    ax.set_xticks(range(first, last + 1))
    ax.set_xlabel("year (end)")
    ax.grid(alpha=0.3)


def trajectories_figure(runs: pd.DataFrame, title: str) -> bytes:
    """National income-poor people, mean and 5–95% band per group, against the survey
    series to 2017 and the 2020 target (PNG)."""
    gs = groups(runs)
    fig, ax = plt.subplots(figsize=(10, 5.2) if len(gs) > 6 else (8.5, 5), dpi=120)
    _bands(ax, runs, gs, "poor_people", 1e6)
    years = sorted(SURVEY_POOR_PEOPLE)
    ax.plot(years, [SURVEY_POOR_PEOPLE[y] / 1e6 for y in years], "k^", ms=7, label=f"NBS survey (to {FORECAST_ORIGIN})")
    last = int(runs["year"].max())
    if last >= TARGET_YEAR:
        ax.plot(
            [TARGET_YEAR],
            [TARGET_2020_POOR_PEOPLE],
            "r*",
            ms=14,
            clip_on=False,
            zorder=5,
            label="2020 target: no rural poor",
        )
    if last > FORECAST_ORIGIN:
        ax.axvline(FORECAST_ORIGIN + 0.5, color="grey", lw=0.8, ls=":")
        ax.text(
            FORECAST_ORIGIN + 0.55,
            0.02,
            "forecast →",
            color="grey",
            va="bottom",
            fontsize=8,
            transform=ax.get_xaxis_transform(),
        )
    ax.set_ylabel("income-poor people, millions")
    ax.set_ylim(bottom=0)
    _year_axis(ax, min(years[0], int(runs["year"].min())), last)
    ax.set_title(title)
    _legend(ax, len(gs) + 2)
    fig.tight_layout()
    return png_bytes(fig)


def exits_figure(runs: pd.DataFrame, title: str, title_total: str | None = None) -> tuple[bytes, str | None]:
    """Exits by channel (stacked bars of the mean over 2015–final year) when the results
    have channels, else total exits per year with bands (titled ``title_total``). Returns
    the PNG and a note when channels are absent."""
    gs = groups(runs)
    year = final_year(runs)
    exits = runs[(runs["region"] == "national") & (runs["measure"] == "exits_people")]
    channels = [c for c in exits["channel"].unique() if c != "all"]
    if channels:
        fig, ax = plt.subplots(figsize=(9, 0.9 + 0.45 * len(gs) + 1.2), dpi=120)
        left = np.zeros(len(gs))
        colors = _colors(len(channels)) if len(channels) <= 10 else [plt.get_cmap("tab20")(i) for i in range(20)]
        for ch, color in zip(channels, colors, strict=False):
            totals = []
            for g in gs:
                table = _national(_select(runs, g), "exits_people", ch)
                cols = [c for c in table.columns if FIRST_FLOW_YEAR <= c <= year]
                totals.append(table[cols].sum(axis=1).mean() / 1e6 if cols else 0.0)
            totals_arr = np.nan_to_num(np.array(totals))
            ax.barh(range(len(gs)), totals_arr, left=left, color=color, label=ch)
            left += totals_arr
        ax.set_yticks(range(len(gs)), [g.label for g in gs], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"registry exits {FIRST_FLOW_YEAR}–{year}, millions of people (mean over replications)")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, title="channel")
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(title)
        fig.tight_layout()
        return png_bytes(fig), None
    note = "no exits by channel in these results (no programme reported a channel): total registry exits shown"
    fig, ax = plt.subplots(figsize=(10, 5.2) if len(gs) > 6 else (8.5, 5), dpi=120)
    _bands(ax, runs, gs, "exits_people", 1e6)
    ax.set_ylabel("registry exits in the year, millions of people")
    ax.set_ylim(bottom=0)
    flow_years = runs.loc[runs["measure"] == "exits_people", "year"]
    if not flow_years.empty:
        _year_axis(ax, int(flow_years.min()), int(flow_years.max()))
    ax.set_title(title_total or title)
    _legend(ax, len(gs))
    _note(ax, note)
    fig.tight_layout()
    return png_bytes(fig), note


def relapse_figure(runs: pd.DataFrame, title: str) -> bytes:
    """People in exited households falling back below the line (返贫), per year (PNG)."""
    gs = groups(runs)
    fig, ax = plt.subplots(figsize=(10, 5.2) if len(gs) > 6 else (8.5, 5), dpi=120)
    _bands(ax, runs, gs, "relapse_people", 1e6)
    ax.set_ylabel("relapse in the year, millions of people")
    ax.set_ylim(bottom=0)
    flow_years = runs.loc[runs["measure"] == "relapse_people", "year"]
    if not flow_years.empty:
        _year_axis(ax, int(flow_years.min()), int(flow_years.max()))
    ax.set_title(title)
    _legend(ax, len(gs))
    fig.tight_layout()
    return png_bytes(fig)


def frontier_figure(runs: pd.DataFrame, subtitle: str) -> tuple[bytes | None, str | None]:
    """Poor people in the final year against total spending, one point per group with
    5–95% bars, joined along the sweep within a scenario.

    Without ``spending_yuan`` in the results, and one numeric swept parameter, the x-axis is
    that parameter instead (said on the figure). Returns the PNG (or None when neither is
    available) and a note on what was plotted instead of spending.
    """
    year = final_year(runs)
    gs = groups(runs)
    params = param_columns(runs)
    has_spending = spending_by_rep(runs, year) is not None
    note = None
    if has_spending:
        xlabel = f"total spending {FIRST_FLOW_YEAR}–{year}, bn yuan (sum of spending_yuan over channels)"
        title = f"Budget frontier: poor people at end-{year} against total spending\n{subtitle}"
    elif len(params) == 1 and all(is_number(v) for v in runs[params[0]].unique()):
        xlabel = params[0]
        title = f"Poor people at end-{year} against {params[0]} (no spending in the results)\n{subtitle}"
        note = (
            f"spending_yuan is not in these results (no programme reported spending): "
            f"x is the swept parameter {params[0]}, not spending"
        )
    else:
        return None, (
            "frontier.png not written: the results have no spending_yuan measure (no programme reported spending) "
            "and no single numeric swept parameter to plot against"
        )
    points = []
    for g in gs:
        sub = _select(runs, g)
        poor = _national(sub, "poor_people").get(year)
        if poor is None:
            continue
        y = _interval(poor)
        if has_spending:
            spend = spending_by_rep(sub, year)
            x = _interval(spend) if spend is not None else (np.nan,) * 3
            x = tuple(v / 1e9 for v in x)
        else:
            v = float(dict(g.point)[params[0]])
            x = (v, v, v)
        points.append((g, x, y))
    fig, ax = plt.subplots(figsize=(8.5, 5.2), dpi=120)
    scenarios = list(dict.fromkeys(g.scenario for g in gs))
    colors = dict(zip(scenarios, _colors(len(scenarios)), strict=True))
    for scenario in scenarios:
        pts = sorted((p for p in points if p[0].scenario == scenario), key=lambda p: p[1][0])
        xs = np.array([p[1][0] for p in pts])
        ys = np.array([p[2][0] / 1e6 for p in pts])
        xerr = np.array([[p[1][0] - p[1][1], p[1][2] - p[1][0]] for p in pts]).T
        yerr = np.array([[p[2][0] - p[2][1], p[2][2] - p[2][0]] for p in pts]).T / 1e6
        ax.errorbar(
            xs,
            ys,
            xerr=xerr if has_spending else None,
            yerr=yerr,
            fmt="-o",
            ms=6,
            capsize=4,
            color=colors[scenario],
            label=scenario if not params else f"{scenario}, one point per {' × '.join(params)}",
        )
        if not params:
            continue  # one point per scenario: the legend names it
        for i, ((g, _, _), xv, yv) in enumerate(zip(pts, xs, ys, strict=True)):
            if len(g.point) == 1:
                text = format_value(g.point[0][1])  # the parameter is named in the legend title
            else:
                text = ", ".join(f"{k}={format_value(v)}" for k, v in g.point) if g.point else g.scenario
            # alternate above-right and below-left so neighbouring labels do not collide
            offset, ha, va = ((6, 6), "left", "bottom") if i % 2 == 0 else ((-6, -8), "right", "top")
            ax.annotate(text, (xv, yv), textcoords="offset points", xytext=offset, fontsize=8, ha=ha, va=va)
    if year == TARGET_YEAR:
        ax.axhline(TARGET_2020_POOR_PEOPLE, color="red", lw=1, ls="--", label="2020 target: no rural poor")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"income-poor people at end-{year}, millions (mean, 5–95%)")
    bottom, top = ax.get_ylim()
    ax.set_ylim(min(0, bottom), top + 0.3 * (top - min(0, bottom)))  # headroom for the legend
    ax.margins(x=0.08)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    if note:
        _note(ax, note)
    fig.tight_layout()
    return png_bytes(fig), note


# -- the command ------------------------------------------------------------------------


@dataclass
class Comparison:
    """What :func:`write_comparison` produced.

    Attributes:
        summary: the summary table (also ``summary.csv``).
        table: the headline table (one row per scenario × grid point).
        paths: files written.
        notes: what could not be shown and why (e.g. no spending in the results).
    """

    summary: pd.DataFrame
    table: pd.DataFrame
    paths: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The headline table as text."""
        return self.table.to_string(index=False)


def write_comparison(out_dir: str | Path, runs: pd.DataFrame | None = None) -> Comparison:
    """Write ``summary.csv`` and the figures into an experiment folder.

    Args:
        out_dir: the folder of a ``povsim batch`` or ``povsim sweep``.
        runs: its runs table (default: read ``runs.parquet``, assembled from ``runs/`` if
            missing).

    A corrupt run file is moved aside and left out, with a note (``povsim compare`` never fails on one).

    Raises:
        PovsimInputError: the folder holds no (readable) runs.
    """
    store = RunStore(out_dir)
    if runs is None:
        runs = store.load_runs()
    if runs.empty:
        from povsim.errors import PovsimInputError

        raise PovsimInputError(f"{out_dir}: the runs table is empty (no run has finished)")
    root = Path(out_dir)
    summary = summarize(runs)
    notes: list[str] = [f"left out: {message}" for message in store.set_aside.values()]
    n = runs.groupby(group_columns(runs), sort=False, dropna=False)["rep"].nunique()
    reps = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    scale = ""
    manifest = store.read_manifest() or {}
    designs = {(s.get("scale"), s.get("poor_area_scale") or s.get("scale")) for s in manifest.get("scenarios", [])}
    if len(designs) == 1 and None not in next(iter(designs)):
        uniform, poor_areas = next(iter(designs))
        scale = f"\nsampling {sampling_text(uniform, min(poor_areas, uniform))}"
    suffix = f"mean and 5–95% over {reps} replications{scale}{band_caveat(int(n.min()))}"
    bars = f"mean over {reps} replications{scale}"

    figures: dict[str, bytes | None] = {
        "trajectories.png": trajectories_figure(runs, f"Income-poor people\n{suffix}"),
    }
    png, note = exits_figure(runs, f"Registry exits by channel\n{bars}", f"Registry exits\n{suffix}")
    figures["exits_by_channel.png"] = png
    notes += [note] if note else []
    figures["relapse.png"] = relapse_figure(
        runs, f"Relapse: people in exited households falling back below the line\n{suffix}"
    )
    png, note = frontier_figure(runs, suffix)
    figures["frontier.png"] = png
    notes += [note] if note else []
    written = [SUMMARY_CSV, *figures]
    try:  # all of them or none: a failed write (a full disk) leaves no summary beside older figures
        paths = [write_csv(summary, root / SUMMARY_CSV)]
        for name, data in figures.items():
            if data is not None:
                paths.append(atomic_write(root / name, lambda fh, d=data: fh.write(d)))
            else:
                (root / name).unlink(missing_ok=True)
    except BaseException:
        for name in written:
            (root / name).unlink(missing_ok=True)
        raise
    return Comparison(summary, headline(runs), paths, notes)
