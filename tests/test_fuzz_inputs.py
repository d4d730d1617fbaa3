"""Fuzzing the command line with malformed scenarios and flags (issue 17).

Several hundred cases are generated deterministically (a seeded ``random.Random``): seeded mutations
of a scenario file's keys and values (unsafe names, unknown keys, wrong types, values out of range,
shares that do not sum to 1, households outnumbering people, broken TOML or UTF-8, a missing or
cyclic ``extends``) and of the flags of ``run``, ``batch``, ``sweep``, ``compare`` and ``calibrate``.
Every case holds at least one defect that validation must catch, so none may start a model run (a
model built fails the test). Each must exit 2 or 3 with exactly one line on stderr, no traceback, and
leave no output folder.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import pytest

from povsim.cli import main
from povsim.parameters import ParameterSet

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.toml"
CASES = 260
SEED = 17


def _numeric_parameters() -> list[tuple[str, float, float, bool]]:
    """Scalar numeric parameters with bounds: (path, lo, hi, is_int)."""
    out = []
    for p in ParameterSet.defaults():
        if p.bounds is None or isinstance(p.value, bool) or not isinstance(p.value, int | float):
            continue
        out.append((p.path, float(p.bounds[0]), float(p.bounds[1]), isinstance(p.value, int)))
    return out


NUMERIC = _numeric_parameters()
LOCKED: set[Path] = set()
"""Folders the fuzz test's ``os.access`` says may not be written (the tests run as root, for whom
permissions do not hold)."""
SHARES = ["budget.shares", "population.registry_2014.region_share", "population.survey_2014.region_share"]


def _toml(value: object) -> str:
    """A TOML literal (floats, ints, bools, strings, lists, inline tables; NaN and inf too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # TOML has no surrogate escapes for characters past U+FFFF
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def _mangle(rng: random.Random, path: str) -> str:
    """A near miss of a parameter path: a character dropped, doubled or changed, or a part added."""
    kind = rng.randrange(4)
    i = rng.randrange(len(path))
    if kind == 0:
        return path[:i] + path[i + 1 :] if path[i] != "." else path + "x"
    if kind == 1:
        return path[:i] + "z" + path[i:]
    if kind == 2:
        return path + ".nope"
    return "nope." + path


def _bad_scenario(rng: random.Random) -> tuple[str | bytes, str]:
    """A scenario file's text holding one defect, and what the defect is."""
    base = f"extends = {json.dumps(str(BASELINE))}\n"
    kind = rng.randrange(14)
    if kind == 0:
        unsafe = ["../../..", "/tmp/povsim-fuzz/abs", "", "a b", "a/b", "..", "x.y", "名前", "a\\b", "-" * 101]
        name = rng.choice(unsafe)
        return f"name = {json.dumps(name)}\n{base}", "unsafe name"
    if kind == 1:
        key = rng.choice(["nmae", "param", "runs", "extend", "descriptionx", "seed"])
        return f'name = "f"\n{base}{key} = 1\n', "unknown top-level key"
    if kind == 2:
        key = rng.choice(["name", "description", "extends"])
        value = rng.choice([1, 2.5, True, [1, 2], {"a": 1}])
        text = f"{key} = {_toml(value)}\n" + ("" if key == "extends" else base)
        return text, "wrong type of a top-level key"
    if kind == 3:
        key, value = rng.choice(
            [
                ("end_year", 2014),
                ("end_year", 2026),
                ("end_year", "2020"),
                ("end_year", 2020.5),
                ("scale", 0),
                ("scale", -1.0),
                ("scale", 0.5),
                ("scale", 1e9),
                ("scale", "big"),
                ("scale", True),
                ("scale", math.nan),
                ("scale", math.inf),
                ("seed", -1),
                ("seed", 2**63),
                ("seed", 1.5),
                ("seed", "x"),
                ("sede", 1),
            ]
        )
        if key == "seed" and value == 2**63:
            return f'name = "f"\n{base}[run]\nseed = 9223372036854775807\nscale = 0\n', "run setting"
        return f'name = "f"\n{base}[run]\n{key} = {_toml(value)}\n', "run setting"
    if kind == 4:
        path = _mangle(rng, rng.choice(NUMERIC)[0])
        return f'name = "f"\n{base}[params]\n{json.dumps(path)} = 0.5\n', "unknown parameter"
    if kind == 5:
        path = rng.choice(NUMERIC)[0]
        value = rng.choice(["fast", [1, 2], {"a": 1}, True, math.nan])
        return f'name = "f"\n{base}[params]\n{json.dumps(path)} = {_toml(value)}\n', "wrong type"
    if kind == 6:
        path, lo, hi, is_int = rng.choice(NUMERIC)
        value = hi + max(1.0, abs(hi)) if rng.random() < 0.5 else lo - max(1.0, abs(lo))
        value = int(value) if is_int else value
        return f'name = "f"\n{base}[params]\n{json.dumps(path)} = {_toml(value)}\n', "out of bounds"
    if kind == 7:
        path = rng.choice(SHARES)
        shares = dict(ParameterSet.defaults()[path])
        key = rng.choice(list(shares))
        shares[key] = round(shares[key] + rng.choice([0.2, 0.5, -0.05]), 4)
        if shares[key] < 0:
            shares[key] = 0.0
            other = next(k for k in shares if k != key)
            shares[other] = shares[other] + 0.3
        return f'name = "f"\n{base}[params]\n{json.dumps(path)} = {_toml(shares)}\n', "shares not summing to 1"
    if kind == 8:
        table = rng.choice(
            [
                "households = 95_000_000",
                "people = 1_000",
                'households = 30_000_000\n"people" = 29_000_000',
            ]
        )
        return f'name = "f"\n{base}[params.population.registry_2014]\n{table}\n', "households > people"
    if kind == 9:
        good = f'name = "f"\n{base}[params]\n"economy.growth.farm" = 0.04\n'
        cut = rng.randrange(1, len(good) - 1)
        broken = good[:cut] + rng.choice(['"', "[", "=", " = = ", "\n[[", "{"]) + good[cut:]
        return broken, "invalid TOML"
    if kind == 10:
        return b'name = "f\xff\xfe"\n' + base.encode(), "invalid UTF-8"
    if kind == 11:
        target = rng.choice(["nowhere.toml", "", "../nowhere/x.toml", "."])
        return f'name = "f"\nextends = {json.dumps(target)}\n', "missing extends"
    if kind == 12:
        return 'name = "f"\nextends = "scenario.toml"\n', "extends itself"
    return f'name = "f"\n{base}[params]\n"budget.scale" = -1\n', "negative budget"


def _bad_flags(rng: random.Random, tmp: Path) -> tuple[list[str], str]:
    """Flags of ``run`` holding one defect."""
    (tmp / "a_file").touch()
    (tmp / "other").mkdir(exist_ok=True)
    (tmp / "other" / "notes.txt").write_text("someone's")
    choices: list[tuple[list[str], str]] = [
        (["--scale", rng.choice(["0", "-5", "nan", "inf", "1e9", "0.9"])], "scale"),
        (["--scale", rng.choice(["abc", "", "1,000"])], "scale type"),
        (["--end-year", rng.choice(["2014", "2030", "1999"])], "end year"),
        (["--end-year", rng.choice(["20x", "2020.5"])], "end year type"),
        (["--seed", rng.choice(["-1", "-100"])], "seed"),
        (["--set", rng.choice(["economy.growth.farm", "=1", "economy.growth.farm="])], "set form"),
        (["--set", f"{_mangle(rng, rng.choice(NUMERIC)[0])}=0.1"], "set unknown key"),
        (["--set", "registry.exit.verification_prob=2"], "set out of bounds"),
        (["--set", "run.scale=0"], "set run setting"),
        (["--set", "run.nope=1"], "set unknown run key"),
        (["--out", str(tmp / "a_file")], "out is a file"),
        (["--out", str(tmp / "a_file" / "sub")], "out under a file"),
        (["--out", str(tmp / "other")], "out holds other files"),
        ([rng.choice(["--bogus", "--sclae", "-z"])], "unknown flag"),
        (["--out", str(_locked(tmp) / rng.choice(["r", "a/b"]))], "out not writable"),
    ]
    return rng.choice(choices)


def _locked(tmp: Path) -> Path:
    locked = tmp / "locked"
    locked.mkdir(exist_ok=True)
    LOCKED.add(locked)
    return locked


def _case(rng: random.Random, tmp: Path) -> tuple[list[str], str]:
    """One malformed command line (files written under ``tmp``) and a description."""
    scenario = tmp / "scenario.toml"
    roll = rng.random()
    out = tmp / "out"
    if roll < 0.45:  # a malformed scenario, maybe with other flags
        text, why = _bad_scenario(rng)
        if isinstance(text, bytes):
            scenario.write_bytes(text)
        else:
            scenario.write_text(text, encoding="utf-8")
        command = rng.choice(["run", "run", "batch", "sweep"])
        argv = [command, str(scenario), "--scale", "20000", "--end-year", "2016"]
        if command == "sweep":
            argv += ["--param", "economy.growth.farm=0.04,0.05"]
        if command != "run":
            argv += ["--reps", "1", "--executor", "serial"]
        if rng.random() < 0.5:
            argv += ["--out", str(out)]
        if rng.random() < 0.3:
            argv += ["-q"]
        return argv, f"{command} {why}"
    if roll < 0.8:  # a good scenario with bad flags
        flags, why = _bad_flags(rng, tmp)
        if "--out" not in flags and rng.random() < 0.7:
            flags = [*flags, "--out", str(out)]
        return ["run", str(BASELINE), "--scale", "20000", "--end-year", "2016", *flags], f"run {why}"
    # the experiment, compare and calibrate commands
    (tmp / "a_file").touch()
    empty = tmp / "empty"
    empty.mkdir(exist_ok=True)
    choices = [
        (["batch", str(BASELINE), "--reps", rng.choice(["0", "-1"]), "--out", str(out)], "batch reps"),
        (["batch", str(BASELINE), "--executor", rng.choice(["threads", "", "Serial"]), "--out", str(out)], "executor"),
        (["batch", str(BASELINE), "--workers", "0", "--out", str(out)], "workers"),
        (["batch", str(BASELINE), "--out", str(tmp / "a_file" / "x")], "batch out under a file"),
        (["batch", str(tmp / "missing.toml"), "--out", str(out)], "batch missing scenario"),
        (["sweep", str(BASELINE), "--out", str(out)], "sweep without --param"),
        (
            [
                "sweep",
                str(BASELINE),
                "--param",
                rng.choice(["economy.growth.farm", "nope.x=1,2", "economy.growth.farm=a,b"]),
            ],
            "sweep param",
        ),
        (["compare", str(rng.choice([tmp / "missing", tmp / "a_file", empty]))], "compare"),
        (["calibrate", "--quick", "--scale", rng.choice(["0", "nan"]), "--out", str(out)], "calibrate scale"),
        (["calibrate", "--quick", "--fit", _mangle(rng, "economy.growth.farm"), "--out", str(out)], "calibrate fit"),
        (["calibrate", "--quick", "--out", str(tmp / "a_file")], "calibrate out"),
        (["forecast", "--reps", "1", "--out", str(out)], "forecast reps"),
        (["backtest", "--origin", rng.choice(["2014", "2017", "x"]), "--out", str(out)], "backtest origin"),
        (["params", "zzz-no-such-parameter"], "params pattern"),
    ]
    argv, why = rng.choice(choices)
    return argv, why


@pytest.fixture
def no_model_runs(monkeypatch):
    """Building a model fails the case: every malformed input must stop at validation."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model run started")

    monkeypatch.setattr("povsim.model.PovertyModel.__init__", refuse)
    monkeypatch.setattr("povsim.calibration.evaluate.Evaluator.__init__", refuse)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) not in LOCKED and real(p, mode, **kw))


def test_fuzzed_inputs_exit_2_or_3_with_one_line(tmp_path, monkeypatch, capsys, no_model_runs):
    rng = random.Random(SEED)
    monkeypatch.chdir(tmp_path)
    failures = []
    kinds: dict[str, int] = {}
    codes: dict[int, int] = {}
    for i in range(CASES):
        case_dir = tmp_path / f"case{i:03d}"
        case_dir.mkdir()
        argv, why = _case(rng, case_dir)
        kinds[why.split()[0]] = kinds.get(why.split()[0], 0) + 1
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        except BaseException as exc:  # any escape is a failure of the case
            code = f"raised {type(exc).__name__}: {exc}"
        err = capsys.readouterr().err
        codes[code] = codes.get(code, 0) + 1 if isinstance(code, int) else 0
        lines = [line for line in err.splitlines() if line.strip()]
        problems = []
        if code not in (2, 3):
            problems.append(f"exit {code}")
        if len(lines) != 1 or "Traceback" in err:
            problems.append(f"stderr {err!r}")
        elif not lines[0].startswith("povsim"):
            problems.append(f"stderr {lines[0]!r}")
        if (case_dir / "out").exists() or (tmp_path / "results").exists() or (case_dir / "locked" / "r").exists():
            problems.append("an output folder was written")
        if Path("/tmp/povsim-fuzz").exists():
            problems.append("wrote outside the output folder")
        if problems:
            failures.append(f"case {i} ({why}): {' '.join(argv)} -> {'; '.join(problems)}")
    assert not failures, "\n".join(failures[:20])
    assert sum(kinds.values()) == CASES >= 200
    assert len(kinds) >= 4, kinds  # run, batch, sweep and the other commands all exercised
    assert codes.get(2, 0) > 150 and codes.get(3, 0) >= 1, codes  # bad input, and an unwritable folder (both exercised)
