"""Property-based tests (hypothesis) of the scenario loader and the ``--set`` parser (issue 22).

The deterministic fuzz of ``test_fuzz_inputs.py`` holds one known defect per case; these let
hypothesis generate the overrides — any parameter path or a near miss of one, a sub-key of a table,
a dated key, and any TOML value — and check the one property every input must have: it either loads
and round-trips (the run starts with exactly the value given, and the scenario written back to a file
loads to the same parameters), or it fails with exit 2, one line on stderr naming the key, and no
output folder. The TOML writer and the near-miss generator are the fuzz test's, written once.
"""

from __future__ import annotations

import math
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from povsim import cli
from povsim.errors import PovsimInputError
from povsim.parameters import CONSISTENCY, LAST_YEAR, ParameterSet, is_series_by_year
from povsim.scenario import Scenario, load_scenario, parse_set
from test_fuzz_inputs import BASELINE, _mangle, _toml

PARAMS = ParameterSet.defaults()
PATHS = sorted(p.path for p in PARAMS)
TABLE_KEYS = sorted(f"{p.path}.{k}" for p in PARAMS if isinstance(p.value, dict) for k in p.value)
SERIES = sorted(PARAMS.series_paths())
TIED = {path for small, _, large, _ in CONSISTENCY for path in (small, large)}
"""Parameters in a cross-field relation (households ≤ people): a value within its own bounds may still
break the relation, so they are left out of the overrides that must load."""
EXAMPLES = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
"""Derandomized: the same examples on every run, so a failure reproduces and CI cannot flake."""

# --- values -------------------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
"""Strings TOML can hold (no lone surrogates, no control characters)."""
TYPED = st.text(st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from('\n=#"[{}],.')), max_size=12)
"""Text as a user may type it after ``KEY=``: anything, with TOML's special characters and newlines
drawn often."""
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=7),
    st.dictionaries(st.sampled_from(["east", "central", "west", "2018", "x", "value"]), SCALARS, max_size=4),
)
"""Any TOML value: a scalar of any type, a list, or a table (keys of regions, years and other names)."""


@st.composite
def keys(draw) -> str:
    """A key as a user may type it: a parameter, one key of a table, a dated key of a series, or a near
    miss of a parameter (a character dropped, doubled or changed, or a part added)."""
    kind = draw(st.sampled_from(["path", "table key", "dated", "near miss"]))
    if kind == "path":
        return draw(st.sampled_from(PATHS))
    if kind == "table key":
        return draw(st.sampled_from(TABLE_KEYS))
    if kind == "dated":
        path = draw(st.sampled_from(SERIES + PATHS[:5]))
        return f"{path}@{draw(st.integers(2000, 2030))}"
    return _mangle(draw(st.randoms(use_true_random=False)), draw(st.sampled_from(PATHS)))


def _loadable(key: str) -> bool:
    """Whether any value of the right type within bounds must load at ``key``: not a whole table or list
    (a table of shares must move together), not a parameter in a cross-field relation."""
    ppath, sub = PARAMS.resolve_path(key)
    p = PARAMS.parameter(ppath)
    return ppath not in TIED and not p.sums_to_one and (sub is not None or not isinstance(p.value, dict | list))


LOADABLE = [key for key in PATHS + TABLE_KEYS if _loadable(key)]


@st.composite
def valid_overrides(draw) -> tuple[str, Any]:
    """An override that must load: a scalar parameter or one key of a table, of its type, within its
    bounds."""
    key = draw(st.sampled_from(LOADABLE))
    ppath, sub = PARAMS.resolve_path(key)
    p = PARAMS.parameter(ppath)
    sample = p.value if sub is None else p.value[sub]
    lo, hi = p.bounds if p.bounds is not None else (-1e12, 1e12)
    if isinstance(sample, bool):
        return key, draw(st.booleans())
    if isinstance(sample, int):
        return key, draw(st.integers(math.ceil(lo), math.floor(min(hi, 2**62))))
    assert isinstance(sample, float), f"{key}: no values drawn for {sample!r}"
    return key, draw(st.floats(max(lo, -1e300), min(hi, 1e300), allow_nan=False))


# --- oracle -------------------------------------------------------------------------------------


def looked_up(params: ParameterSet, key: str) -> Any:
    """The value ``key`` names in ``params``: a parameter's, one key of a table's, or a series' value in
    the year of a dated key (and every later year)."""
    path, at, year = key.partition("@")
    if at:
        series = params[path]
        later = {series[y] for y in series if int(y) >= int(year)}
        assert len(later) == 1, f"{key}: the years from {year} on hold {later}"
        return later.pop()
    ppath, sub = params.resolve_path(path)
    return params[ppath] if sub is None else params[ppath][sub]


