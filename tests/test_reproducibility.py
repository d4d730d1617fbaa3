"""Same seed, same results; different seeds, different results; scale only adds noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import BASELINE, difference_se, run_model, series
from povsim import PovertyModel
from povsim.cli import main


def test_same_seed_gives_identical_results():
    a = run_model(seed=42, scale=5000)
    b = run_model(seed=42, scale=5000)
    pd.testing.assert_frame_equal(a.results(), b.results())
    # and the same household table
    pd.testing.assert_frame_equal(a.households.table(), b.households.table())


def test_same_seed_identical_when_given_a_scenario_object_or_file():
    from povsim import load_scenario

    a = run_model(seed=9, scale=5000, scenario=load_scenario(BASELINE))
    b = run_model(seed=9, scale=5000, scenario=str(BASELINE))
    pd.testing.assert_frame_equal(a.results(), b.results())


def test_different_seeds_give_different_results():
    a = run_model(seed=1, scale=5000).results()
    b = run_model(seed=2, scale=5000).results()
    assert not a.equals(b)
    pa, pb = series(a, "poor_people"), series(b, "poor_people")
    assert (pa.loc[2016:] != pb.loc[2016:]).all()


def test_interleaved_models_do_not_share_random_state():
    """Building or stepping another model in between must not change a run."""
    ref = run_model(seed=4, scale=5000).results()
    a = PovertyModel(seed=4, scale=5000)
    b = PovertyModel(seed=5, scale=5000)
    while a.running:
        a.step()
        if b.running:
            b.step()
    pd.testing.assert_frame_equal(a.results(), ref)


def test_cli_results_csv_identical_for_same_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for out in ("a", "b", "c"):
        seed = "7" if out != "c" else "8"
        assert main(["run", str(BASELINE), "--scale", "20000", "--seed", seed, "--out", out, "-q"]) == 0
    a = (tmp_path / "a" / "results.csv").read_bytes()
    b = (tmp_path / "b" / "results.csv").read_bytes()
    c = (tmp_path / "c" / "results.csv").read_bytes()
    assert a == b
    assert a != c


def poor_2020(seed: int, scale: float) -> float:
    return run_model(seed=seed, scale=scale).national("poor_people")


def test_scale_changes_only_sampling_noise():
    """National poor people in 2020 at scales 1000 and 4000 agree within sampling error."""
    fine = np.array([poor_2020(seed, 1000) for seed in range(100, 104)])
    coarse = np.array([poor_2020(seed, 4000) for seed in range(200, 204)])
    se = difference_se(fine, coarse)
    diff = abs(fine.mean() - coarse.mean())
    assert se > 0
    assert diff <= 4 * se, (fine.mean(), coarse.mean(), se)
    assert diff <= 0.10 * fine.mean()


def test_scale_effect_is_small_at_the_baseline_scale():
    """Halving the households per agent (1:1000 → 1:500) moves the 2020 headcount by less than 5%."""
    base = np.array([poor_2020(seed, 1000) for seed in range(100, 104)])
    finer = np.array([poor_2020(seed, 500) for seed in range(200, 204)])
    assert abs(finer.mean() / base.mean() - 1) < 0.05, (base.mean(), finer.mean())


@pytest.mark.parametrize("scale", [1000, 2000])
def test_seed_noise_is_small_relative_to_the_level(scale):
    """Seed-to-seed noise of the 2020 headcount stays under 2% of the 2017 headcount the forecast
    starts from, at 1:1000 and 1:2000 (measured over seeds 300-305 with the end-game calibration:
    0.26M and 0.29M, 0.9% and 1.0%). The 2020 level itself is small (~7M), so noise relative to it is
    3.6% and 4.0%: the bound is on the scale of what is forecast. 1:4000 is coarser than the model
    supports: it overstates county exits and its 2020 noise is larger (docs/calibration.md, Scale)."""
    runs = [run_model(seed=seed, scale=scale).results() for seed in range(300, 306)]
    poor = np.array([series(r, "poor_people").loc[[2017, 2020]].to_numpy() for r in runs])
    assert poor[:, 1].std(ddof=1) / poor[:, 0].mean() < 0.02


def test_a_finished_model_is_freed():
    """Workers run hundreds of models: none may be kept alive (Mesa's agent-id counter held them)."""
    import gc
    import weakref

    from povsim import PovertyModel

    model = PovertyModel(seed=2, end_year=2015, scale=4000)
    model.step()
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
