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
    "relapse_people": ("relapse (M)", 1e6, "{:.2f}"),
}


def national(results: pd.DataFrame) -> pd.DataFrame:
    """National values as a year × measure table."""
    nat = results[(results["region"] == "national") & (results["channel"] == "all")]
    return nat.pivot(index="year", columns="measure", values="value")


def summary_table(results: pd.DataFrame) -> str:
    """A readable year-by-year table of the main national measures, with the survey
    headcount beside the simulated one up to the forecast origin."""
    nat = national(results)
    cols = {}
    for measure, (label, unit, fmt) in SUMMARY_MEASURES.items():
        if measure in nat:
            cols[label] = [("" if pd.isna(v) else fmt.format(v / unit)) for v in nat[measure]]
    survey = [f"{SURVEY_POOR_PEOPLE[y] / 1e6:.2f}" if y in SURVEY_POOR_PEOPLE else "" for y in nat.index]
    table = pd.DataFrame(cols, index=nat.index)
    table.insert(2, "survey (M)", survey)
    return table.to_string()


PLAN_BATCHES = {
    # the plan's five batches (五个一批), million people ([cheng-2017] ch. 4 §1(5), §3(2))
    "industry": ("industry", 30.0),
    "employment": ("employment (labour export)", 10.0),
    "relocation": ("relocation + ecology", 10.0),
    "ecology": ("relocation + ecology", 10.0),
    "floor": ("floor (兜底)", 20.0),
    "education": ("education (training → labour export)", None),
}


def exit_mix_table(results: pd.DataFrame) -> str:
    """Cumulative exits by channel over the run beside the plan's five batches."""
    ex = results[
        (results["region"] == "national") & (results["measure"] == "exits_people") & (results["channel"] != "all")
    ]
    if ex.empty:
        return ""
    by_channel = ex.groupby("channel")["value"].sum().sort_values(ascending=False)
    total = by_channel.sum()
    rows = []
    for channel, value in by_channel.items():
        plan = PLAN_BATCHES.get(channel)
        plan_text = "" if plan is None or plan[1] is None else f"{plan[0]}: {plan[1]:.0f}M ({plan[1] / 70:.0%})"
        if plan is not None and plan[1] is None:
            plan_text = plan[0]
        rows.append((channel, f"{value / 1e6:.2f}", f"{value / total:.0%}" if total else "", plan_text))
    years = sorted(ex["year"].unique())
    table = pd.DataFrame(rows, columns=["channel", "exits (M)", "share", "plan's five batches (of ~70M)"])
    return f"Exits by channel {years[0]}–{years[-1]}:\n" + table.to_string(index=False)


LIMITS = ("budget", "capacity", "eligibility")
"""What can limit a channel's new enrolments in a year, in the order they are checked."""


def binding_limits(results: pd.DataFrame, region: str = "national") -> pd.DataFrame:
    """Which limit bound each channel's new enrolments, by year (a year × channel table).

    From ``eligible_households`` ≥ ``capacity_households`` ≥ ``enrolled_households``:

    * ``budget`` — the money ran out before every household the capacity admitted was enrolled
      (more money would enrol more);
    * ``capacity`` — the channel's places (a yearly schedule or cap) admitted fewer than were
      eligible, and the money reached all of those admitted;
    * ``eligibility`` — every eligible household was enrolled: more money or places would add no one,
      and what is left is reported as ``unspent_yuan`` (carried over, ``budget.carry_over``).

    Empty where no household was eligible (e.g. relocation outside its plan years).
    """
    rows = results[(results["region"] == region) & (results["channel"] != "all")]
    tables = {
        m: rows[rows["measure"] == f"{m}_households"].pivot(index="year", columns="channel", values="value")
        for m in ("eligible", "capacity", "enrolled")
    }
    eligible, capacity, enrolled = tables["eligible"], tables["capacity"], tables["enrolled"]
    out = pd.DataFrame("", index=eligible.index, columns=eligible.columns)
    out = out.mask(eligible > 0, "eligibility")
    out = out.mask((eligible > 0) & (capacity < eligible), "capacity")
    out = out.mask((eligible > 0) & (enrolled < capacity), "budget")
    return out


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
    ax.plot([2020], [TARGET_2020_POOR_PEOPLE], "r*", ms=14, label="2020 target: no rural poor")
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


def manifest(model: PovertyModel, wall_seconds: float, command: list[str] | None = None) -> dict[str, Any]:
    """What produced a run: scenario, resolved parameters, seed, scale, versions, wall time."""
    sc = model.scenario
    return {
        "scenario": sc.name,
        "scenario_file": sc.path,
        "description": sc.description,
        "seed": sc.run.seed,
        **sc.run.design(),
        "start_year": 2014,
        "end_year": sc.run.end_year,
        "household_agents": model.households.n,
        "county_agents": len(model.counties),
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


def write_outputs(
    model: PovertyModel, out_dir: str | Path, wall_seconds: float, command: list[str] | None = None
) -> dict[str, Path]:
    """Write ``results.csv``, ``counties.csv`` (one row per county and year), ``manifest.json``
    and ``poverty_trajectory.png``, each atomically."""
    out = Path(out_dir)
    results = model.results()
    png = trajectory_figure(
        results,
        f"povsim — {model.scenario.name} (seed {model.scenario.run.seed}, sampling {model.scenario.run.sampling})",
    )
    paths = {
        "results": write_csv(results, out / "results.csv"),
        "counties": write_csv(model.governance.table(), out / "counties.csv"),
        "figure": write_bytes(png, out / "poverty_trajectory.png"),
    }
    paths["manifest"] = write_json(manifest(model, wall_seconds, command), out / "manifest.json")
    return paths
