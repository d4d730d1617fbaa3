"""Output integrity and input safety (issue 17): every command ends an error with one line and exit code
2 (bad input) or 3 (environment), never a traceback; the folder of ``povsim run``, ``forecast``,
``sensitivity``, ``calibrate`` and ``backtest`` is always one complete output or the previous one; no output
lands outside its folder; corrupt run files are set aside and re-run; a Dask batch whose last worker dies
stops within its timeout.

Disk-full cases replace ``povsim.io._write_all``, the one low-level write of every output file. Runs are
small (1 agent : 20,000 households, to 2016) and most cases fail before any model runs.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import povsim
import povsim.io
from povsim.cli import main
from povsim.dashboard import levers as dashboard_levers
from povsim.errors import PovsimInputError
from povsim.experiments.runner import run_experiment
from povsim.experiments.spec import build_experiment
from povsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = str(SCENARIOS / "baseline.toml")
SMALL = ["--scale", "20000", "--end-year", "2016"]
RUN_OUTPUTS = {"results.csv", "counties.csv", "limits.csv", "manifest.json", "poverty_trajectory.png"}
BATCH = ["batch", BASELINE, *SMALL, "--reps", "2", "--executor", "serial"]
CALIBRATION_REPORT = {"fit.csv", "fit.png", "posterior.csv", "evaluations.csv", "calibration.json"}


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``povsim ARGV`` in-process: exit code, stdout, stderr (argparse's exits included)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    """The single line of stderr (asserted to be one, and no traceback)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("povsim"), err
    return lines[0]


