"""Figures of the calibration and the forecast."""

from __future__ import annotations

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
    rows = report.loc[[f"{stem}_{y}" for y in years]]
    ax.errorbar(
        years,
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


def fit_figure(cal: Calibration) -> bytes:
    """Simulated (documented values, calibrated with its 90% posterior band) against observed, for
    the survey headcount, the registry stock and the 2016 county exits, and where each fitted
    parameter moved within its range (PNG)."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), dpi=110)
    report = cal.report.set_index("target")
    years = list(range(2014, FORECAST_ORIGIN + 1))

    _people_panel(
        axes[0, 0],
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
    _people_panel(
        axes[0, 1],
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

    ax = axes[1, 0]
    row = report.loc["counties_exited_2016"]
    labels = ["documented values", "calibrated (10 seeds)", "posterior draws"]
    means = [row["prior_mean"], row["calibrated_mean"], float(np.nanmean(cal.draw_runs["counties_exited_2016"]))]
    lows = [np.nan, row["seeds_p05"], row["posterior_p05"]]
    highs = [np.nan, row["seeds_p95"], row["posterior_p95"]]
    for i, (m, lo, hi) in enumerate(zip(means, lows, highs, strict=True)):
        ax.bar(i, m, color=["grey", "C2", "C2"][i], alpha=[0.5, 0.9, 0.5][i])
        if np.isfinite(lo):  # the range, which a skewed spread may leave the mean outside of
            ax.errorbar(i, (lo + hi) / 2, yerr=(hi - lo) / 2, fmt="none", color="k", capsize=4)
    ax.axhline(row["observed"], color="k", ls="--", label=f"observed: {row['observed']:.0f} (±2 tolerance shaded)")
    ax.axhspan(
        row["observed"] - 2 * row["tolerance_sd"], row["observed"] + 2 * row["tolerance_sd"], color="k", alpha=0.08
    )
    ax.set_xticks(range(3), labels, fontsize=8)
    ax.set_title("Poor counties exited by end-2016 (bars: 90% range)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)

    ax = axes[1, 1]
    pos = np.arange(len(cal.space))
    for i, d in enumerate(cal.space.dims):
        u_prior = d.position(cal.prior[d.path])
        u_cal = d.position(cal.values[d.path])
        sd = cal.posterior_sd[d.path] / (d.hi - d.lo)
        ax.plot([u_prior], [i], "o", color="grey", mfc="none")
        ax.errorbar([u_cal], [i], xerr=[[min(2 * sd, u_cal)], [min(2 * sd, 1 - u_cal)]], fmt="o", color="C3", capsize=3)
    ax.plot([], [], "o", color="grey", mfc="none", label="documented value")
    ax.errorbar([], [], xerr=[], fmt="o", color="C3", label="calibrated ± 2 posterior sd")
    ax.set_yticks(pos, [f"{d.path}\n[{d.lo:g}, {d.hi:g}]" for d in cal.space.dims], fontsize=6)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("position within the calibration range")
    ax.set_title("Fitted parameters")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    ax.grid(axis="x", alpha=0.3)

    fig.suptitle(
        f"povsim calibrate ({cal.settings.mode}): loss {cal.prior_loss:.1f} → {cal.loss:.1f}, {cal.runs} runs; "
        f"targets to {FORECAST_ORIGIN} only",
        fontsize=11,
    )
    fig.tight_layout()
    return png_bytes(fig)
