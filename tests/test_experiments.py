"""Experiments (``povsim batch``, ``povsim sweep``, ``povsim compare``): the experiment table
and its seeds, bad input, resuming an interrupted batch, failing runs, and the comparison.

Runs are small (1 agent : 20,000 households, to 2016 or 2017) so the file stays fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from povsim.cli import main
from povsim.errors import PovsimInputError
from povsim.experiments.compare import frontier_figure, summarize
from povsim.experiments.runner import run_experiment
from povsim.experiments.spec import Experiment, build_experiment, parse_param, rep_seed
from povsim.experiments.store import RunStore
from povsim.experiments.worker import RunOutcome, execute_run
from povsim.model import PovertyModel

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
WEAK = str(ROOT / "scenarios" / "weak_growth.toml")
SMALL = {"scale": 20000, "end_year": 2016}
FARM = "economy.growth.farm"


def small_experiment(reps: int = 2, **kw) -> Experiment:
    """Two scenarios × two farm-growth values × ``reps``: 4·reps runs."""
    return build_experiment([BASELINE, WEAK], params=[f"{FARM}=0.04,0.05"], reps=reps, **{**SMALL, **kw})


def run_identity(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[["scenario", FARM, "rep", "seed"]].drop_duplicates()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted serial run of the small experiment (3 reps, 12 runs)."""
    out = tmp_path_factory.mktemp("reference")
    run_experiment(small_experiment(reps=3), out, executor="serial", progress=False)
    return out


# -- the experiment table -------------------------------------------------------------


def test_replication_seeds_are_common_across_scenarios_and_grid_points() -> None:
    exp = small_experiment(reps=3)
    assert len(exp.runs) == 2 * 2 * 3
    by_rep: dict[int, set[int]] = {}
    for run in exp.runs:
        by_rep.setdefault(run.rep, set()).add(run.seed)
    assert all(len(seeds) == 1 for seeds in by_rep.values())  # same seed in every scenario and point
    seeds = [next(iter(by_rep[r])) for r in range(3)]
    assert seeds[0] == exp.base_seed == 20141231  # rep 0 is the first scenario's run.seed
    assert len(set(seeds)) == 3
    assert seeds == [rep_seed(exp.base_seed, r) for r in range(3)]
    assert build_experiment([BASELINE], reps=2, seed=7, **SMALL).seeds[0] == 7


def test_run_keys_are_stable_and_unique() -> None:
    a, b = small_experiment(), small_experiment()
    keys = [r.key for r in a.runs]
    assert keys == [r.key for r in b.runs]
    assert len(set(keys)) == len(keys)
    assert keys[0].startswith("baseline_economy.growth.farm=0.04_r0000_")


def test_param_values_are_read_as_toml_and_normalised() -> None:
    assert parse_param("budget.scale=0.5,0.75,1,1.25") == ("budget.scale", [0.5, 0.75, 1, 1.25])
    path, values = parse_param("population.causes.illness={east = 0.5, west = 0.2},{east = 0.6}")
    assert path == "population.causes.illness" and values == [{"east": 0.5, "west": 0.2}, {"east": 0.6}]
    exp = build_experiment([BASELINE], params=[f"{FARM}=0,0.05"], reps=1, **SMALL)
    assert [r.point for r in exp.runs] == [((FARM, 0.0),), ((FARM, 0.05),)]  # 0 read as the float it is


