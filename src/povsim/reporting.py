"""What a run writes: the tidy results table, the manifest, the trajectory figure and the
summary printed at the end."""

from __future__ import annotations

import io
import platform
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mesa
import numpy as np
import pandas as pd

import povsim
from povsim.io import write_bytes, write_csv, write_json
from povsim.model import PovertyModel
from povsim.observed import FORECAST_ORIGIN, REGISTERED_POOR_PEOPLE, SURVEY_POOR_PEOPLE, TARGET_2020_POOR_PEOPLE
from povsim.parameters import read_calibrated

SUMMARY_MEASURES = {
    "poverty_line": ("line", 1.0, "{:,.0f}"),
    "poor_people": ("poor (M)", 1e6, "{:.2f}"),
    "incidence": ("incidence %", 0.01, "{:.2f}"),
    "registered_poor_people": ("registered (M)", 1e6, "{:.2f}"),
    "exits_people": ("exits (M)", 1e6, "{:.2f}"),
    "entries_people": ("entries (M)", 1e6, "{:.2f}"),
    "removed_people": ("removed (M)", 1e6, "{:.2f}"),
    "relapse_people": ("relapse (M)", 1e6, "{:.2f}"),
}


def national(results: pd.DataFrame) -> pd.DataFrame:
    """National values as a year × measure table."""
    nat = results[(results["region"] == "national") & (results["channel"] == "all")]
    return nat.pivot(index="year", columns="measure", values="value")


def summary_table(results: pd.DataFrame) -> str:
    """A readable year-by-year table of the main national measures, with the survey
    headcount beside the simulated one up to the forecast origin, and the registry identity the
    columns obey (registered = last year's − exits − removed + entries)."""
    nat = national(results)
    cols = {}
    for measure, (label, unit, fmt) in SUMMARY_MEASURES.items():
        if measure in nat:
            cols[label] = [("" if pd.isna(v) else fmt.format(v / unit)) for v in nat[measure]]
    survey = [f"{SURVEY_POOR_PEOPLE[y] / 1e6:.2f}" if y in SURVEY_POOR_PEOPLE else "" for y in nat.index]
    table = pd.DataFrame(cols, index=nat.index)
    table.insert(2, "survey (M)", survey)
    return (
        table.to_string() + "\n(registered = last year's registered − exits − removed + entries; removed: the wrongly "
        "identified households the 2015–16 re-check dropped)"
    )


PLAN_BATCHES: tuple[tuple[str, tuple[str, ...], float | None], ...] = (
    # the plan's five batches (五个一批): label, the model's channels, million people ([cheng-2017] ch. 4 §1(5), §3(2))
    ("industry", ("industry",), 30.0),
    ("employment (labour export)", ("employment",), 10.0),
    ("relocation + ecology", ("relocation", "ecology"), 10.0),
    ("floor (兜底)", ("floor",), 20.0),
    ("education (training → labour export)", ("education",), None),
)
PLAN_TOTAL = 70.0
"""Million people the five batches were to lift out ([cheng-2017] ch. 4 §1(5))."""


def exit_mix_table(results: pd.DataFrame) -> str:
    """Cumulative exits by channel over the run beside the plan's five batches: each batch once,
    on the row of its first channel, with the model's exits through its channels and the plan's
    number (education has none: its training feeds the labour-export batch)."""
    ex = results[
        (results["region"] == "national") & (results["measure"] == "exits_people") & (results["channel"] != "all")
    ]
    if ex.empty:
        return ""
    by_channel = ex.groupby("channel")["value"].sum().sort_values(ascending=False)
    total = by_channel.sum()
    batch_of = {c: batch for batch in PLAN_BATCHES for c in batch[1]}
    shown: set[str] = set()
    rows = []
    for channel, value in by_channel.items():
        batch = batch_of.get(channel)
        label = model = plan = ""
        if batch is not None:
            name, channels, millions = batch
            if name in shown:
                label = f"(in {name})"
            else:
                shown.add(name)
                label = name
                model = f"{sum(by_channel.get(c, 0.0) for c in channels) / 1e6:.2f}"
                plan = "no number" if millions is None else f"{millions:.0f} ({millions / PLAN_TOTAL:.0%})"
        rows.append((channel, f"{value / 1e6:.2f}", f"{value / total:.0%}" if total else "", label, model, plan))
    years = sorted(ex["year"].unique())
    columns = ["channel", "exits (M)", "share", "plan's batch (五个一批)", "batch: model (M)", "plan (M, of ~70)"]
    table = pd.DataFrame(rows, columns=columns)
    return f"Exits by channel {years[0]}–{years[-1]}:\n" + table.to_string(index=False)


def binding_limits(results: pd.DataFrame, region: str = "national") -> pd.DataFrame:
    """Which limit bound each channel's new enrolments, by year (a year × channel table of
    ``budget``, ``capacity``, ``eligibility``; empty where no household was eligible, e.g.
    relocation outside its plan years): the ``limit`` column of :func:`povsim.whatif.limits` for one
    region (:func:`povsim.programs.base.binding_limit`, the classification of the ``limited_by_*``
    measures)."""
    from povsim.whatif import limits

    table = limits(results, "")
    return table[table["region"] == region].pivot(index="year", columns="channel", values="limit")