def same(given_value: Any, loaded: Any) -> bool:
    """``loaded`` is what ``given_value`` says: equal numbers (an int given for a float is that float), a
    table given in part has those keys."""
    if isinstance(given_value, dict):
        return isinstance(loaded, dict) and all(same(v, loaded[k]) for k, v in given_value.items())
    if isinstance(given_value, list):
        return isinstance(loaded, list) and len(given_value) == len(loaded) and all(map(same, given_value, loaded))
    if isinstance(given_value, bool) or isinstance(loaded, bool):
        return given_value is loaded
    return type(given_value) in (int, float) and given_value == loaded


def admissible(params: ParameterSet, key: str) -> None:
    """The value at ``key`` has its default's type (an int stays an int, a bool is not a number) and lies
    within its parameter's bounds: what validation promises of every value it lets through."""
    path = key.partition("@")[0]
    ppath, sub = PARAMS.resolve_path(path)
    p = PARAMS.parameter(ppath)
    default, loaded = p.value, params[ppath]
    pairs = [(default[sub], loaded[sub])] if sub is not None else [(default, loaded)]
    while pairs:
        d, v = pairs.pop()
        if isinstance(d, dict):
            assert isinstance(v, dict) and set(v) >= set(d), (key, v)  # a dated key adds the years to LAST_YEAR
            pairs += [(d.get(k, next(iter(d.values()))), v[k]) for k in v]
        elif isinstance(d, list):
            assert isinstance(v, list) and len(v) == len(d), (key, v)
            pairs += list(zip(d, v, strict=True))
        else:
            assert type(v) is type(d), (
                f"{key}: {v!r} is a {type(v).__name__}, the parameter's values are {type(d).__name__}"
            )
            if p.bounds is not None and not isinstance(d, bool):
                assert p.bounds[0] <= v <= p.bounds[1], f"{key}: {v!r} outside {p.bounds}"


