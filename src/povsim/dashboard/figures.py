"""What the dashboard shows: three figures and a one-line readout, from a run's tidy results.

Each function takes the tidy results of :meth:`PovertyModel.results` (so far: a run stepped to
some year) and returns PNG bytes or text; none needs a browser. The axes span the whole run
(2012 – end year) whatever year has been reached, so a figure changes only where the data do.

- :func:`poor_people_png`: national income-poor people by year against the NBS survey (to
  2017), the 2020 target of zero, and (grey) the baseline run with every lever at its default;
- :func:`exits_png`: registry exits per year, stacked by the channel credited with each exit;
- :func:`relapse_png`: people falling back into poverty (返贫) and people newly registered.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from povsim.attribution import ATTRIBUTION_CHANNELS
from povsim.observed import FORECAST_ORIGIN, SURVEY_POOR_PEOPLE, TARGET_2020_POOR_PEOPLE

TARGET_YEAR = 2020
FIRST_SURVEY_YEAR = min(SURVEY_POOR_PEOPLE)
START_FLOWS = 2015
"""Flows (exits, entries, relapse) start in the first simulated year."""
DPI = 100
CHANNEL_COLOURS = {channel: f"C{i}" for i, channel in enumerate(ATTRIBUTION_CHANNELS)} | {"own": "0.8"}
"""One colour per channel, the same in every figure; ``own`` (the household's own income, no
programme credited) is light grey so that the programmes stand out."""


def national_series(results: pd.DataFrame, measure: str, channel: str = "all") -> pd.Series:
    """A national measure by year (people, or the measure's unit)."""
    rows = results[
        (results["region"] == "national") & (results["measure"] == measure) & (results["channel"] == channel)
    ]
    return rows.groupby("year")["value"].sum().sort_index()


def exits_by_channel(results: pd.DataFrame) -> pd.DataFrame:
    """Registry exits by year (rows) and channel (columns, in the model's channel order), people."""
    rows = results[
        (results["region"] == "national") & (results["measure"] == "exits_people") & (results["channel"] != "all")
    ]
    table = rows.pivot_table(index="year", columns="channel", values="value", aggfunc="sum", fill_value=0.0)
    return table.reindex(columns=[c for c in ATTRIBUTION_CHANNELS if c in table.columns])


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _year_axis(ax, first: int, end_year: int) -> None:
    ax.set_xlim(first - 0.6, end_year + 0.6)
    ax.set_xticks(range(first, end_year + 1))
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def poor_people_png(results: pd.DataFrame, end_year: int, baseline: pd.Series | None = None) -> bytes:
    """Income-poor people (national, millions) so far, with the survey, the target and the baseline.

    Args:
        results: the run's tidy results so far.
        end_year: the run's last year (the x axis ends there).
        baseline: poor people by year of the baseline run (every lever at its default), drawn
            in grey for comparison; None to leave it out.
    """
    fig = Figure(figsize=(9.6, 4.0), layout="constrained")
    ax = fig.subplots()
    if baseline is not None and not baseline.empty:
        ax.plot(baseline.index, baseline / 1e6, "-", color="0.7", lw=2, label="baseline (levers at defaults)")
    poor = national_series(results, "poor_people")
    registered = national_series(results, "registered_poor_people")
    ax.plot(registered.index, registered / 1e6, "--s", color="C1", ms=4, lw=1.2, label="registered poor (registry)")
    ax.plot(poor.index, poor / 1e6, "-o", color="C0", ms=5, lw=2, label="income-poor people (this run)")
    years = sorted(SURVEY_POOR_PEOPLE)
    ax.plot(years, [SURVEY_POOR_PEOPLE[y] / 1e6 for y in years], "k^", ms=7, label=f"NBS survey (to {FORECAST_ORIGIN})")
    ax.plot(
        [TARGET_YEAR],
        [TARGET_2020_POOR_PEOPLE / 1e6],
        "r*",
        ms=15,
        clip_on=False,
        zorder=5,
        label="2020 target: no rural poor",
    )
    ax.axvline(FORECAST_ORIGIN + 0.5, color="grey", lw=0.8, ls=":")
    ax.text(FORECAST_ORIGIN + 0.55, 101, "forecast →", color="grey", va="top", fontsize=8)
    _year_axis(ax, FIRST_SURVEY_YEAR, end_year)
    ax.set_ylim(0, 105)
    ax.set_ylabel("people, millions")
    year = int(poor.index.max()) if not poor.empty else None
    ax.set_title(f"Poor people, national — simulated to {year}", loc="left", fontsize=11)
    ax.legend(fontsize=8, loc="upper right", frameon=False)
    return _png(fig)


def exits_png(results: pd.DataFrame, end_year: int) -> bytes:
    """Registry exits per year (millions of people), stacked by the channel credited with them."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    table = exits_by_channel(results) / 1e6
    bottom = np.zeros(len(table))
    for channel in table.columns:
        values = table[channel].to_numpy()
        ax.bar(table.index, values, bottom=bottom, color=CHANNEL_COLOURS[channel], width=0.7, label=channel)
        bottom += values
    _year_axis(ax, START_FLOWS, end_year)
    ax.set_ylabel("people, millions")
    ax.set_title("Registry exits by channel", loc="left", fontsize=11)
    if table.empty:
        ax.text(0.5, 0.5, "press Step: exits start in 2015", transform=ax.transAxes, ha="center", color="grey")
        ax.set_ylim(0, 1)
    else:
        handles, labels = ax.get_legend_handles_labels()  # top of the stack first
        ax.legend(handles[::-1], labels[::-1], fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _png(fig)


def relapse_png(results: pd.DataFrame, end_year: int) -> bytes:
    """People falling back into poverty (返贫) and newly registered, per year (millions)."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    relapse = national_series(results, "relapse_people")
    new = national_series(results, "newly_registered_people")
    if not relapse.empty:
        ax.plot(relapse.index, relapse / 1e6, "-o", color="C3", ms=5, label="relapse: exited, fell back below the line")
        ax.plot(new.index, new / 1e6, "--o", color="C4", ms=4, label="newly registered")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, loc="best", frameon=False)
    else:
        ax.text(0.5, 0.5, "press Step: flows start in 2015", transform=ax.transAxes, ha="center", color="grey")
        ax.set_ylim(0, 1)
    _year_axis(ax, START_FLOWS, end_year)
    ax.set_ylabel("people, millions")
    ax.set_title("Relapse and new poor", loc="left", fontsize=11)
    return _png(fig)


def readout(results: pd.DataFrame, end_year: int) -> str:
    """One line with the latest year's numbers: poor people against the survey and the target."""
    poor = national_series(results, "poor_people")
    year = int(poor.index.max())
    parts = [f"{year}", f"income-poor {poor[year] / 1e6:.2f} M"]
    if year in SURVEY_POOR_PEOPLE:
        parts[-1] += f" (NBS survey {SURVEY_POOR_PEOPLE[year] / 1e6:.2f} M)"
    registered = national_series(results, "registered_poor_people")
    parts.append(f"registered poor {registered[year] / 1e6:.2f} M")
    exits = national_series(results, "exits_people")
    relapse = national_series(results, "relapse_people")
    if year in exits.index:
        parts.append(f"exits {exits[year] / 1e6:.2f} M")
        parts.append(f"relapse {relapse.get(year, 0.0) / 1e6:.2f} M")
    if year >= TARGET_YEAR:
        left = poor.get(TARGET_YEAR, np.nan)
        met = left <= TARGET_2020_POOR_PEOPLE
        parts.append("2020 target met" if met else f"2020 target missed by {left / 1e6:.2f} M")
    elif year == end_year:
        parts.append("run ends before 2020")
    return " · ".join(parts)
