"""Shared helpers and runs for the povsim test suite.

Runs are small (scale 1000 or coarser, except the 1 : 10 reference runs of the scale checks) and
shared through session-scoped fixtures so the whole suite stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from povsim import PovertyModel

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
WEAK_GROWTH = SCENARIOS / "weak_growth.toml"

REGIONS = ("east", "central", "west")
ALL_REGIONS = ("national", *REGIONS)
PEOPLE_MEASURES = (
    "poor_people",
    "registered_poor_people",
    "registered_poor_households",
    "registered_income_poor_people",
    "unregistered_income_poor_people",
    "exited_people",
    "exits_people",
    "exits_households",
    "entries_people",
    "entries_households",
    "newly_registered_people",
    "reregistered_people",
    "relapse_people",
)
"""Measures that are counts of people or households (they add up over regions)."""


def run_model(seed: int, scale: float, scenario=None, **kwargs) -> PovertyModel:
    """Build and run a model to its end year."""
    model = PovertyModel(scenario, seed=seed, scale=scale, **kwargs)
    model.run_model()
    return model


def indexed(results: pd.DataFrame) -> pd.Series:
    """Results as a Series indexed by (year, region, measure), channel 'all' only."""
    df = results[results["channel"] == "all"]
    return df.set_index(["year", "region", "measure"])["value"]


def series(results: pd.DataFrame, measure: str, region: str = "national") -> pd.Series:
    """One measure of one region by year."""
    df = results[(results["measure"] == measure) & (results["region"] == region) & (results["channel"] == "all")]
    return df.set_index("year")["value"].sort_index()


def difference_se(a, b) -> float:
    """Standard error of the difference between the means of two independent samples of runs."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))


@pytest.fixture(scope="session")
def baseline_model() -> PovertyModel:
    """A default run, 2014–2020, at 1 agent : 1000 households (the default scale)."""
    return run_model(seed=11, scale=1000, scenario=BASELINE)


@pytest.fixture(scope="session")
def baseline_results(baseline_model: PovertyModel) -> pd.DataFrame:
    return baseline_model.results()


@pytest.fixture(scope="session")
def long_model() -> PovertyModel:
    """A run to 2025 at a coarser scale."""
    return run_model(seed=5, scale=5000, scenario=BASELINE, end_year=2025)


@pytest.fixture(scope="session")
def fine_results_2017() -> list[pd.DataFrame]:
    """Results of three runs to 2017 at 1 agent : 10 households (seeds 1–3), the reference for
    checks that coarse scales agree with fine ones (~20 s a run)."""
    return [run_model(seed=seed, scale=10, end_year=2017).results() for seed in (1, 2, 3)]
