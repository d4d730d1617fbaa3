"""Figures of the calibration and the forecast."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from povsim.calibration.evaluate import interval
from povsim.observed import FORECAST_ORIGIN, REGISTERED_POOR_PEOPLE
from povsim.reporting import png_bytes

if TYPE_CHECKING:
    from povsim.calibration.fit import Calibration


def _series(runs: pd.DataFrame, stem: str, years: list[int]) -> pd.DataFrame:
    cols = [f"{stem}_{y}" for y in years]
    return runs[cols].set_axis(years, axis=1)


def _band(ax: plt.Axes, runs: pd.DataFrame, stem: str, years: list[int], color: str, label: str) -> None:
    table = _series(runs, stem, years) / 1e6
    lo = [interval(table[y])[0] for y in years]
    hi = [interval(table[y])[1] for y in years]
    ax.fill_between(years, lo, hi, color=color, alpha=0.25, lw=0, label=f"{label}: 90% band")


def _people_panel(
    ax: plt.Axes,
    cal: Calibration,
    report: pd.DataFrame,
    stem: str,
    years: list[int],
    color: str,
    marker: str,
    observed_style: dict,
    observed_label: str,
    title: str,
) -> None:
    """One people target over the years: the posterior band, the calibrated and documented-value
    means, and the observations with ±2 tolerances (all in millions)."""
    _band(ax, cal.draw_runs, stem, years, color, "calibrated, posterior draws")
    ax.plot(
        years,
        _series(cal.check_runs, stem, years).mean() / 1e6,
        f"-{marker}",
        color=color,
        label="calibrated (10 seeds)",
    )
    ax.plot(years, _series(cal.prior_runs, stem, years).mean() / 1e6, "--", color="grey", label="documented values")
    rows = report.loc[[f"{stem}_{y}" for y in years if f"{stem}_{y}" in report.index]]
    ax.errorbar(
        rows["year"],
        rows["observed"] / 1e6,
        yerr=rows["tolerance_sd"] * 2 / 1e6,
        ms=7,
        capsize=3,
        label=f"{observed_label} (±2 tolerance)",
        **observed_style,
    )
    ax.set_title(title)
    ax.set_ylabel("millions")
    ax.set_xticks(years)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


REGION_COLOURS = {"east": "C0", "central": "C1", "west": "C2"}


def _regional_panel(ax: plt.Axes, cal: Calibration, report: pd.DataFrame, years: list[int]) -> None:
    """The survey headcount by region: calibrated mean and posterior band, observations ±2 tolerances."""
    for region, color in REGION_COLOURS.items():
        stem = f"poor_people_{region}"
        _band(ax, cal.draw_runs, stem, years, color, region)
        ax.plot(years, _series(cal.check_runs, stem, years).mean() / 1e6, "-o", color=color, ms=4)
        rows = report[report.index.str.fullmatch(rf"{stem}_\d{{4}}")]
        ax.errorbar(
            rows["year"],
            rows["observed"] / 1e6,
            yerr=rows["tolerance_sd"] * 2 / 1e6,
            fmt="^",
            color="k",
            mfc=color,
            ms=7,
            capsize=3,
            label=f"{region}: NBS (±2 tolerance)",
        )
    ax.set_title("Rural poor people by region (lines: calibrated)")
    ax.set_ylabel("millions")
    ax.set_xticks(years)
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)


def _ratio_label(row: pd.Series) -> str:
    kind = "fitted" if row["fitted"] else "checked"
    return f"{row['label']}\n(observed {row['observed']:,.0f}; {kind})"


def _ratio_panel(ax: plt.Axes, report: pd.DataFrame, targets: list[str]) -> None:
    """Targets that are not a headcount series, as simulated over observed: documented-value and
    calibrated means, the seeds' 90% range, and each target's acceptance shaded."""
    for i, name in enumerate(targets):
        row = report.loc[name]
        obs = row["observed"]
        if row["acceptance"].startswith("within a factor"):
            f = float(row["acceptance"].split()[-1])
            lo, hi = 1 / f, f
        elif row["acceptance"].endswith("%"):
            a = float(row["acceptance"].split()[-1].rstrip("%")) / 100
            lo, hi = 1 - a, 1 + a
        else:
            lo, hi = 1 - 2 * row["tolerance_sd"] / obs, 1 + 2 * row["tolerance_sd"] / obs
        ax.fill_betweenx([i - 0.35, i + 0.35], lo, hi, color="k", alpha=0.08, lw=0)
        ax.plot([max(row["prior_mean"] / obs, 0.05)], [i], "o", color="grey", mfc="none")
        ax.errorbar(
            [max(row["calibrated_mean"] / obs, 0.05)],
            [i],
            xerr=[
                [max(row["calibrated_mean"] - row["seeds_p05"], 0) / obs],
                [max(row["seeds_p95"] - row["calibrated_mean"], 0) / obs],
            ],
            fmt="o",
            color="C3" if row["fitted"] else "C4",
            capsize=3,
        )
    ax.axvline(1, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(
        range(len(targets)),
        [_ratio_label(report.loc[t]) for t in targets],
        fontsize=6,
    )
    ax.plot([], [], "o", color="grey", mfc="none", label="documented values")
    ax.errorbar([], [], xerr=[], fmt="o", color="C3", label="calibrated, fitted (seeds' 90% range)")
    ax.errorbar([], [], xerr=[], fmt="o", color="C4", label="calibrated, checked")
    ax.fill_between([], [], color="k", alpha=0.08, label="acceptance")
    ax.set_xlabel("simulated / observed (log scale)")
    ax.set_title("Counties, relocation and re-registration")
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    ax.grid(axis="x", alpha=0.3)


def fit_figure(cal: Calibration) -> bytes:
    """Every target: simulated (documented values; calibrated, with its 90% posterior band) against
    observed — the survey headcount nationally and by region, the registry stock, and the counties,
    relocation and re-registration as ratios to what was observed — and where each fitted parameter
    moved within its range (PNG)."""
    fig = plt.figure(figsize=(15, 9), dpi=100)
    grid = fig.add_gridspec(2, 3)
    report = cal.report.set_index("target")
    years = list(range(2014, FORECAST_ORIGIN + 1))

    _people_panel(
        fig.add_subplot(grid[0, 0]),
        cal,
        report,
        "poor_people",
        years,
        "C0",
        "o",
        {"fmt": "k^"},
        "NBS survey",
        "Rural poor people (survey definition)",
    )
    if any(report.index.str.startswith("poor_people_east")):
        _regional_panel(fig.add_subplot(grid[0, 1]), cal, report, years)
    _people_panel(
        fig.add_subplot(grid[0, 2]),
        cal,
        report,
        "registered_poor_people",
        sorted(REGISTERED_POOR_PEOPLE),
        "C1",
        "s",
        {"fmt": "kD", "mfc": "none"},
        "registry",
        "Registry stock (jiandang lika)",
    )
    others = [t for t in report.index if t.split("_")[0] in ("counties", "relocated", "reregistered")]
    if others:
        _ratio_panel(fig.add_subplot(grid[1, 0]), report, others)

    ax = fig.add_subplot(grid[1, 1:])
    pos = np.arange(len(cal.space))
    for i, d in enumerate(cal.space.dims):
        u_prior = d.position(cal.prior[d.path])
        u_cal = d.position(cal.values[d.path])
        sd = cal.posterior_sd[d.path] / (d.hi - d.lo)
        ax.plot([u_prior], [i], "o", color="grey", mfc="none")
        ax.errorbar([u_cal], [i], xerr=[[min(2 * sd, u_cal)], [min(2 * sd, 1 - u_cal)]], fmt="o", color="C3", capsize=3)
    ax.plot([], [], "o", color="grey", mfc="none", label="documented value")
    ax.errorbar([], [], xerr=[], fmt="o", color="C3", label="calibrated ± 2 posterior sd")
    ax.set_yticks(pos, [f"{d.path} [{d.lo:g}, {d.hi:g}]" for d in cal.space.dims], fontsize=6)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("position within the calibration range")
    ax.set_title("Fitted parameters")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)

    missed = [str(x) for x in cal.report.loc[~cal.report["met"].astype(bool), "label"]]
    verdict = (
        "\n".join(textwrap.wrap(f"{len(missed)} of {len(cal.report)} targets missed: {', '.join(missed)}", 170))
        if missed
        else f"all {len(cal.report)} targets met"
    )
    fig.suptitle(
        f"povsim calibrate ({cal.settings.mode}): loss {cal.prior_loss:.1f} → {cal.loss:.1f}, {cal.runs} runs; "
        f"targets to {max((t.year for t in cal.targets), default=FORECAST_ORIGIN)} only\n{verdict}",
        fontsize=10,
    )
    fig.tight_layout()
    return png_bytes(fig)
