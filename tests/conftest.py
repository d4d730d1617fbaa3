"""Shared helpers and runs for the povsim test suite.

Runs are small (scale 1000 or coarser, except the 1 : 10 reference runs of the scale checks) and
shared through session-scoped fixtures so the whole suite stays fast.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.register_assert_rewrite("invariants")  # its checks are asserts: failures explained, and counted

# every model the suite makes (and the worker processes it starts) runs each phase of the year under its
# declaration of the household state: an undeclared write or read fails the test (povsim.state)
os.environ.setdefault("POVSIM_CHECK_STATE", "1")

from povsim import PovertyModel  # noqa: E402

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


# --- counting the assertions each test reaches (issue 22) ------------------------------------------
#
# POVSIM_COUNT_ASSERTIONS=FILE pytest -p no:cacheprovider -o enable_assertion_pass_hook=true
#
# writes FILE: one line per test, "<count>\t<node id>", counting the ``assert`` statements that passed
# (pytest's assertion-pass hook, which needs the ini option and freshly rewritten test modules), the
# ``pytest.raises`` / ``pytest.warns`` blocks entered and the numpy and pandas ``assert_*`` helpers
# called. A test at 0 never checked anything it ran.

_COUNT_FILE = os.environ.get("POVSIM_COUNT_ASSERTIONS")
_counts: dict[str, int] = {}
_current: list[str] = []


def _count() -> None:
    if _current:
        _counts[_current[0]] = _counts.get(_current[0], 0) + 1


def pytest_assertion_pass(item, lineno, orig, expl):
    _count()


def _counting(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _count()
        return fn(*args, **kwargs)

    return wrapper


if _COUNT_FILE:
    import numpy.testing as _npt
    import pandas.testing as _pdt

    for _module in (_npt, _pdt, np.testing):
        for _name in dir(_module):
            if _name.startswith("assert_") and callable(getattr(_module, _name)):
                setattr(_module, _name, _counting(getattr(_module, _name)))
    pytest.raises = _counting(pytest.raises)
    pytest.warns = _counting(pytest.warns)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not _COUNT_FILE:
        yield
        return
    _current[:] = [item.nodeid]
    _counts.setdefault(item.nodeid, 0)
    yield
    _current.clear()


def pytest_sessionfinish(session, exitstatus):
    if _COUNT_FILE and _counts:
        Path(_COUNT_FILE).write_text("".join(f"{n}\t{node}\n" for node, n in sorted(_counts.items())))
