"""Scenario discovery (``povsim discover``): the design, the outcome, PRIM's boxes and the files.

The end-to-end test runs a 10-point Latin hypercube at 1 agent : 20,000 households outside the
poor areas (about 0.6 s a run, serial); the PRIM tests use synthetic data with a planted box.
Box statistics are recomputed here from the cases and the box limits, not read back from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from povsim.cli import main
from povsim.experiments.discover import (
    Outcome,
    choose_step,
    find_boxes,
    latin_hypercube,
    outcome_cases,
    parse_outcome,
)

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
RANGES = {"budget.scale": (0.3, 1.5), "economy.growth.farm": (0.01, 0.07)}
THRESHOLD = 10e6  # poor people at the end of 2020: budgets below ~0.8 of the documented leave more than 10 M


def _argv(out: Path, *extra: str) -> list[str]:
    return [
        "discover",
        str(BASELINE),
        *(a for k, (lo, hi) in RANGES.items() for a in ("--param", f"{k}={lo}:{hi}")),
        "--n",
        "10",
        "--scale",
        "20000",
        "--end-year",
        "2020",
        "--executor",
        "serial",
        "--threshold",
        str(THRESHOLD),
        "--out",
        str(out),
        *extra,
    ]


def _in_box(points: pd.DataFrame, box_rows: pd.DataFrame) -> np.ndarray:
    """Which points lie inside a box, from its rows of boxes.csv (limits inclusive)."""
    inside = np.ones(len(points), dtype=bool)
    for _, r in box_rows.iterrows():
        if r["input"]:
            inside &= (points[r["input"]] >= r["lower"]).to_numpy() & (points[r["input"]] <= r["upper"]).to_numpy()
    return inside


def _check_boxes(points: pd.DataFrame, boxes: pd.DataFrame, printed: str) -> None:
    """boxes.csv agrees with points.csv: each box's cases, coverage, density and mass recomputed from its
    limits (box k counts the cases outside boxes 1..k-1), and the ``box`` column of the points."""
    hit = points["of_interest"].to_numpy()
    outside_earlier = np.ones(len(points), dtype=bool)
    for number, rows in boxes.groupby("box"):
        inside = _in_box(points, rows) & outside_earlier
        first = rows.iloc[0]
        assert first["cases"] == inside.sum()
        assert first["cases_of_interest"] == (inside & hit).sum()
        assert first["coverage"] == pytest.approx((inside & hit).sum() / hit.sum())
        assert first["density"] == pytest.approx((inside & hit).sum() / inside.sum())
        assert first["mass"] == pytest.approx(inside.sum() / len(points))
        assert (points.loc[inside, "box"] == number).all()
        assert f"box {number}: " in printed
        assert f"coverage {first['coverage']:.2f}, density {first['density']:.2f}" in printed
        outside_earlier &= ~inside
    assert (points.loc[outside_earlier, "box"] == 0).all()


@pytest.fixture(scope="module")
def discovered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("discover") / "disc"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(_argv(out)) == 0
    return out, buf.getvalue()


def test_discover_writes_the_boxes_the_points_and_the_figure(discovered: tuple[Path, str]) -> None:
    out, printed = discovered
    for name in ("boxes.csv", "discover.json", "points.csv", "discover.png", "runs.parquet", "manifest.json"):
        assert (out / name).is_file(), name
    assert (out / "discover.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    points = pd.read_csv(out / "points.csv")
    assert len(points) == 10
    # a Latin hypercube: each of the 10 equal strata of each range holds exactly one point
    for key, (lo, hi) in RANGES.items():
        strata = np.floor((points[key] - lo) / (hi - lo) * 10).astype(int).clip(0, 9)
        assert sorted(strata) == list(range(10)), key
    # the outcome is the runs' national poor people in 2020, judged against the threshold
    runs = pd.read_parquet(out / "runs.parquet")
    poor = runs[
        (runs["measure"] == "poor_people")
        & (runs["year"] == 2020)
        & (runs["region"] == "national")
        & (runs["channel"] == "all")
    ]
    merged = points.merge(poor, on=["budget.scale", "economy.growth.farm", "rep"])
    assert len(merged) == 10
    assert (merged["poor_people_2020"] == merged["value"]).all()
    assert (points["of_interest"] == (points["poor_people_2020"] > THRESHOLD)).all()
    k = int(points["of_interest"].sum())
    assert 0 < k < 10, "the design should give both outcomes"
    assert f"> 10 M in {k} of 10 runs" in printed

    boxes = pd.read_csv(out / "boxes.csv", keep_default_na=False)
    assert not boxes.empty
    record = json.loads((out / "discover.json").read_text())
    assert record["outcome"]["threshold"] == THRESHOLD and record["outcome"]["year"] == 2020
    assert record["cases"] == {"per": "run", "total": 10, "of_interest": k}
    assert record["design"]["n"] == 10 and record["design"]["ranges"]["budget.scale"] == [0.3, 1.5]
    _check_boxes(points, boxes, printed)
    # the budget is what matters here: box 1 restricts it from above
    box1 = boxes[boxes["box"] == 1]
    assert "budget.scale" in set(box1["input"])
    assert box1.set_index("input").loc["budget.scale", "side"] == "upper"


def test_rerun_resumes_and_from_dir_gives_the_same_boxes(discovered: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = discovered
    before = (out / "boxes.csv").read_bytes()
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(_argv(out)) == 0
    assert "0 run now, 10 already done" in buf.getvalue()
    assert (out / "boxes.csv").read_bytes() == before

    again = tmp_path / "from"
    assert main(["discover", "--from", str(out), "--threshold", str(THRESHOLD), "--out", str(again), "-q"]) == 0
    assert (again / "boxes.csv").read_bytes() == before
    assert sorted(p.name for p in again.iterdir()) == ["boxes.csv", "discover.json", "discover.png", "points.csv"]


def test_prim_finds_a_planted_box() -> None:
    rng = np.random.default_rng(7)
    n = 500
    x = pd.DataFrame({"x1": rng.uniform(size=n), "x2": rng.uniform(size=n), "x3": rng.uniform(size=n)})
    noise = rng.uniform(size=n) < 0.05
    y = (x["x1"].to_numpy() < 0.3) ^ noise
    boxes = find_boxes(x, y)
    assert boxes
    box = boxes[0]
    assert box.restricted[0] == ("x1", "upper")
    assert box.limits["x1"][1] == pytest.approx(0.3, abs=0.05)
    # recompute the statistics from the data and the limits
    inside = np.ones(n, dtype=bool)
    for name, (lo, hi) in box.limits.items():
        inside &= (x[name].to_numpy() >= lo) & (x[name].to_numpy() <= hi)
    coverage = (inside & y).sum() / y.sum()
    density = (inside & y).sum() / inside.sum()
    assert box.coverage == pytest.approx(coverage)
    assert box.density == pytest.approx(density)
    assert box.mass == pytest.approx(inside.sum() / n)
    assert coverage > 0.8 and density > 0.85
    assert (box.contains(x) == inside).all()


def test_the_files_report_the_boxes_of_noisy_runs(tmp_path: Path) -> None:
    """Through discover() and write_discovery() on synthetic runs whose boxes are impure (coverage ≠ density)."""
    from povsim.experiments.discover import discover, write_discovery

    rng = np.random.default_rng(11)
    n = 300
    a, b = rng.uniform(size=n), rng.uniform(size=n)
    poor = np.where((a < 0.4) & (b > 0.2), 12e6, 1e6) * np.where(rng.uniform(size=n) < 0.12, 0, 1) + 5e5
    runs = pd.DataFrame(
        {
            "scenario": "s",
            "a": a,
            "b": b,
            "rep": 0,
            "seed": 1,
            "year": 2020,
            "region": "national",
            "measure": "poor_people",
            "channel": "all",
            "value": poor,
        }
    )
    result = discover(runs, ["a", "b"], Outcome("poor_people", 2020, 5e6), min_density=0.7)
    write_discovery(result, tmp_path, {"test": True})
    points = pd.read_csv(tmp_path / "points.csv")
    boxes = pd.read_csv(tmp_path / "boxes.csv", keep_default_na=False)
    first = boxes[boxes["box"] == 1].iloc[0]
    assert first["coverage"] != pytest.approx(first["density"], abs=0.01)
    assert set(boxes.loc[boxes["box"] == 1, "input"]) == {"a", "b"}
    _check_boxes(points, boxes, result.summary())
    record = json.loads((tmp_path / "discover.json").read_text())
    assert [bx["coverage"] for bx in record["boxes"]] == boxes.groupby("box")["coverage"].first().tolist()


def test_no_box_when_no_case_or_every_case_is_of_interest() -> None:
    x = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    assert find_boxes(x, np.zeros(20, dtype=bool)) == []
    assert find_boxes(x, np.ones(20, dtype=bool)) == []


def test_the_step_chosen_is_the_largest_coverage_meeting_the_density() -> None:
    traj = pd.DataFrame(
        {
            "coverage": [1.0, 0.9, 0.8, 0.5],
            "density": [0.3, 0.7, 0.85, 1.0],
            "mass": [1, 0.6, 0.4, 0.2],
            "res_dim": [0, 1, 1, 2],
        }
    )
    assert choose_step(traj, 0.8) == 2
    assert choose_step(traj, 0.95) == 3
    assert choose_step(traj, 0.6) == 1


def test_replications_are_cases_or_averaged_per_point() -> None:
    rows = []
    for a, values in ((0.5, [1.0, 3.0]), (1.0, [5.0, 7.0])):
        for rep, v in enumerate(values):
            rows.append(("s", a, rep, 0, 2020, "national", "poor_people", "all", v))
    runs = pd.DataFrame(rows, columns=["scenario", "a", "rep", "seed", "year", "region", "measure", "channel", "value"])
    outcome = Outcome("poor_people", 2020, 2.5)
    per_run = outcome_cases(runs, ["a"], outcome, "run")
    assert per_run["of_interest"].tolist() == [False, True, True, True]
    per_point = outcome_cases(runs, ["a"], outcome, "point")
    assert per_point["poor_people_2020"].tolist() == [2.0, 6.0]
    assert per_point["of_interest"].tolist() == [False, True]
    assert outcome_cases(runs, ["a"], Outcome("poor_people", 2020, 2.5, above=False), "run")["of_interest"].sum() == 1


def test_default_outcome_is_the_2020_target_missed() -> None:
    outcome = parse_outcome(None, None, False, 2020)
    assert (outcome.measure, outcome.year, outcome.threshold, outcome.above) == ("poor_people", 2020, 0.0, True)
    assert outcome.is_target


def test_the_hypercube_is_seeded() -> None:
    a = latin_hypercube(RANGES, 8, seed=3)
    assert a.equals(latin_hypercube(RANGES, 8, seed=3))
    assert not a.equals(latin_hypercube(RANGES, 8, seed=4))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"--param": "budget.scal=0.5:1.5"}, "budget.scal"),
        ({"--param": "budget.scale=1.5:0.5"}, "LO (1.5) must be below HI (0.5)"),
        ({"--param": "budget.scale=0.5"}, "KEY.PATH=LO:HI"),
        ({"--param": "budget.scale=-1:0.5"}, "budget.scale"),
        ({"--outcome": "poor_ppl"}, "--outcome 'poor_ppl': unknown measure"),
        ({"--outcome": "poor_people:2030"}, "year 2030 is not simulated"),
        ({"--outcome": "exits_people", "--threshold": None}, "give --threshold"),
        ({"--min-density": "0"}, "--min-density"),
        ({"--n": "1"}, "--n 1"),
        ({"--cases": "both"}, "--cases"),
    ],
    ids=["unknown-key", "lo-not-below-hi", "no-range", "out-of-range", "bad-outcome", "bad-year", "no-threshold",
         "bad-density", "one-point", "bad-cases"],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_nothing_written(
    change: dict[str, str | None], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    argv = ["discover", str(BASELINE), "--param", "economy.growth.farm=0.01:0.07", "--n", "4", "--scale", "20000"]
    argv += ["--executor", "serial", "--out", str(out), "--threshold", "1e7"]
    for option, value in change.items():
        if option == "--threshold":
            i = argv.index("--threshold")
            del argv[i : i + 2]
        elif option == "--param":
            argv[argv.index("--param") + 1] = str(value)
        else:
            argv += [option, str(value)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err
    assert "Traceback" not in err
    assert not out.exists()
