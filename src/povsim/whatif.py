"""A what-if against a baseline: the paired difference of two runs and what limited each channel.

``povsim run WHATIF --against BASELINE`` runs both scenarios with the what-if's run settings —
the same seed, sampling and end year — so that every household meets the same draws of every
shock in both (each mechanism draws from its own named stream, ``povsim.streams``): the
difference between the two runs is the policy's, not sampling noise. This module turns the two
results tables into

* the **paired difference** (:func:`paired_difference`): every row of ``results.csv`` — year,
  region, measure, channel — with the what-if's value, the baseline's and their difference;
* **what limited each channel** (:func:`limits`): per run, year, region and channel, the funds,
  spending, unspent money, eligible households, places the capacity admitted, enrolments,
  beneficiaries and the limit that bound (budget, capacity or eligibility,
  :func:`povsim.programs.base.binding_limit`) — so that a what-if that adds money to a channel
  bound by its schedule shows why it changes nothing;
* the printed tables and the figure ``difference.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from povsim.observed import FORECAST_ORIGIN, SURVEY_POOR_PEOPLE
from povsim.programs.base import CHANNELS, LIMITS, binding_limit

if TYPE_CHECKING:
    from povsim.model import PovertyModel

KEY = ["year", "region", "measure", "channel"]
"""The columns that identify a row of ``results.csv``."""

LIMIT_MEASURES = (
    "funds_yuan",
    "spending_yuan",
    "unspent_yuan",
    "eligible_households",
    "capacity_households",
    "enrolled_households",
    "beneficiaries_households",
)
"""The per-channel measures of ``limits.csv``, one column each, named as in ``results.csv``."""


def pair_names(whatif: PovertyModel, baseline: PovertyModel) -> tuple[str, str]:
    """The two runs' names for tables and figures; a what-if of the baseline scenario itself (its
    ``--set`` overrides) is ``baseline (what-if)``."""
    names = (whatif.scenario.name, baseline.scenario.name)
    return names if names[0] != names[1] else (f"{names[0]} (what-if)", names[1])


def paired_difference(whatif: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """Every row of the two results tables side by side: ``year, region, measure, channel,
    whatif, baseline, difference`` (what-if − baseline).

    A row present in one run only — a ratio such as ``cost_per_exit_yuan`` where the other run had
    no exit, a ``limited_by_*`` row where it had no eligible household — keeps the value it has,
    with no difference.
    """
    a = whatif[[*KEY, "value"]].rename(columns={"value": "whatif"})
    b = baseline[[*KEY, "value"]].rename(columns={"value": "baseline"})
    out = a.merge(b, on=KEY, how="outer")
    out["difference"] = out["whatif"] - out["baseline"]
    return out.sort_values(KEY, kind="stable").reset_index(drop=True)


def limits(results: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """What limited each channel's new enrolments: one row per year, region and channel with the
    money (funds, spending, unspent), the households (eligible, admitted by capacity, enrolled,
    reached) and ``limit``: ``budget``, ``capacity``, ``eligibility``, or empty where no
    household was eligible."""
    rows = results[(results["channel"] != "all") & results["measure"].isin(LIMIT_MEASURES)]
    table = rows.pivot_table(index=["year", "region", "channel"], columns="measure", values="value", aggfunc="sum")
    table = table.reindex(columns=list(LIMIT_MEASURES)).reset_index()
    code = binding_limit(
        table["eligible_households"].fillna(0.0).to_numpy(),
        table["capacity_households"].fillna(0.0).to_numpy(),
        table["enrolled_households"].fillna(0.0).to_numpy(),
    )
    table["limit"] = np.array(["", *LIMITS], dtype=object)[code + 1]
    table.insert(0, "scenario", scenario)
    order = {c: i for i, c in enumerate(CHANNELS)}
    table = table.sort_values(["year", "region", "channel"], key=lambda s: s.map(order) if s.name == "channel" else s)
    return table.reset_index(drop=True)


def _national(diff: pd.DataFrame, measure: str, channel: str = "all") -> pd.DataFrame:
    rows = diff[(diff["region"] == "national") & (diff["measure"] == measure) & (diff["channel"] == channel)]
    return rows.set_index("year")[["whatif", "baseline", "difference"]]


def difference_table(diff: pd.DataFrame, names: tuple[str, str]) -> str:
    """The national paired difference by year as text: poor people in both runs and their
    difference, and the difference in the registry stock, exits, relapse, spending and counties
    exited (cumulative)."""
    poor = _national(diff, "poor_people")
    table = pd.DataFrame(index=poor.index)
    table["poor"] = poor["whatif"] / 1e6
    table["baseline"] = poor["baseline"] / 1e6
    table["Δ poor"] = poor["difference"] / 1e6
    for measure, label, unit in (
        ("registered_poor_people", "Δ registered", 1e6),
        ("exits_people", "Δ exits", 1e6),
        ("relapse_people", "Δ relapse", 1e6),
        ("spending_yuan", "Δ spending (bn)", 1e9),
        ("counties_exited", "Δ counties", 1.0),
    ):
        table[label] = _national(diff, measure)["difference"].reindex(table.index) / unit
    formats = {c: ("{:+.0f}" if c == "Δ counties" else "{:+.2f}" if c.startswith("Δ") else "{:.2f}") for c in table}
    text = table.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else formats[col.name].format(v)))
    return (
        f"Paired difference, {names[0]} − {names[1]} (national; people in millions; 'poor': {names[0]}, "
        f"'baseline': {names[1]}):\n" + text.to_string()
    )


def channel_table(diff: pd.DataFrame, names: tuple[str, str]) -> pd.DataFrame:
    """Per channel over the run (national), in both runs and their difference: the new funds (the
    years' funds less what was carried in from the year before), spending, the funds left unspent
    in the last year, exits, relapse and sustained exits; and the cost per sustained exit of each
    run — the spending of the exit cohorts whose three years have passed over their exits not
    followed by relapse."""
    nat = diff[(diff["region"] == "national") & (diff["channel"] != "all")]
    out = pd.DataFrame(index=pd.Index(list(CHANNELS), name="channel"))
    last = nat["year"].max()
    for measure in (
        "funds_yuan",
        "carried_over_yuan",
        "spending_yuan",
        "exits_people",
        "relapse_people",
        "sustained_exits_people",
    ):
        rows = nat[nat["measure"] == measure].groupby("channel")[["whatif", "baseline"]].sum(min_count=1)
        for col in ("whatif", "baseline"):
            out[f"{measure} {col}"] = rows[col].reindex(out.index)
    for col in ("whatif", "baseline"):  # the year's funds include what was carried in: the new money is the rest
        out[f"new_funds_yuan {col}"] = out.pop(f"funds_yuan {col}") - out.pop(f"carried_over_yuan {col}").fillna(0.0)
        left = nat[(nat["measure"] == "unspent_yuan") & (nat["year"] == last)].set_index("channel")[col]
        out[f"unspent_at_end_yuan {col}"] = left.reindex(out.index)
    for measure in (
        "new_funds_yuan",
        "spending_yuan",
        "unspent_at_end_yuan",
        "exits_people",
        "relapse_people",
        "sustained_exits_people",
    ):
        out[f"{measure} difference"] = out[f"{measure} whatif"] - out[f"{measure} baseline"]
    sustained = nat[nat["measure"] == "sustained_exits_people"]
    for col in ("whatif", "baseline"):
        cohorts = sustained.dropna(subset=[col])
        spent = nat[(nat["measure"] == "spending_yuan")].merge(cohorts[["year", "channel"]], on=["year", "channel"])
        cost = spent.groupby("channel")[col].sum() / cohorts.groupby("channel")[col].sum()
        out[f"cost_per_sustained_exit_yuan {col}"] = cost.replace([np.inf, -np.inf], np.nan).reindex(out.index)
    out.attrs["names"] = names
    return out


def channel_text(table: pd.DataFrame, first: int, last: int) -> str:
    """:func:`channel_table` as text."""
    names = table.attrs.get("names", ("what-if", "baseline"))
    show = pd.DataFrame(index=table.index)
    show["Δ new funds (bn)"] = table["new_funds_yuan difference"] / 1e9
    show["Δ spending (bn)"] = table["spending_yuan difference"] / 1e9
    show[f"Δ unspent {last} (bn)"] = table["unspent_at_end_yuan difference"] / 1e9
    show["Δ exits (M)"] = table["exits_people difference"] / 1e6
    show["Δ relapse (M)"] = table["relapse_people difference"] / 1e6
    show["Δ sustained exits (M)"] = table["sustained_exits_people difference"] / 1e6
    show[f"yuan per sustained exit {names[0]}"] = table["cost_per_sustained_exit_yuan whatif"]
    show[f"… {names[1]}"] = table["cost_per_sustained_exit_yuan baseline"]

    def fmt(col: pd.Series) -> pd.Series:
        pattern = "{:,.0f}" if "yuan per" in col.name or col.name.startswith("…") else "{:+.2f}"
        return col.map(lambda v: "" if pd.isna(v) else pattern.format(v))

    return (
        f"By channel, {first}–{last} (national; Δ = {names[0]} − {names[1]}; yuan per sustained exit: the spending "
        "on the exit cohorts whose three years have passed, per exit not followed by relapse):\n"
        + show.apply(fmt).to_string()
    )


def limits_text(table: pd.DataFrame, names: tuple[str, str]) -> str:
    """What limited each channel, nationally, in the what-if by year (``budget ← capacity``
    where the baseline's limit differed), with both runs' funds left unspent in the last year."""
    nat = table[table["region"] == "national"]
    nat = nat[nat["year"].isin(nat.loc[nat["limit"] != "", "year"])]  # the years with enrolments
    runs = {name: nat[nat["scenario"] == name].pivot(index="channel", columns="year", values="limit") for name in names}
    a, b = runs[names[0]], runs[names[1]].reindex_like(runs[names[0]])
    cells = a.copy().astype(object)
    for channel in a.index:
        for year in a.columns:
            x, y = a.loc[channel, year], b.loc[channel, year]
            y = "" if pd.isna(y) else y
            cells.loc[channel, year] = x if x == y else f"{x or '—'} ← {y or '—'}"
    cells = cells.reindex([c for c in CHANNELS if c in cells.index])
    last = nat["year"].max()
    for name in names:
        unspent = nat[(nat["scenario"] == name) & (nat["year"] == last)].set_index("channel")["unspent_yuan"]
        cells[f"unspent {last} (bn) {name}"] = [f"{round(unspent.get(c, 0.0) / 1e9, 1) + 0.0:.1f}" for c in cells.index]
    cells.columns = [str(c) for c in cells.columns]
    return (
        f"What limited each channel's new enrolments in {names[0]} (budget: money ran out; capacity: places or "
        f"schedule; eligibility: everyone eligible enrolled; 'x ← y': {names[1]} had y):\n" + cells.to_string()
    )


LIMIT_COLOURS = {"": "#f0f0f0", "budget": "#d95f02", "capacity": "#7570b3", "eligibility": "#1b9e77"}


def difference_figure(diff: pd.DataFrame, limit_table: pd.DataFrame, names: tuple[str, str], subtitle: str) -> bytes:
    """Four panels: poor people in both runs beside the survey; the paired difference in poor,
    registered and exits by year; the difference in spending by channel and year; and what
    limited each channel in each year in both runs."""
    from povsim.reporting import png_bytes

    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    ax = axes[0, 0]
    poor = _national(diff, "poor_people") / 1e6
    years = poor.index.to_numpy()
    ax.plot(years, poor["baseline"], "-o", color="0.35", lw=3.5, ms=6, label=names[1], zorder=2)
    ax.plot(years, poor["whatif"], "--s", color="C3", lw=1.6, ms=4, label=names[0], zorder=3)
    sy = [y for y in sorted(SURVEY_POOR_PEOPLE) if years.min() <= y <= years.max()]
    ax.plot(sy, [SURVEY_POOR_PEOPLE[y] / 1e6 for y in sy], "k^", ms=6, mfc="none", label="NBS survey", zorder=4)
    ax.axvline(FORECAST_ORIGIN + 0.5, color="grey", lw=0.8, ls=":")
    ax.set_title("poor people (national)")
    ax.set_ylabel("people, millions")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")

    ax = axes[0, 1]
    width = 0.27
    for k, (measure, label) in enumerate(
        (("poor_people", "poor"), ("registered_poor_people", "registered"), ("exits_people", "exits"))
    ):
        d = _national(diff, measure)["difference"].reindex(years) / 1e6
        ax.bar(years + (k - 1) * width, d.fillna(0.0), width, label=label, color=f"C{k}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title(f"paired difference, {names[0]} − {names[1]}")
    ax.set_ylabel("people, millions")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    nat = diff[(diff["region"] == "national") & (diff["measure"] == "spending_yuan") & (diff["channel"] != "all")]
    spend = nat.pivot(index="year", columns="channel", values="difference").reindex(years).fillna(0.0) / 1e9
    spend = spend[[c for c in CHANNELS if c in spend and (spend[c].abs() > 1e-3).any()]]
    pos, neg = np.zeros(len(years)), np.zeros(len(years))
    for channel in spend:
        v = spend[channel].to_numpy()
        base = np.where(v >= 0, pos, neg)
        ax.bar(years, v, 0.6, bottom=base, label=channel, color=plt.get_cmap("tab10")(CHANNELS.index(channel) % 10))
        pos, neg = pos + np.maximum(v, 0), neg + np.minimum(v, 0)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title("difference in spending by channel")
    ax.set_ylabel("yuan, billions")
    ax.grid(alpha=0.3, axis="y")
    if len(spend.columns):
        ax.legend(fontsize=8, ncol=2)
    else:
        ax.text(0.5, 0.5, "no difference in spending", transform=ax.transAxes, ha="center", color="grey")

    ax = axes[1, 1]
    national = limit_table[limit_table["region"] == "national"]
    channels = [c for c in CHANNELS if c in set(national["channel"])]
    enrolling = np.array(sorted(national.loc[national["limit"] != "", "year"].unique()))  # years with enrolments
    grids = [
        national[national["scenario"] == name]
        .pivot(index="channel", columns="year", values="limit")
        .reindex(index=channels, columns=enrolling)
        .fillna("")
        for name in names
    ]
    codes = {lim: i for i, lim in enumerate(LIMIT_COLOURS)}
    ax.imshow(
        grids[0].map(lambda v: codes.get(v, 0)).to_numpy(),
        cmap=ListedColormap(list(LIMIT_COLOURS.values())),
        vmin=-0.5,
        vmax=len(codes) - 0.5,
        aspect="auto",
        extent=(enrolling[0] - 0.5, enrolling[-1] + 0.5, len(channels), 0),
    )
    for i in range(len(channels)):
        for j, year in enumerate(enrolling):
            now, was = grids[0].iloc[i, j], grids[1].iloc[i, j]
            if now != was:
                ax.text(year, i + 0.5, f"was\n{was or 'none'}", ha="center", va="center", fontsize=6.5)
    ax.set_yticks(np.arange(len(channels)) + 0.5, channels)
    ax.set_xticks(enrolling)
    ax.set_title(
        f"what limited new enrolments in {names[0]}\n('was': {names[1]}'s limit, where it differs)", fontsize=10
    )
    handles = [Patch(color=c, label=lim or "none eligible") for lim, c in LIMIT_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=4, frameon=False)

    for a in axes.flat[:3]:
        a.set_xticks(years)
        a.set_xlabel("year (end)")
    fig.suptitle(f"povsim — {names[0]} against {names[1]} ({subtitle})", fontsize=11)
    fig.tight_layout()
    return png_bytes(fig)