def disk_full_on(monkeypatch: pytest.MonkeyPatch, names: set[str] | None = None) -> list[str]:
    """Make writing any file of ``names`` (every file: None) fail with ENOSPC; return the names hit."""
    real = povsim.io._write_all
    hit: list[str] = []

    def full(path: Path, fh, data: bytes) -> int:
        if names is None or path.name in names:
            hit.append(path.name)
            fh.write(data[: len(data) // 2])  # a half-written temporary file, as a real full disk leaves
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, fh, data)

    monkeypatch.setattr(povsim.io, "_write_all", full)
    return hit


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def no_leftovers(parent: Path) -> None:
    """No hidden build, old or temporary folder/file left beside the outputs."""
    assert not [p.name for p in parent.iterdir() if p.name.startswith(".")]


# -- 1. write failures: one line, exit 3, the old complete folder or none ---------------------------


def test_run_on_a_full_disk_leaves_no_folder(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    disk_full_on(monkeypatch, {"manifest.json"})  # results.csv and counties.csv are written first
    code, _, err = cli(["run", BASELINE, *SMALL, "--out", str(out), "-q"], capsys)
    line = one_line(err)
    assert code == 3
    assert "manifest.json" in line and "disk full" in line
    assert not out.exists()
    no_leftovers(tmp_path)


def test_run_on_a_full_disk_keeps_the_previous_complete_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    assert cli(["run", BASELINE, *SMALL, "--seed", "3", "--out", str(out), "-q"], capsys)[0] == 0
    before = folder_bytes(out)
    disk_full_on(monkeypatch, {"poverty_trajectory.png"})
    code, _, err = cli(["run", BASELINE, *SMALL, "--seed", "99", "--out", str(out), "-q"], capsys)
    assert code == 3 and "poverty_trajectory.png" in one_line(err)
    assert folder_bytes(out) == before  # not results.csv of seed 99 beside the rest of seed 3
    no_leftovers(tmp_path)
    monkeypatch.undo()
    assert cli(["run", BASELINE, *SMALL, "--seed", "99", "--out", str(out), "-q"], capsys)[0] == 0
    assert set(folder_bytes(out)) == set(RUN_OUTPUTS)
    assert json.loads((out / "manifest.json").read_text())["seed"] == 99


def test_batch_failing_on_runs_csv_exits_3_and_records_failed(tmp_path, monkeypatch, capsys):
    out = tmp_path / "b"
    disk_full_on(monkeypatch, {"runs.csv"})
    code, _, err = cli([*BATCH, "--out", str(out), "-q"], capsys)
    line = one_line(err)
    assert code == 3 and "runs.csv" in line and "disk full" in line
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "runs.csv" in manifest["error"]
    assert manifest["runs"]["finished"] == 2  # the runs are stored
    assert not (out / "runs.parquet").exists() and not (out / "runs.csv").exists()  # no half of the tables
    monkeypatch.undo()
    assert cli([*BATCH, "--out", str(out), "-q"], capsys)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert (out / "runs.csv").exists() and (out / "summary.csv").exists()


def test_atomic_write_on_a_full_disk_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    povsim.io.write_json({"a": 1}, target)
    disk_full_on(monkeypatch)
    from povsim.errors import PovsimEnvironmentError

    with pytest.raises(PovsimEnvironmentError, match=r"x\.json: cannot write: no space left"):
        povsim.io.write_json({"a": 2}, target)
    assert json.loads(target.read_text()) == {"a": 1}
    no_leftovers(tmp_path)


# -- 1b. forecast, sensitivity, calibrate and backtest swap their folders in whole (model runs faked) --


def disk_full_at(monkeypatch: pytest.MonkeyPatch, n: int) -> list[str]:
    """Make the ``n``-th file written (1: the first) fail with ENOSPC; return the names of all written."""
    real = povsim.io._write_all
    names: list[str] = []

    def full(path: Path, fh, data: bytes) -> int:
        names.append(path.name)
        if len(names) == n:
            fh.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, fh, data)

    monkeypatch.setattr(povsim.io, "_write_all", full)
    return names


def _frame(tag: float) -> pd.DataFrame:
    return pd.DataFrame({"year": [2018, 2019], "value": [tag, tag + 1]})


def fake_forecast(monkeypatch: pytest.MonkeyPatch, tag: float) -> None:
    """``povsim forecast`` without model runs: tables and figures that carry ``tag``."""
    from types import SimpleNamespace

    import povsim.calibration.forecast as forecast

    fc = SimpleNamespace(table=_frame(tag), runs=_frame(tag), decomposition=_frame(tag), parameter_draws=2, notes=[])
    monkeypatch.setattr(forecast, "run_forecast", lambda *a, **k: fc)
    monkeypatch.setattr(forecast, "forecast_figure", lambda fc: b"\x89PNG forecast %g" % tag)
    monkeypatch.setattr(forecast, "decomposition_figure", lambda fc: b"\x89PNG decomposition %g" % tag)


def fake_sensitivity(monkeypatch: pytest.MonkeyPatch, tag: float) -> None:
    """``povsim sensitivity`` without model runs (no evaluator, fixed indices carrying ``tag``)."""
    from types import SimpleNamespace

    import povsim.calibration.evaluate as evaluate
    import povsim.calibration.sensitivity as sensitivity

    class NoEvaluator:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    res = SimpleNamespace(indices=_frame(tag), samples=_frame(tag), runs=4, outcomes={})
    table = pd.DataFrame({"max": [tag], "targets_moved": [1]}, index=pd.Index(["budget.scale"], name="parameter"))
    monkeypatch.setattr(evaluate, "Evaluator", NoEvaluator)
    monkeypatch.setattr(sensitivity, "run_sensitivity", lambda *a, **k: res)
    monkeypatch.setattr(sensitivity, "figure", lambda res: b"\x89PNG sensitivity %g" % tag)
    monkeypatch.setattr(sensitivity, "identifiability", lambda res: table)


def fake_calibrate(monkeypatch: pytest.MonkeyPatch, tag: float):
    """``povsim calibrate`` without model runs: a one-parameter calibration whose value carries ``tag``
    (written by the real ``write_calibration``; only the figure is faked). Returns the calibration."""
    import povsim.calibration.fit as fit
    import povsim.calibration.report as report
    from povsim.calibration.space import Space
    from povsim.calibration.targets import default_targets
    from povsim.parameters import ParameterSet

    path = "economy.growth.local_wage"
    priors = ParameterSet.priors()
    value = 0.05 + tag / 1000
    table = pd.DataFrame(
        {"target": ["t"], "label": ["T"], "observed": [1.0], "tolerance_sd": [0.1], "fitted": [True], "source": ["x"]}
    ).assign(met=True)
    cal = fit.Calibration(
        settings=fit.QUICK,
        space=Space.from_paths(priors, [path]),
        targets=default_targets(),
        prior={path: priors[path]},
        values={path: value},
        posterior_sd={path: 0.001},
        draws=pd.DataFrame({path: [value, value]}),
        report=table,
        evaluations=pd.DataFrame({"stage": ["start"], path: [value], "loss": [tag]}),
        loss=tag,
        prior_loss=tag + 1,
        runs=3,
        seconds=1.0,
    )
    monkeypatch.setattr(fit, "calibrate", lambda *a, **k: cal)
    monkeypatch.setattr(report, "fit_figure", lambda cal: b"\x89PNG fit %g" % tag)
    return cal


def fake_backtest(monkeypatch: pytest.MonkeyPatch, tag: float) -> None:
    """``povsim backtest`` without model runs: the calibration of :func:`fake_calibrate`, fixed scores."""
    from types import SimpleNamespace

    import povsim.calibration.backtest as backtest

    bt = SimpleNamespace(calibration=fake_calibrate(monkeypatch, tag), table=_frame(tag), summary=_frame(tag))
    monkeypatch.setattr(backtest, "run_backtest", lambda *a, **k: bt)
    monkeypatch.setattr(backtest, "backtest_figure", lambda bt: b"\x89PNG backtest %g" % tag)


FAKED = {
    "forecast": (fake_forecast, ["forecast"], 6),
    "sensitivity": (fake_sensitivity, ["sensitivity", "--method", "morris", "--outcomes", "targets", "--n", "2"], 5),
    "calibrate": (fake_calibrate, ["calibrate", "--quick"], 6),  # with the --params-file of the test
    "backtest": (fake_backtest, ["backtest", "--origin", "2016", "--quick"], 10),  # calibration/ and 4 files
}
"""Each command: its fake, its arguments, and how many files it writes."""


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (its subfolders too), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _faked_command(command: str, tmp_path: Path) -> list[str]:
    _, argv, _ = FAKED[command]
    extra = ["--params-file", str(tmp_path / "cal.toml")] if command == "calibrate" else []
    return [*argv, *extra, "--out", str(tmp_path / "o"), "-q"]


@pytest.mark.parametrize("command", list(FAKED))
def test_folders_of_forecast_sensitivity_calibrate_backtest_are_complete_or_absent(
    tmp_path, monkeypatch, capsys, command
):
    """A full disk at any file of the folder leaves no folder; after a complete one, it leaves that one
    byte for byte (not the new first files beside the old last ones); the next run replaces it whole."""
    fake, _, n_files = FAKED[command]
    argv = _faked_command(command, tmp_path)
    out = tmp_path / "o"
    for n in range(1, n_files + 1):
        with monkeypatch.context() as m:
            fake(m, 1.0)
            names = disk_full_at(m, n)
            code, _, err = cli(argv, capsys)
        line = one_line(err)
        assert code == 3 and names[-1] in line and "disk full" in line, (n, names)
        # the error names the file at its final path, not in the hidden build folder
        assert (str(out) in line or names[-1] == "cal.toml") and ".tmp-" not in line, line
        assert not out.exists(), (n, names)
        no_leftovers(tmp_path)
    with monkeypatch.context() as m:
        fake(m, 1.0)
        assert cli(argv, capsys)[0] == 0
    before = tree_bytes(out)
    assert len(before) == n_files - (command == "calibrate")  # the calibrated values are not in the report
    for n in range(1, n_files + 1):
        with monkeypatch.context() as m:
            fake(m, 2.0)
            names = disk_full_at(m, n)
            assert cli(argv, capsys)[0] == 3, (n, names)
        assert tree_bytes(out) == before, (n, names)
        no_leftovers(tmp_path)
    with monkeypatch.context() as m:
        fake(m, 2.0)
        assert cli(argv, capsys)[0] == 0
    after = tree_bytes(out)
    assert set(after) == set(before) and all(after[name] != before[name] for name in after if name.endswith(".png"))


@pytest.mark.parametrize("command", list(FAKED))
def test_forecast_sensitivity_calibrate_backtest_refuse_a_folder_of_other_files_before_running(
    tmp_path, monkeypatch, capsys, command
):
    def refuse(*args, **kwargs):
        raise AssertionError("a model run started")

    monkeypatch.setattr("povsim.calibration.forecast.run_forecast", refuse)
    monkeypatch.setattr("povsim.calibration.evaluate.Evaluator.__init__", refuse)
    monkeypatch.setattr("povsim.calibration.fit.calibrate", refuse)
    monkeypatch.setattr("povsim.calibration.backtest.run_backtest", refuse)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "thesis.tex").write_text("precious")
    code, _, err = cli(_faked_command(command, tmp_path), capsys)
    assert code == 2 and "thesis.tex" in one_line(err)
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["thesis.tex"]