def scenario_file(path: Path, overrides: dict[str, Any], extends: str | Path = BASELINE) -> Path:
    """A scenario file holding ``overrides`` as quoted dotted keys of ``[params]``."""
    lines = ['name = "prop"', f"extends = {_toml(str(extends))}", "[params]"]
    lines += [f"{_toml(key)} = {_toml(value)}" for key, value in overrides.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Started(BaseException):
    """Raised in place of the model run: validation passed, the run would start with ``scenario``."""

    def __init__(self, scenario: Scenario):
        super().__init__(scenario.name)
        self.scenario = scenario


@pytest.fixture
def started(monkeypatch):
    """``povsim run`` stops where the model would start, with the scenario it would run."""

    def stop(scenario, quiet):
        raise Started(scenario)

    monkeypatch.setattr(cli, "_simulate", stop)


def run_with_set(tmp: Path, key: str, text: str) -> tuple[int | None, str, Scenario | None]:
    """``povsim run baseline --set KEY=TEXT``: (exit code, stderr, the scenario it would run)."""
    import contextlib
    import io

    err = io.StringIO()
    out = tmp / "out"
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(["run", str(BASELINE), "--end-year", "2016", "--set", f"{key}={text}", "--out", str(out)])
        except Started as exc:
            assert not out.exists(), "a run folder was left by a run that stopped before it ended"
            return None, err.getvalue(), exc.scenario
        except SystemExit as exc:
            code = exc.code
    assert not out.exists(), f"--set {key}={text}: a refused run left its output folder"
    return code, err.getvalue(), None


# --- properties ---------------------------------------------------------------------------------


@EXAMPLES
@given(value=VALUES)
def test_set_reads_any_toml_value_as_written(value):
    """The ``--set`` parser reads back every TOML value exactly (NaN as NaN, -0.0 as -0.0, a table and
    a list as given)."""
    parsed = parse_set([f"economy.growth.farm={_toml(value)}"])
    assert list(parsed) == ["economy.growth.farm"]
    assert repr(parsed["economy.growth.farm"]) == repr(value)


@EXAMPLES
@given(text=TYPED)
@example("1\nv2 = 3")
@example("0.5 # a note")
@example("  ")
def test_set_reads_one_value_or_the_text_typed(text):
    """``--set k=TEXT`` reads TEXT as one TOML value (a comment after it is dropped, as TOML says), else as
    the text typed, whitespace trimmed; TEXT that TOML reads as more than one assignment (``1\\nv2 = 3``)
    is refused rather than cut to its first value."""
    try:
        toml = tomllib.loads(f"v = {text.strip()}")
    except tomllib.TOMLDecodeError:
        toml = None
    if not text.strip() or (toml is not None and list(toml) != ["v"]):
        with pytest.raises(PovsimInputError, match="k="):
            parse_set([f"k={text}"])
        return
    value = parse_set([f"k={text}"])["k"]
    assert repr(value) == repr(text.strip() if toml is None else toml["v"])


@EXAMPLES
@given(key=keys(), value=VALUES)
def test_any_set_override_loads_exactly_or_exits_2_naming_the_key(key, value, tmp_path_factory, started):
    """``povsim run --set KEY=VALUE`` for any key and any TOML value: either the run starts with exactly
    that value at that key and its overrides, written back to a scenario file, load to the same
    parameters; or it exits 2 with one line on stderr that names the key, and writes no folder."""
    tmp = tmp_path_factory.mktemp("set")
    code, err, scenario = run_with_set(tmp, key, _toml(value))
    if scenario is None:
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, (key, value, err)
        assert len(lines) == 1 and lines[0].startswith("povsim") and "Traceback" not in err, err
        assert key in lines[0], (key, lines[0])
        return
    assert same(value, looked_up(scenario.params, key)), (key, value, looked_up(scenario.params, key))
    admissible(scenario.params, key)
    again = load_scenario(scenario_file(tmp / "again.toml", scenario.overrides))
    for path in PATHS:
        assert repr(again.params[path]) == repr(scenario.params[path]), path


@EXAMPLES
@given(override=valid_overrides())
def test_every_value_of_the_right_type_within_bounds_loads(override, tmp_path_factory, started):
    """Validation refuses nothing it should accept: a value of the parameter's type within its bounds
    (one key of a table, any year of a series) always starts the run, with that value."""
    key, value = override
    tmp = tmp_path_factory.mktemp("valid")
    code, err, scenario = run_with_set(tmp, key, _toml(value))
    assert scenario is not None, f"--set {key}={_toml(value)} refused: exit {code}, {err!r}"
    assert same(value, looked_up(scenario.params, key))


@EXAMPLES
@given(
    first=st.lists(valid_overrides(), min_size=1, max_size=4),
    second=st.lists(valid_overrides(), max_size=3),
)
def test_a_scenario_chain_applies_its_files_in_order(first, second, tmp_path_factory):
    """A scenario that extends another holds the other's overrides and its own, its own winning a key
    both give; every other parameter keeps its default. The chain loads the same twice."""
    tmp = tmp_path_factory.mktemp("chain")
    base = scenario_file(tmp / "base.toml", dict(first))
    top = scenario_file(tmp / "top.toml", dict(second), extends="base.toml")
    loaded = load_scenario(top)
    expected = {**dict(first), **dict(second)}
    for key, value in expected.items():
        assert same(value, looked_up(loaded.params, key)), (key, value)
    touched = {PARAMS.resolve_path(key)[0] for key in expected}
    for path in PATHS:
        if path not in touched:
            assert repr(loaded.params[path]) == repr(PARAMS[path]), path
    assert load_scenario(top).params[next(iter(touched))] == loaded.params[next(iter(touched))]
    assert base.is_file()


@EXAMPLES
@given(key=keys(), value=VALUES)
def test_any_scenario_file_override_loads_or_fails_naming_file_and_key(key, value, tmp_path_factory):
    """The same property for a scenario file's ``[params]``: it loads with the value given, or the
    error names the file and the key."""
    tmp = tmp_path_factory.mktemp("file")
    path = scenario_file(tmp / "s.toml", {key: value})
    try:
        scenario = load_scenario(path)
    except PovsimInputError as exc:
        assert str(path) in str(exc), exc
        assert key in str(exc), (key, str(exc))
        return
    assert same(value, looked_up(scenario.params, key)), (key, value)
    admissible(scenario.params, key)


def test_dated_keys_reach_the_last_year():
    """The oracle's reading of a dated key: every year from the key's on holds its value, to LAST_YEAR."""
    path = SERIES[0]
    params = PARAMS.with_overrides({f"{path}@2019": 1}, "test")
    assert is_series_by_year(params[path]) and str(LAST_YEAR) in params[path]
    assert looked_up(params, f"{path}@2019") == 1


def test_the_near_miss_generator_misses():
    """The near misses are not parameters (else the 'unknown key' branch would go untested)."""
    rng = random.Random(0)
    misses = [_mangle(rng, p) for p in PATHS for _ in range(3)]
    assert sum(m not in PARAMS for m in misses) >= 0.9 * len(misses)