def test_rep_zero_reproduces_povsim_run(tmp_path: Path) -> None:
    report = run_experiment(build_experiment([WEAK], reps=1, **SMALL), tmp_path, executor="serial", progress=False)
    model = PovertyModel(WEAK, seed=20141231, **SMALL)
    model.run_model()
    expected = model.results()
    got = report.runs[expected.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert (report.runs[["scenario", "rep", "seed"]].drop_duplicates().values.tolist()) == [
        ["weak_growth", 0, 20141231]
    ]


# -- bad input ------------------------------------------------------------------------


BAD_INPUT = [
    (["batch", "scenarios/nope.toml"], "scenario file not found"),
    (["batch", BASELINE, "--reps", "0"], "--reps 0: the number of replications must be at least 1"),
    (["batch", BASELINE, "--workers", "0"], "--workers 0: the number of workers must be at least 1"),
    (["batch", BASELINE, "--executor", "threads"], "unknown executor (choose serial, process, dask)"),
    (["batch", BASELINE, "--executor", "serial", "--workers", "2"], "serial executor runs one run at a time"),
    (["batch", BASELINE, "--address", "tcp://127.0.0.1:8786"], "only the dask executor connects"),
    (["batch", BASELINE, BASELINE], "is given twice"),
    (["batch", BASELINE, "--set", "run.seed=3"], "use --seed"),
    (["batch", BASELINE, "--scale", "0"], "run.scale"),
    (["sweep", BASELINE], "needs at least one --param"),
    (["sweep", BASELINE, "--param", FARM], "expected key.path=value1,value2"),
    (["sweep", BASELINE, "--param", "economy.growth.farmx=0.1,0.2"], "did you mean 'economy.growth.farm'"),
    (["sweep", BASELINE, "--param", f"{FARM}=0.1,abc"], "expected a number, got 'abc'"),
    (["sweep", BASELINE, "--param", f"{FARM}=0.1,0.9"], "outside the allowed range"),
    (["sweep", BASELINE, "--param", f"{FARM}=0.1,0.1"], "value 0.1 is given twice"),
    (["sweep", BASELINE, "--param", f"{FARM}=0.1,,0.2"], "empty value"),
    (["sweep", BASELINE, "--param", "run.seed=1,2"], "seeds are set per replication"),
    (["sweep", BASELINE, "--param", f"{FARM}=0.1", "--set", f"{FARM}=0.2"], "both swept (--param) and fixed"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[" ".join(a[:1] + a[2:]) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2_nothing_written(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("povsim: error: ") and "\n" not in err
    assert message in err
    assert not out.exists()


def test_compare_without_runs_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", str(tmp_path)]) == 2
    assert "no runs found" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing")]) == 2
    assert list(tmp_path.iterdir()) == []


def test_a_folder_holding_another_experiment_is_refused(reference: Path) -> None:
    before = sorted(p.name for p in (reference / "runs").iterdir())
    with pytest.raises(PovsimInputError, match=r"holds a different experiment \(base_seed: 20141231 then, 5 now\)"):
        run_experiment(small_experiment(reps=3, seed=5), reference, executor="serial")
    with pytest.raises(PovsimInputError, match="scenarios: baseline, weak_growth then, weak_growth now"):
        run_experiment(
            build_experiment([WEAK], params=[f"{FARM}=0.04,0.05"], reps=1, **SMALL), reference, executor="serial"
        )
    assert sorted(p.name for p in (reference / "runs").iterdir()) == before


def test_an_unrelated_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(PovsimInputError, match="not a povsim experiment"):
        run_experiment(small_experiment(), tmp_path, executor="serial")


# -- resume ---------------------------------------------------------------------------


def test_interrupted_batch_resumes_to_the_same_tables(reference: Path, tmp_path: Path) -> None:
    exp = small_experiment(reps=3)
    seen = []

    def interrupt_after_five(spec, outcome):  # Ctrl-C arrives after the fifth run is stored
        seen.append(spec.key)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, tmp_path, executor="serial", progress=False, on_result=interrupt_after_five)
    store = RunStore(tmp_path)
    assert store.finished_keys() == set(seen)
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "interrupted"
    assert not (tmp_path / "runs.parquet").exists()
    # a batch killed mid-write leaves a temporary file: never taken for a run, removed on resume
    (tmp_path / "runs" / f".{exp.runs[6].key}.parquet.x1y2.tmp").write_bytes(b"half a file")

    report = run_experiment(exp, tmp_path, executor="serial", progress=False)
    assert (report.skipped, report.finished, report.failed) == (5, 7, {})
    assert not list((tmp_path / "runs").glob(".*.tmp"))
    assert len(run_identity(report.runs)) == len(exp.runs) == 12  # every run exactly once
    assert (tmp_path / "runs.parquet").read_bytes() == (reference / "runs.parquet").read_bytes()
    assert (tmp_path / "runs.csv").read_bytes() == (reference / "runs.csv").read_bytes()
    again = run_experiment(exp, tmp_path, executor="serial", progress=False)
    assert (again.skipped, again.finished) == (12, 0)
    assert (tmp_path / "runs.parquet").read_bytes() == (reference / "runs.parquet").read_bytes()


def test_more_reps_on_rerun_adds_runs_only(reference: Path, tmp_path: Path) -> None:
    run_experiment(small_experiment(reps=2), tmp_path, executor="serial", progress=False)
    report = run_experiment(small_experiment(reps=3), tmp_path, executor="serial", progress=False)
    assert (report.skipped, report.finished) == (8, 4)
    assert (tmp_path / "runs.parquet").read_bytes() == (reference / "runs.parquet").read_bytes()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "povsim.cli", *args]


def _stop_when(proc: subprocess.Popen, runs: Path, n: int, sig: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.is_dir() and len(list(runs.glob("*.parquet"))) >= n:
            break
        time.sleep(0.01)
    if proc.poll() is None:
        os.killpg(proc.pid, sig)  # the process group this test started
    proc.wait(timeout=60)


def test_killed_and_interrupted_batch_completes_on_rerun(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = _cli("batch", BASELINE, WEAK, "--reps", "8", "--scale", "5000", "--end-year", "2017", "--out", str(out))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}

    # 1. a killed batch (SIGKILL, nothing can clean up)
    killed = subprocess.Popen(
        [*args, "--executor", "serial"],
        start_new_session=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _stop_when(killed, out / "runs", 3, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    after_kill = len(list((out / "runs").glob("*.parquet")))
    assert 3 <= after_kill < 16

    # 2. Ctrl-C on a process-pool batch: exit 130 and a hint to rerun, workers stopped
    interrupted = subprocess.Popen(
        [*args, "--workers", "2"],
        start_new_session=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _stop_when(interrupted, out / "runs", after_kill + 2, signal.SIGINT)
    err = interrupted.stderr.read()
    interrupted.stderr.close()
    if interrupted.returncode == 130:  # (it may have finished before the signal on a fast machine)
        assert "run the same command again" in err
    assert json.loads((out / "manifest.json").read_text())["status"] in {"interrupted", "complete"}

    # 3. the same command completes the rest
    done = subprocess.run([*args, "-q", "--workers", "2"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    runs = pd.read_parquet(out / "runs.parquet")
    ident = runs[["scenario", "rep"]].drop_duplicates()
    assert len(ident) == 16
    assert not runs.duplicated(["scenario", "rep", "year", "region", "measure", "channel"]).any()  # none twice
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert len(list((out / "runs").glob("*.parquet"))) == 16
    assert not list(out.rglob("*.tmp"))


# -- failing runs ---------------------------------------------------------------------


def test_a_failing_run_is_recorded_and_the_others_complete(reference: Path, tmp_path: Path) -> None:
    exp = small_experiment(reps=3)
    bad = exp.runs[4].key

    def flaky(spec):
        if spec.key == bad:
            raise ValueError("budget exhausted in county 17")
        return execute_run(spec)

    report = run_experiment(exp, tmp_path, executor="serial", progress=False, run_fn=flaky)
    assert list(report.failed) == [bad] and report.finished == 11 and not report.complete
    record = json.loads((tmp_path / "runs" / f"{bad}.error.json").read_text())
    assert record["error"]["type"] == "ValueError"
    assert "budget exhausted in county 17" in record["error"]["traceback"]
    assert record["run"]["rep"] == exp.runs[4].rep and record["attempts"] == 1
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["runs"]["failed"][0]["key"] == bad
    assert len(run_identity(report.runs)) == 11

    retry = run_experiment(exp, tmp_path, executor="serial", progress=False)  # the rerun retries it
    assert (retry.skipped, retry.finished, retry.failed) == (11, 1, {})
    assert not (tmp_path / "runs" / f"{bad}.error.json").exists()
    assert (tmp_path / "runs.parquet").read_bytes() == (reference / "runs.parquet").read_bytes()


def test_failing_runs_make_the_command_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import povsim.experiments.worker as worker

    real = worker.simulate

    def simulate(spec):
        if spec.rep == 1:
            raise RuntimeError("model diverged")
        return real(spec)

    monkeypatch.setattr(worker, "simulate", simulate)
    argv = ["batch", BASELINE, "--reps", "2", "--scale", "20000", "--end-year", "2016", "--executor", "serial"]
    assert main([*argv, "--out", str(tmp_path), "-q"]) == 1
    err = capsys.readouterr().err
    assert "1 run(s) failed" in err and "baseline rep 1: model diverged" in err
    assert (tmp_path / "runs.parquet").exists() and (tmp_path / "summary.csv").exists()


def crash_once(spec):
    """A worker function whose process dies (as if killed) the first time it meets rep 1."""
    marker = Path(os.environ["POVSIM_TEST_MARKER"])
    if spec.rep == 1 and not marker.exists():
        marker.write_text("died once")
        os._exit(9)
    return execute_run(spec)


def test_a_dead_worker_process_is_replaced(reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POVSIM_TEST_MARKER", str(tmp_path / "marker"))
    out = tmp_path / "out"
    report = run_experiment(
        small_experiment(reps=2), out, executor="process", workers=2, progress=False, run_fn=crash_once
    )
    assert (tmp_path / "marker").exists()
    assert report.complete and not report.failed
    expected = pd.read_parquet(reference / "runs.parquet").query("rep < 2").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), expected)


# -- compare --------------------------------------------------------------------------


def test_compare_writes_summary_and_figures(reference: Path, capsys: pytest.CaptureFixture) -> None:
    (reference / "runs.parquet").unlink()  # compare assembles it again from the run files
    assert main(["compare", str(reference)]) == 0
    printed = capsys.readouterr().out
    assert "Δ vs baseline, economy.growth.farm=0.04 (M, paired)" in printed
    for name in ("summary.csv", "runs.parquet", "trajectories.png", "exits_by_channel.png", "relapse.png"):
        assert (reference / name).stat().st_size > 0, name
    assert (reference / "trajectories.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = pd.read_csv(reference / "summary.csv")
    assert list(summary.columns) == [
        "scenario",
        FARM,
        "year",
        "region",
        "measure",
        "channel",
        "mean",
        "p05",
        "p95",
        "n",
    ]
    runs = pd.read_parquet(reference / "runs.parquet")
    sel = runs[
        (runs.scenario == "weak_growth")
        & (runs[FARM] == 0.05)
        & (runs.year == 2016)
        & (runs.region == "national")
        & (runs.measure == "poor_people")
        & (runs.channel == "all")
    ]
    row = summary[
        (summary.scenario == "weak_growth")
        & (summary[FARM] == 0.05)
        & (summary.year == 2016)
        & (summary.region == "national")
        & (summary.measure == "poor_people")
        & (summary.channel == "all")
    ]
    assert row["n"].item() == 3
    assert row["mean"].item() == pytest.approx(sel["value"].mean())
    assert row["p05"].item() == pytest.approx(np.quantile(sel["value"], 0.05))
    assert row["p05"].item() <= row["mean"].item() <= row["p95"].item()
    keys = ["scenario", FARM, "year", "region", "measure", "channel"]
    assert len(summary) == len(runs[keys].drop_duplicates())


def test_frontier_uses_spending_or_says_what_it_plots_instead(reference: Path) -> None:
    runs = pd.read_parquet(reference / "runs.parquet") if (reference / "runs.parquet").exists() else None
    runs = RunStore(reference).load_runs() if runs is None else runs
    no_spending = runs[runs["measure"] != "spending_yuan"]
    png, note = frontier_figure(no_spending[no_spending["scenario"] == "baseline"], "test")
    assert png is not None and png[:4] == b"\x89PNG"
    assert "x is the swept parameter economy.growth.farm, not spending" in note
    png, note = frontier_figure(no_spending.drop(columns=[FARM]), "test")  # nothing to plot against
    assert png is None and "frontier.png not written" in note

    spending = runs[(runs["year"] == 2016) & (runs["region"] == "national")].head(1).copy()
    spending = pd.concat(
        [
            runs,
            *(
                spending.assign(scenario=s, rep=r, year=y, measure="spending_yuan", channel=c, value=1e9, **{FARM: f})
                for s in ("baseline", "weak_growth")
                for f in (0.04, 0.05)
                for r in range(3)
                for y in (2015, 2016)
                for c in ("industry", "floor")
            ),
        ],
        ignore_index=True,
    )
    png, note = frontier_figure(spending, "test")
    assert png is not None and note is None


def test_summary_is_ordered_like_the_runs() -> None:
    runs = pd.DataFrame(
        {
            "scenario": ["b", "b", "a", "a"],
            "rep": [0, 1, 0, 1],
            "seed": [1, 2, 1, 2],
            "year": [2015] * 4,
            "region": ["national"] * 4,
            "measure": ["poor_people"] * 4,
            "channel": ["all"] * 4,
            "value": [1.0, 3.0, 10.0, 30.0],
        }
    )
    s = summarize(runs)
    assert s["scenario"].tolist() == ["b", "a"] and s["mean"].tolist() == [2.0, 20.0] and s["n"].tolist() == [2, 2]


def test_worker_refuses_a_scenario_changed_since_validation(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'name = "s"\nextends = "{BASELINE}"\n')
    exp = build_experiment([scenario], reps=1, **SMALL)
    scenario.write_text(f'name = "s"\nextends = "{BASELINE}"\n[params]\n"economy.growth.farm" = 0.01\n')
    outcome: RunOutcome = execute_run(exp.runs[0])
    assert not outcome.ok and "differ from those validated" in outcome.error["message"]


# -- what the comparison figures say -----------------------------------------------------


def _captured_figure(monkeypatch: pytest.MonkeyPatch, draw, *args):
    """The matplotlib figure a figure function draws (instead of its PNG bytes)."""
    from povsim.experiments import compare

    captured = {}

    def keep(fig):
        captured["fig"] = fig
        return b""

    monkeypatch.setattr(compare, "png_bytes", keep)
    draw(*args)
    return captured["fig"]


def test_bands_from_few_replications_say_so_and_the_sampling_design(reference: Path, monkeypatch) -> None:
    from povsim.experiments.compare import MIN_BAND_RUNS, band_caveat, write_comparison

    write_comparison(reference)  # 3 replications
    manifest = json.loads((reference / "manifest.json").read_text())
    assert all("poor_area_scale" in s for s in manifest["scenarios"])
    runs = pd.read_parquet(reference / "runs.parquet")
    from povsim.experiments.compare import trajectories_figure

    fig = _captured_figure(monkeypatch, trajectories_figure, runs, "t" + band_caveat(3))
    titles = [ax.get_title() for ax in fig.axes]
    assert any(f"fewer than {MIN_BAND_RUNS} replications" in t for t in titles)
    assert band_caveat(MIN_BAND_RUNS) == ""


def test_the_baseline_line_is_drawn_thick_beneath_the_what_ifs(reference: Path, monkeypatch) -> None:
    from povsim.experiments.compare import trajectories_figure

    runs = pd.read_parquet(reference / "runs.parquet")
    fig = _captured_figure(monkeypatch, trajectories_figure, runs, "t")
    lines = {ln.get_label().split(" (n=")[0]: ln for ln in fig.axes[0].get_lines() if "(n=" in ln.get_label()}
    base = [ln for label, ln in lines.items() if label.startswith("baseline")]
    other = [ln for label, ln in lines.items() if not label.startswith("baseline")]
    assert base and other
    assert min(ln.get_linewidth() for ln in base) > max(ln.get_linewidth() for ln in other)
    assert max(ln.get_zorder() for ln in base) < min(ln.get_zorder() for ln in other)
    star = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("2020 target")]
    assert all(not ln.get_clip_on() for ln in star)  # a star at zero is not cut in half by the axis