def test_calibrate_keeps_the_check_report_and_a_params_file_in_its_folder(tmp_path, monkeypatch, capsys):
    """The default ``--check`` report lives in the calibration's folder (``results/calibration/check/``),
    and ``--params-file`` may lie in ``--out`` (as in a backtest folder): replacing the report keeps both."""
    out = tmp_path / "o"
    (out / "check").mkdir(parents=True)
    (out / "check" / "fit.csv").write_text("the re-check's report\n")
    params = out / "calibrated.toml"
    fake_calibrate(monkeypatch, 1.0)
    assert cli(["calibrate", "--quick", "--params-file", str(params), "--out", str(out), "-q"], capsys)[0] == 0
    assert (out / "check" / "fit.csv").read_text() == "the re-check's report\n"
    assert "0.051" in params.read_text()
    assert {p.name for p in out.iterdir()} == {*CALIBRATION_REPORT, "check", "calibrated.toml"}
    no_leftovers(tmp_path)
    code, _, err = cli(["calibrate", "--quick", "--params-file", str(out / "fit.csv"), "--out", str(out)], capsys)
    assert code == 2 and "choose another file" in one_line(err)


# -- 2. a scenario's name is a safe folder name -------------------------------------------------------


@pytest.mark.parametrize("name", ["{tmp}/abs/absname", "../../..", "", "a/b", "a b", "..", "x.y", "名"])
def test_unsafe_scenario_name_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys, name):
    work = tmp_path / "a" / "b" / "c"  # results/../../.. from here is still inside tmp_path
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    scenario = tmp_path / "s.toml"
    name = name.format(tmp=tmp_path)
    scenario.write_text(f"name = {json.dumps(name)}\nextends = {json.dumps(BASELINE)}\n")
    code, _, err = cli(["run", str(scenario), *SMALL, "-q"], capsys)
    line = one_line(err)
    assert code == 2 and "s.toml: name:" in line and "not a safe name" in line
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == ["s.toml"]


