"""Common random numbers across scenario files: two different files (their own names, their own
overrides, ``extends = "baseline"``) run with one seed meet the same shocks, household by household,
and that is what makes their paired difference precise.

The existing CRN test (``test_experiments_executors.py``) sweeps a parameter within one file, so a
random stream keyed by anything a file sets (its name, its path) would pass it; these use two files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from povsim import PovertyModel
from povsim.dynamics.shocks import Shocks
from povsim.experiments.spec import build_experiment
from povsim.experiments.worker import simulate
from povsim.scenario import load_scenario

SEED = 20150101


def write(folder: Path, name: str, params: str) -> Path:
    """A scenario file ``name.toml`` extending the shipped baseline with ``params`` (TOML lines)."""
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\ndescription = "CRN test: {name}"\nextends = "baseline"\n\n[params]\n{params}\n')
    return path


@pytest.fixture
def two_files(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """Two policy what-ifs in a folder of their own: less money, and no 兜底 floor. ``extends =
    "baseline"`` finds the shipped ``scenarios/`` of the working directory."""
    monkeypatch.chdir(REPO)
    return (
        write(tmp_path, "less_money", '"budget.scale" = 0.8'),
        write(tmp_path, "no_floor_here", '"programs.floor.enabled" = false\n"budget.channel_scale.industry" = 1.3'),
    )


def assert_same_shocks(a: Shocks, b: Shocks, when: str) -> None:
    """Every household's illness, medical cost, disaster loss and job loss, and every county's disaster
    severity, are the same in ``a`` and ``b``."""
    assert np.array_equal(a.ill, b.ill), f"{when}: illness"
    for name in ("medical_cost", "farm_loss"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(x.rows, y.rows) and np.array_equal(x.values, y.values), f"{when}: {name}"
    assert np.array_equal(a.job_losers, b.job_losers), f"{when}: job loss"
    assert np.array_equal(a.county_severity, b.county_severity), f"{when}: disaster severity"
    assert a.lost_work_share == b.lost_work_share


def test_two_scenario_files_with_one_seed_draw_identical_first_year_shocks(two_files):
    """Two scenario files that differ in name and overrides, run with the same seed: the end-2014
    shocks and the first simulated year's (2015) are identical for every household and county (the
    overrides are policies, which act after the year's shocks), while the two runs' results differ
    (the files are different what-ifs)."""
    a, b = (load_scenario(path) for path in two_files)
    assert a.name != b.name and a.overrides != b.overrides
    models = [PovertyModel(sc, seed=SEED, end_year=2015) for sc in (a, b)]
    assert models[0].households.n == models[1].households.n
    assert_same_shocks(models[0].shocks, models[1].shocks, "2014")
    for model in models:
        model.step()
    assert all(m.year == 2015 for m in models)
    assert_same_shocks(models[0].shocks, models[1].shocks, "2015")
    assert models[0].shocks.ill.any() and models[0].shocks.farm_loss.rows.size and models[0].shocks.job_losers.any()
    spending = [m.results().query("measure == 'spending_yuan' and channel == 'all'")["value"].sum() for m in models]
    assert spending[0] != spending[1]


def test_common_random_numbers_across_two_files_reduce_the_variance_of_their_difference(tmp_path: Path, monkeypatch):
    """Two scenario files, farm income growth 5% and 4%: over 8 replications, the paired difference in
    poor people at the end of 2017 varies far less when replication r of both files shares a seed (a
    batch of the two files) than when the second file's runs have seeds of their own."""
    monkeypatch.chdir(REPO)
    high = write(tmp_path, "farm_high", '"economy.growth.farm" = 0.05')
    low = write(tmp_path, "farm_low", '"economy.growth.farm" = 0.04')
    reps, year = 8, 2017
    small = {"scale": 20000, "end_year": year, "reps": reps}
    paired = build_experiment([high, low], seed=42, **small)
    own_seeds = build_experiment([low], seed=1042, **small)

    def poor(runs, scenario):
        out = []
        for spec in runs:
            if spec.scenario == scenario:
                r = simulate(spec)
                sel = (r.region == "national") & (r.measure == "poor_people") & (r.year == year)
                out.append(float(r.loc[sel, "value"].item()))
        return np.array(out)

    seeds = {name: [s.seed for s in paired.runs if s.scenario == name] for name in ("farm_high", "farm_low")}
    assert seeds["farm_high"] == seeds["farm_low"] and len(set(seeds["farm_high"])) == reps
    assert not set(s.seed for s in own_seeds.runs) & set(seeds["farm_high"])
    base = poor(paired.runs, "farm_high")
    with_crn = poor(paired.runs, "farm_low") - base
    without = poor(own_seeds.runs, "farm_low") - base
    # measured sd 0.08–0.10M with common random numbers against 1.1–1.5M without (base seeds 42 and 7):
    # a variance ratio of 0.003–0.008, so a tenth leaves a margin of twelve at least
    assert np.var(with_crn, ddof=1) < 0.1 * np.var(without, ddof=1)
    assert with_crn.mean() > 0  # slower farm growth leaves more people poor
