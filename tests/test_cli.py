"""The ``povsim`` command line, in-process and as a real process."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import povsim
from conftest import BASELINE, WEAK_GROWTH
from povsim.cli import main

OUTPUTS = {"results.csv", "counties.csv", "limits.csv", "manifest.json", "poverty_trajectory.png"}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One in-process ``povsim run`` at scale 20000, with its printed output."""
    out = tmp_path_factory.mktemp("cli") / "out"
    capture = {}
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        capture["code"] = main(["run", str(BASELINE), "--scale", "20000", "--seed", "3", "--out", str(out)])
    capture["out"] = out
    capture["stdout"] = stdout.getvalue()
    capture["stderr"] = stderr.getvalue()
    return capture


def test_run_writes_the_three_outputs(cli_run):
    assert cli_run["code"] == 0
    out = cli_run["out"]
    assert {p.name for p in out.iterdir()} == OUTPUTS  # and no temporary files left behind
    png = (out / "poverty_trajectory.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 5000


def test_results_csv_is_the_tidy_table(cli_run):
    df = pd.read_csv(cli_run["out"] / "results.csv")
    assert list(df.columns) == ["year", "region", "measure", "channel", "value"]
    assert sorted(df["year"].unique()) == list(range(2014, 2021))
    nat = df[(df["region"] == "national") & (df["measure"] == "registered_poor_people")].set_index("year")["value"]
    assert nat[2014] == pytest.approx(89_620_000, rel=0.01)


def test_manifest(cli_run):
    manifest = json.loads((cli_run["out"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 3
    assert manifest["scale"] == 20000
    assert manifest["povsim_version"] == povsim.__version__
    assert manifest["wall_time_seconds"] >= 0
    assert manifest["end_year"] == 2020
    params = manifest["parameters"]
    assert params["economy.growth.farm"] == 0.05
    assert params["population.registry_2014.people"] == 89_620_000
    assert manifest["scenario"] == "baseline"


def test_run_prints_summary_table(cli_run):
    text = cli_run["stdout"]
    assert "poor (M)" in text
    assert "registered (M)" in text
    lines = text.splitlines()
    for year in range(2014, 2021):
        assert any(line.startswith(str(year)) for line in lines), year
    assert "results.csv" in text
    # the 2014 row shows the survey headcount 70.17M beside the simulated one
    row_2014 = next(line for line in lines if line.startswith("2014"))
    assert "70.17" in row_2014
    assert "seed 3" in text


def test_run_quiet_prints_nothing(tmp_path, capsys):
    assert main(["run", str(BASELINE), "--scale", "20000", "--end-year", "2016", "--out", str(tmp_path), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    df = pd.read_csv(tmp_path / "results.csv")
    assert df["year"].max() == 2016


def test_set_overrides_reach_results_and_manifest(tmp_path):
    out = tmp_path / "noexit"
    code = main(
        [
            "run",
            str(BASELINE),
            "--scale",
            "20000",
            "--end-year",
            "2017",
            "--set",
            "registry.exit.verification_prob=0",
            "--set",
            "run.seed=99",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    assert (df[df["measure"] == "exits_people"]["value"] == 0).all()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["registry.exit.verification_prob"] == 0
    assert manifest["overrides"] == {"registry.exit.verification_prob": 0}
    assert manifest["seed"] == 99
    assert manifest["end_year"] == 2017


def test_scenario_file_argument(tmp_path):
    out = tmp_path / "weak"
    assert main(["run", str(WEAK_GROWTH), "--scale", "20000", "--end-year", "2016", "--out", str(out), "-q"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scenario"] == "weak_growth"
    assert manifest["parameters"]["economy.growth.farm"] == pytest.approx(0.03)


def test_default_out_folder_is_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(BASELINE), "--scale", "20000", "--end-year", "2015", "-q"]) == 0
    assert {p.name for p in (tmp_path / "results" / "baseline").iterdir()} == OUTPUTS


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["nonexistent_scenario.toml"], "nonexistent_scenario.toml"),
        (["--set", "nonexistent.key=1"], "nonexistent.key"),
        (["--set", "economy.growth.farm=abc"], "economy.growth.farm"),
        (["--set", "economy.growth.farm"], "economy.growth.farm"),
        (["--set", "registry.exit.verification_prob=2"], "registry.exit.verification_prob"),
        (["--scale", "0"], "scale"),
        (["--scale", "-5"], "scale"),
        (["--poor-area-scale", "0.5"], "poor_area_scale"),
        (["--set", "run.poor_area_scale=-1"], "poor_area_scale"),
        (["--end-year", "2030"], "end_year"),
        (["--end-year", "2014"], "end_year"),
        (["--seed", "-1"], "seed"),
    ],
    ids=[
        "missing-scenario",
        "unknown-key",
        "bad-number",
        "set-without-value",
        "out-of-bounds",
        "scale-0",
        "scale-negative",
        "poor-area-scale-below-1",
        "set-poor-area-scale-negative",
        "end-year-2030",
        "end-year-2014",
        "seed-negative",
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, args, fragment):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    if args[0].endswith(".toml"):
        argv = ["run", args[0], "--scale", "20000", "--out", str(out)]
    else:
        argv = ["run", str(BASELINE), "--scale", "20000", *args, "--out", str(out)]
        if args[0] == "--scale":
            argv = ["run", str(BASELINE), *args, "--out", str(out)]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    err_lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(err_lines) == 1, captured.err
    assert err_lines[0].startswith("povsim: error:")
    assert fragment in err_lines[0]
    assert "Traceback" not in captured.err
    assert not out.exists() or not any(out.iterdir())
    assert not (tmp_path / "results").exists()


def test_a_sampling_design_run_samples_the_poor_areas_finer_and_says_so(tmp_path, capsys):
    out = tmp_path / "design"
    argv = ["run", str(BASELINE), "--scale", "20000", "--poor-area-scale", "5000", "--end-year", "2015"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1:5000 in poor areas, 1:20000 elsewhere" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["scale"], manifest["poor_area_scale"]) == (20000, 5000)
    uniform = tmp_path / "uniform"
    argv = ["run", str(BASELINE), "--scale", "20000", "--poor-area-scale", "20000", "--end-year", "2015"]
    assert main([*argv, "--out", str(uniform), "-q"]) == 0
    agents = [json.loads((d / "manifest.json").read_text())["household_agents"] for d in (out, uniform)]
    # about 70% of the simulated households live in the poor areas: 4 × as many agents there
    assert 2.5 * agents[1] < agents[0] < 3.5 * agents[1]


def test_params_lists_matching_parameters_with_source(capsys):
    assert main(["params", "growth"]) == 0
    text = capsys.readouterr().out
    assert "economy.growth.farm" in text
    assert "economy.growth.migrant_wage" in text
    assert "source:" in text
    # only matching paths
    paths = [line.split(" = ")[0] for line in text.splitlines() if not line.startswith(" ")]
    assert paths and all("growth" in p for p in paths)


def test_params_without_pattern_lists_all(capsys):
    from povsim.parameters import ParameterSet

    assert main(["params"]) == 0
    text = capsys.readouterr().out
    assert text.count("source:") == len(ParameterSet.defaults())


def test_params_unknown_pattern_exits_2(capsys):
    assert main(["params", "zzzz"]) == 2
    err = capsys.readouterr().err
    assert "zzzz" in err
    assert len(err.strip().splitlines()) == 1


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--scale", "abc"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("povsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "povsim.cli"]


def test_subprocess_run(tmp_path):
    out = tmp_path / "sub"
    proc = subprocess.run(
        [*console_script(), "run", str(BASELINE), "--scale", "20000", "--end-year", "2016", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert "poor (M)" in proc.stdout
    assert (out / "poverty_trajectory.png").read_bytes()[:4] == b"\x89PNG"
    # a separate process (its own hash seed) gives the same bytes as an in-process run
    same = tmp_path / "same"
    assert main(["run", str(BASELINE), "--scale", "20000", "--end-year", "2016", "--out", str(same), "-q"]) == 0
    assert (same / "results.csv").read_bytes() == (out / "results.csv").read_bytes()


def test_subprocess_module_error(tmp_path):
    out = tmp_path / "bad"
    proc = subprocess.run(
        [sys.executable, "-m", "povsim.cli", "run", str(BASELINE), "--scale", "0", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "scale" in proc.stderr
    assert not out.exists()