def test_shipped_scenario_names_are_safe():
    for path in sorted(SCENARIOS.glob("*.toml")):
        assert load_scenario(path).name == path.stem


def test_unsafe_file_name_without_a_name_key_needs_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scenario = tmp_path / "my scenario.toml"
    scenario.write_text(f"extends = {json.dumps(BASELINE)}\n")
    code, _, err = cli(["run", str(scenario), *SMALL, "-q"], capsys)
    assert code == 2 and "not a safe name" in one_line(err)
    assert not (tmp_path / "results").exists()


# -- 3. corrupt run files are set aside and re-run ----------------------------------------------------


@pytest.fixture
def batch_folder(tmp_path, capsys) -> Path:
    out = tmp_path / "b"
    code, _, err = cli([*BATCH, "--out", str(out), "-q"], capsys)
    assert code == 0, err
    return out


def _truncate_first_run(out: Path) -> str:
    keys = json.loads((out / "manifest.json").read_text())["runs"]["keys"]
    path = out / "runs" / f"{keys[0]}.parquet"
    path.write_bytes(path.read_bytes()[:500])  # head -c 500
    return keys[0]


def test_batch_reruns_a_corrupt_run_file(batch_folder, capsys):
    reference = (batch_folder / "runs.parquet").read_bytes()
    key = _truncate_first_run(batch_folder)
    code, _, err = cli([*BATCH, "--out", str(batch_folder), "-q"], capsys)
    assert code == 0, err
    assert "Traceback" not in err and f"{key}.parquet" in err and "moved aside" in err
    assert (batch_folder / "runs" / f"{key}.parquet.corrupt").exists()
    assert (batch_folder / "runs.parquet").read_bytes() == reference  # re-run, same seed: the same result
    assert json.loads((batch_folder / "manifest.json").read_text())["status"] == "complete"