def limits_table(results: pd.DataFrame) -> str:
    """The :func:`binding_limits` table as text, with the channels' unspent funds of the last year."""
    limits = binding_limits(results)
    if limits.empty:
        return ""
    table = limits.T
    unspent = results[(results["region"] == "national") & (results["measure"] == "unspent_yuan")]
    last = int(limits.index.max())
    left = unspent[unspent["year"] == last].set_index("channel")["value"]
    table[f"unspent {last} (bn)"] = [f"{left.get(c, 0.0) / 1e9:.1f}" for c in table.index]
    return (
        "What limited each channel's new enrolments (budget: money ran out; capacity: places or schedule; "
        "eligibility: everyone eligible enrolled):\n" + table.to_string()
    )


def trajectory_figure(results: pd.DataFrame, title: str) -> bytes:
    """Poor people by year against the official survey series up to 2017 and the 2020 target (PNG)."""
    nat = national(results)
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    ax.plot(nat.index, nat["poor_people"] / 1e6, "-o", color="C0", label="simulated: income-poor people")
    ax.plot(nat.index, nat["registered_poor_people"] / 1e6, "--s", color="C1", ms=4, label="simulated: registered poor")
    years = sorted(SURVEY_POOR_PEOPLE)
    ax.plot(
        years,
        [SURVEY_POOR_PEOPLE[y] / 1e6 for y in years],
        "k^",
        ms=7,
        label=f"NBS survey headcount (to {FORECAST_ORIGIN})",
    )
    reg_years = sorted(REGISTERED_POOR_PEOPLE)
    ax.plot(
        reg_years,
        [REGISTERED_POOR_PEOPLE[y] / 1e6 for y in reg_years],
        "D",
        color="C1",
        mfc="none",
        ms=7,
        label="registry stock (2014, 2015)",
    )
    ax.plot([2020], [TARGET_2020_POOR_PEOPLE], "r*", ms=14, clip_on=False, zorder=5, label="2020 target: no rural poor")
    ax.axvline(FORECAST_ORIGIN + 0.5, color="grey", lw=0.8, ls=":")
    ax.text(FORECAST_ORIGIN + 0.55, 1.0, "forecast →", color="grey", va="bottom", fontsize=8)
    ax.set_xlabel("year (end)")
    ax.set_ylabel("people, millions")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.set_xticks(range(min(years[0], int(nat.index.min())), int(nat.index.max()) + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return png_bytes(fig)


def png_bytes(fig: plt.Figure) -> bytes:
    """A figure as PNG bytes (for atomic writing); the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def manifest(
    model: PovertyModel,
    wall_seconds: float,
    command: list[str] | None = None,
    against: PovertyModel | None = None,
) -> dict[str, Any]:
    """What produced a run: scenario, resolved parameters, seed, scale, versions, wall time; with
    ``against``, the baseline it was paired with (its scenario, file and overrides)."""
    sc = model.scenario
    record = {
        "scenario": sc.name,
        "scenario_file": sc.path,
        "description": sc.description,
        "seed": sc.run.seed,
        **sc.run.design(),
        "start_year": 2014,
        "end_year": sc.run.end_year,
        "household_agents": model.households.n,
        "counties": model.geography.n_counties,
        "overrides": sc.overrides,
        "calibration": read_calibrated().get("meta", None),
        "parameters": model.parameters(),
        "povsim_version": povsim.__version__,
        "mesa_version": mesa.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "wall_time_seconds": round(wall_seconds, 3),
        "command": command,
    }
    if against is not None:
        base = against.scenario
        record["against"] = {
            "scenario": base.name,
            "scenario_file": base.path,
            "overrides": base.overrides,
            "note": "run with this run's seed, sampling and end year (common random numbers)",
        }
    return record


def write_outputs(
    model: PovertyModel,
    out_dir: str | Path,
    wall_seconds: float,
    command: list[str] | None = None,
    against: PovertyModel | None = None,
) -> dict[str, Path]:
    """Write ``results.csv``, ``counties.csv`` (one row per county and year), ``limits.csv`` (what
    limited each channel, :func:`povsim.whatif.limits`), ``manifest.json`` and
    ``poverty_trajectory.png``, each atomically; with ``against`` (the baseline run of a what-if)
    also ``baseline_results.csv``, ``difference.csv`` (:func:`povsim.whatif.paired_difference`),
    both runs in ``limits.csv``, and ``difference.png``."""
    from povsim.whatif import difference_figure, limits, pair_names, paired_difference

    out = Path(out_dir)
    results = model.results()
    sc = model.scenario
    png = trajectory_figure(results, f"povsim — {sc.name} (seed {sc.run.seed}, sampling {sc.run.sampling})")
    paths = {
        "results": write_csv(results, out / "results.csv"),
        "counties": write_csv(model.governance.table(), out / "counties.csv"),
        "figure": write_bytes(png, out / "poverty_trajectory.png"),
    }
    if against is None:
        paths["limits"] = write_csv(limits(results, sc.name), out / "limits.csv")
    else:
        names = pair_names(model, against)
        base_results = against.results()
        diff = paired_difference(results, base_results)
        table = pd.concat([limits(results, names[0]), limits(base_results, names[1])], ignore_index=True)
        paths["baseline_results"] = write_csv(base_results, out / "baseline_results.csv")
        paths["difference"] = write_csv(diff, out / "difference.csv")
        paths["limits"] = write_csv(table, out / "limits.csv")
        subtitle = f"seed {sc.run.seed}, sampling {sc.run.sampling}, common random numbers"
        paths["difference_figure"] = write_bytes(
            difference_figure(diff, table, names, subtitle), out / "difference.png"
        )
    paths["manifest"] = write_json(manifest(model, wall_seconds, command, against), out / "manifest.json")
    return paths