def test_compare_leaves_out_a_corrupt_run_file(batch_folder, capsys):
    key = _truncate_first_run(batch_folder)
    (batch_folder / "runs.parquet").unlink()  # compare assembles the table from the run files
    code, out, err = cli(["compare", str(batch_folder)], capsys)
    assert code == 0, err
    assert "Traceback" not in err and f"left out: {batch_folder / 'runs' / key}.parquet: unreadable" in out
    runs = pd.read_csv(batch_folder / "runs.csv")
    assert runs["rep"].unique().tolist() == [1]  # only the readable run, and runs.csv rebuilt with it
    assert (batch_folder / "trajectories.png").exists()


def test_compare_with_only_corrupt_runs_exits_2(batch_folder, capsys):
    for path in (batch_folder / "runs").glob("*.parquet"):
        path.write_bytes(b"PAR1 not really")
    (batch_folder / "runs.parquet").unlink()
    code, _, err = cli(["compare", str(batch_folder)], capsys)
    assert code == 2 and "no readable runs" in one_line(err)
    assert not (batch_folder / "runs.csv").exists() and not (batch_folder / "summary.csv").exists()


# -- 4. --out problems: exit 2 or 3 before any model runs ---------------------------------------------


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if a model is built."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model run started")

    monkeypatch.setattr("povsim.model.PovertyModel.__init__", refuse)


def test_out_is_a_file(tmp_path, capsys, no_model):
    (tmp_path / "f").touch()
    code, _, err = cli(["run", BASELINE, *SMALL, "--out", str(tmp_path / "f")], capsys)
    assert code == 2 and "exists and is not a folder" in one_line(err)
    code, _, err = cli(["batch", BASELINE, *SMALL, "--out", str(tmp_path / "f" / "sub")], capsys)
    assert code == 2 and "is not a folder" in one_line(err)


def test_out_holding_other_files_is_not_replaced(tmp_path, capsys, no_model):
    (tmp_path / "thesis.tex").write_text("precious")
    code, _, err = cli(["run", BASELINE, *SMALL, "--out", str(tmp_path)], capsys)
    assert code == 2 and "thesis.tex" in one_line(err)
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_out_that_cannot_be_written_exits_3_before_the_run(tmp_path, monkeypatch, capsys, no_model):
    import os

    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tmp_path else real(p, mode, **kw))
    for command in (["run", BASELINE], ["batch", BASELINE], ["calibrate", "--quick"]):
        code, _, err = cli([*command, "--out", str(tmp_path / "o")], capsys)
        line = one_line(err)
        assert code == 3 and "cannot write in" in line and "permission denied" in line, command


def test_read_only_file_system_exits_3(tmp_path, monkeypatch, capsys):
    def read_only(path: Path, fh, data: bytes) -> int:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(povsim.io, "_write_all", read_only)
    code, _, err = cli(["run", BASELINE, *SMALL, "--out", str(tmp_path / "r"), "-q"], capsys)
    assert code == 3 and "read-only file system" in one_line(err)
    assert not (tmp_path / "r").exists()


# -- 5. calibrate --refine --params-file: every value checked before any run ---------------------------


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("0.3", "calibration range [0.04, 0.12]"), ("0.9", "allowed range [-0.5, 0.5]"), ('"fast"', "expected a number")],
)
def test_refine_checks_the_params_file_before_any_run(tmp_path, monkeypatch, capsys, value, allowed):
    def refuse(*args, **kwargs):
        raise AssertionError("a calibration started")

    monkeypatch.setattr("povsim.calibration.fit.calibrate", refuse)
    monkeypatch.setattr("povsim.calibration.evaluate.Evaluator.__init__", refuse)
    params = tmp_path / "cal.toml"
    params.write_text(f'[parameters."economy.growth.local_wage"]\nvalue = {value}\n')
    code, _, err = cli(["calibrate", "--refine", "--params-file", str(params), "--out", str(tmp_path / "o")], capsys)
    line = one_line(err)
    assert code == 2
    assert str(params) in line and "parameters.economy.growth.local_wage" in line and allowed in line
    assert not (tmp_path / "o").exists()


# -- 6. a Dask batch whose last worker dies fails within its timeout --------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _started(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def test_dask_batch_whose_last_worker_dies_exits_3_and_resumes(tmp_path, capsys):
    """One ``dask worker --no-nanny`` on a scheduler of its own, killed with SIGKILL after the first run
    is stored: the batch ends within its no-worker timeout (5 s here) with one line naming the scheduler,
    exit code 3 and ``failed`` in the manifest, the stored runs stay, and rerunning resumes. Against the
    original code the batch waited for ever (here: killed after 35 s, a failure)."""
    from distributed import Client

    timeout = 5.0
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = dict(os.environ)
    # the subprocesses import the povsim under test, wherever this process imported it from
    env["PYTHONPATH"] = os.pathsep.join([str(Path(povsim.__file__).parents[1]), env.get("PYTHONPATH", "")])
    env["POVSIM_DASK_NO_WORKER_TIMEOUT"] = str(timeout)
    dask = [sys.executable, "-m", "dask"]
    scheduler = _started(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
        env,
        tmp_path / "scheduler.log",
    )
    worker = batch = None
    try:
        worker = _started(
            [*dask, "worker", address, "--no-nanny", "--nthreads", "1", "--no-dashboard"], env, tmp_path / "worker.log"
        )
        with Client(address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(1, timeout=30)
        out = tmp_path / "b"
        argv = ["batch", BASELINE, "--scale", "4000", "--end-year", "2015", "--reps", "6", "--out", str(out), "-q"]
        entry = "import sys; from povsim.cli import main; sys.exit(main(sys.argv[1:]))"
        batch = subprocess.Popen(
            [sys.executable, "-c", entry, *argv, "--executor", "dask", "--address", address],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not list((out / "runs").glob("*.parquet")) and batch.poll() is None:
            assert time.monotonic() < deadline, "no run was stored within 60 s"
            time.sleep(0.05)
        assert batch.poll() is None, batch.communicate()
        worker.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        try:
            _, err = batch.communicate(timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            batch.kill()
            pytest.fail("the batch hung after its last worker died")
        took = time.monotonic() - killed
        line = one_line(err)
        assert batch.returncode == 3, err
        assert address in line and "no live worker" in line and f"{timeout:g} s" in line
        assert took < timeout + 20, took  # the timeout, a second's polling, closing the client
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "failed" and "no live worker" in manifest["error"]
        stored = manifest["runs"]["finished"]
        assert 1 <= stored < 6 and len(list((out / "runs").glob("*.parquet"))) == stored
    finally:
        for process in (batch, worker, scheduler):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    # the finished runs are kept: the same batch resumes (the executor is not part of the experiment)
    assert cli([*argv, "--executor", "serial"], capsys)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["this_invocation"]["skipped"] == stored


def test_dask_executor_gives_up_on_a_result_lost_with_its_last_worker(monkeypatch):
    """A run that finished on a worker killed before its result was fetched is rerun by Dask: with no
    worker left, waiting for that result ends at the timeout too (the case the subprocess test hits only
    sometimes, when the kill falls between a run's end and its fetch)."""
    from types import SimpleNamespace

    from povsim.errors import PovsimEnvironmentError
    from povsim.experiments import executors

    class Lost:
        def result(self, timeout=None):
            time.sleep(timeout)
            raise TimeoutError

        def done(self):
            return False

    cancelled: list = []
    monkeypatch.setattr(executors, "_WORKER_CHECK_SECONDS", 0.01)
    ex = object.__new__(executors.DaskExecutor)
    ex.address, ex.no_worker_timeout, ex._futures, ex._returned = "tcp://10.0.0.5:8786", 0.05, [Lost()], 0
    ex._checked = ex._alive_at = time.monotonic()
    ex.client = SimpleNamespace(nthreads=lambda: {}, cancel=cancelled.extend)
    with pytest.raises(PovsimEnvironmentError, match=r"tcp://10\.0\.0\.5:8786 has had no live worker for 0\.05 s"):
        ex._result(ex._futures[0], None)
    assert cancelled == ex._futures


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_a_bad_dask_no_worker_timeout_is_refused_before_any_run(tmp_path, monkeypatch, capsys, no_model, value):
    monkeypatch.setenv("POVSIM_DASK_NO_WORKER_TIMEOUT", value)
    code, _, err = cli([*BATCH[:-2], "--executor", "dask", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "POVSIM_DASK_NO_WORKER_TIMEOUT" in one_line(err)
    assert not (tmp_path / "b").exists()


# -- 7. the dashboard checks lever values on the server -------------------------------------------------


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"scale": 1e8}, "scale"),
        ({"scale": 1}, "scale"),
        ({"scale": None}, "scale"),
        ({"funds_scale": "abc"}, "funds_scale"),
        ({"funds_scale": 2.5}, "funds_scale"),
        ({"post_exit_support_years": math.nan}, "post_exit_support_years"),
        ({"post_exit_support_years": 1.5}, "post_exit_support_years"),
        ({"floor": "no"}, "floor"),
        ({"share_industry": -0.1}, "share_industry"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_dashboard_refuses_bad_lever_values_before_building_a_model(monkeypatch, values, fragment):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(dashboard_levers, "PovertyModel", refuse)
    with pytest.raises(PovsimInputError, match=fragment):
        dashboard_levers.Simulation(values)


def test_dashboard_accepts_what_its_sliders_send():
    checked = dashboard_levers.check_levers({"scale": 20000.0, "floor": False, "post_exit_support_years": 3})
    assert checked["scale"] == 20000 and isinstance(checked["scale"], int)
    assert checked["floor"] is False and checked["post_exit_support_years"] == 3


# -- 8. scenario files and population inputs --------------------------------------------------------


def test_unreadable_scenario_file_exits_3_naming_it(tmp_path, monkeypatch, capsys):
    scenario = tmp_path / "locked.toml"
    scenario.write_text('name = "locked"\n')
    real = Path.read_text

    def locked(self: Path, *args, **kwargs) -> str:
        if self == scenario:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", locked)
    code, _, err = cli(["run", str(scenario), "--out", str(tmp_path / "o")], capsys)
    line = one_line(err)
    assert code == 3 and "locked.toml" in line and "permission denied" in line


def test_missing_extends_names_the_file_that_references_it(tmp_path, capsys):
    scenario = tmp_path / "child.toml"
    scenario.write_text('name = "child"\nextends = "nowhere.toml"\n')
    code, _, err = cli(["run", str(scenario), "--out", str(tmp_path / "o")], capsys)
    line = one_line(err)
    assert code == 2 and "child.toml: extends: 'nowhere.toml'" in line and "no such scenario file" in line


def test_a_folder_as_the_scenario_is_named_a_folder(tmp_path, capsys):
    code, _, err = cli(["run", str(SCENARIOS), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "is a folder, not a scenario file" in one_line(err)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[params.population.registry_2014]\nhouseholds = 100_000_000", "population.registry_2014.households"),
        ("[params.population.registry_2014]\npeople = 20_000_000", "population.registry_2014.people"),
        ("[params.population]\nunregistered_poor_people = 80_000_000", "population.unregistered_poor_people"),
        ("[params.population.hazard_zone]\npeople = 95_000_000", "population.hazard_zone.people"),
    ],
)
def test_population_inputs_are_checked_across_fields(tmp_path, capsys, table, key):
    scenario = tmp_path / "pop.toml"
    scenario.write_text(f'name = "pop"\nextends = {json.dumps(BASELINE)}\n{table}\n')
    code, _, err = cli(["run", str(scenario), "--out", str(tmp_path / "o")], capsys)
    line = one_line(err)
    assert code == 2 and f"pop.toml: {key}:" in line and "is more than" in line


def test_a_batch_that_crashes_records_failed_in_its_manifest(tmp_path):
    experiment = build_experiment([BASELINE], reps=1, scale=20000, end_year=2016)

    def crash(spec, outcome):
        raise RuntimeError("the batch itself crashed")

    with pytest.raises(RuntimeError):
        run_experiment(experiment, tmp_path, executor="serial", progress=False, on_result=crash)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "crashed" in manifest["error"]


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(PovsimInputError):
        main(["--debug", "run", str(tmp_path / "missing.toml")])
    with pytest.raises(PovsimInputError):
        main(["run", str(tmp_path / "missing.toml"), "--debug"])
