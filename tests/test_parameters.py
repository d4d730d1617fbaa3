"""Parameters as data: every number has a unit and a source, assumptions are bounded, and
nothing observed after the forecast origin (end-2017) is used."""

from __future__ import annotations

import re

import pytest

from povsim import observed
from povsim.errors import PovsimInputError
from povsim.parameters import ParameterSet
from povsim.population import poverty_line
from povsim.sources import CITATION

PARAMS = ParameterSet.defaults()
LATE_YEAR = re.compile(r"20(1[89]|[2-9]\d)")
RUN_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
"""The ISO date a calibration was run on ('calibrated by povsim calibrate …, 2026-11-23') is a
time stamp of the computation, not an observation."""
PLAN_CONTEXT = re.compile(
    r"(by|until|through)\s+20\d\d"  # a target date: "by 2020"
    r"|20\d\d\s*[–-]\s*20\d\d"  # a plan period: "2016–2020"
    r"|\b(plan|target|binding|to be)\b",
    re.IGNORECASE,
)


def is_numeric(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, list):
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if isinstance(value, dict):
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())
    return False


def test_there_are_parameters_from_every_file():
    prefixes = {p.path.split(".")[0] for p in PARAMS}
    assert prefixes >= {"economy", "geography", "households", "population", "registry", "shocks"}


@pytest.mark.parametrize("param", list(PARAMS), ids=lambda p: p.path)
def test_every_parameter_has_unit_and_source(param):
    assert param.unit.strip(), param.path
    assert param.source.strip(), param.path


@pytest.mark.parametrize("param", list(PARAMS), ids=lambda p: p.path)
def test_assumed_numbers_have_a_range_or_bounds(param):
    if "assumption" in param.source.lower() and is_numeric(param.value):
        assert param.range is not None or param.bounds is not None, param.path


@pytest.mark.parametrize("param", list(PARAMS), ids=lambda p: p.path)
def test_defaults_lie_within_bounds_and_range(param):
    values = []
    if is_numeric(param.value):
        v = param.value
        values = list(v.values()) if isinstance(v, dict) else (v if isinstance(v, list) else [v])
    if param.bounds is not None:
        lo, hi = param.bounds
        assert lo <= hi
        assert all(lo <= x <= hi for x in values), param.path
    if param.range is not None:
        lo, hi = param.range
        assert lo < hi
        assert all(lo <= x <= hi for x in values), param.path
        if param.bounds is not None:
            assert param.bounds[0] <= lo and hi <= param.bounds[1], param.path


@pytest.mark.parametrize("param", [p for p in PARAMS if p.sums_to_one], ids=lambda p: p.path)
def test_shares_sum_to_one(param):
    v = param.value
    total = sum(v.values()) if isinstance(v, dict) else sum(v)
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("param", list(PARAMS), ids=lambda p: p.path)
def test_no_source_cites_an_outcome_after_2017(param):
    """Years after the forecast origin may appear only as a plan, target or period of a plan
    (e.g. 'relocated 2016–2020', 'by 2020'), never as an observed value. A cited key such as
    '[three-year-2018]' names a document, not a year's value, and does not count either way."""
    text = CITATION.sub("", param.source)
    if LATE_YEAR.search(RUN_DATE.sub("", text)):
        assert PLAN_CONTEXT.search(text), f"{param.path}: {param.source}"


@pytest.mark.parametrize("param", [p for p in PARAMS if isinstance(p.value, dict)], ids=lambda p: p.path)
def test_no_year_keyed_value_after_2017_unless_a_plan(param):
    """Year-keyed values after 2017 may only be a schedule of a plan or target (budgets,
    planned posts, a standard to reach by 2020), and the source must say so."""
    years = [int(k) for k in param.value if re.fullmatch(r"\d{4}", str(k))]
    if any(y > observed.FORECAST_ORIGIN for y in years):
        assert PLAN_CONTEXT.search(CITATION.sub("", param.source)), f"{param.path}: {param.source}"


def test_observed_series_stop_at_forecast_origin():
    assert observed.FORECAST_ORIGIN == 2017
    for table in (observed.SURVEY_POOR_PEOPLE, observed.SURVEY_INCIDENCE, observed.REGISTERED_POOR_PEOPLE):
        assert max(table) <= 2017
    assert observed.TARGET_2020_POOR_PEOPLE == 0


def test_documented_poverty_line_and_uprating():
    assert poverty_line(PARAMS, 2014) == 2800
    assert poverty_line(PARAMS, 2016) == 2952
    u = PARAMS["economy.poverty_line.uprating"]
    assert poverty_line(PARAMS, 2019) == pytest.approx(2952 * (1 + u) ** 3)
    with pytest.raises(ValueError):
        poverty_line(PARAMS, 2005)


def test_registry_targets_are_the_documented_numbers():
    assert PARAMS["population.registry_2014.people"] == 89_620_000
    assert PARAMS["population.registry_2014.households"] == 29_480_000
    assert PARAMS["population.survey_2014.poor_people"] == 70_170_000
    assert sum(PARAMS["geography.counties.poor"].values()) == 832
    assert PARAMS["geography.villages.poor"] == 128_000


def test_defaults_are_independent_copies():
    a = ParameterSet.defaults()
    a["population.causes.illness"]["east"] = 0.99
    assert ParameterSet.defaults()["population.causes.illness"]["east"] == 0.581


def test_with_overrides_returns_a_new_set():
    changed = PARAMS.with_overrides({"economy.growth.farm": 0.01}, origin="test")
    assert changed["economy.growth.farm"] == 0.01
    assert PARAMS["economy.growth.farm"] == 0.05
    # the record keeps its unit and source
    assert changed.parameter("economy.growth.farm").unit == PARAMS.parameter("economy.growth.farm").unit


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"economy.growth.fram": 0.1}, "did you mean 'economy.growth.farm'"),
        ({"economy.growth.farm": "abc"}, "expected a number"),
        ({"economy.growth.farm": float("nan")}, "finite"),
        ({"registry.exit.verification_prob": 1.5}, "outside the allowed range"),
        ({"population.household_size_shares": [0.5, 0.5]}, "list of 6"),
        ({"population.household_size_shares": [0.5, 0.5, 0.5, 0, 0, 0]}, "sum"),
        ({"population.causes.illness.north": 0.5}, "east"),
    ],
)
def test_with_overrides_rejects_bad_values(overrides, fragment):
    with pytest.raises(PovsimInputError) as info:
        PARAMS.with_overrides(overrides, origin="origin.toml")
    assert "origin.toml" in str(info.value)
    assert fragment in str(info.value)


def test_integer_accepted_for_a_float_parameter():
    assert PARAMS.with_overrides({"economy.growth.farm": 0}, origin="t")["economy.growth.farm"] == 0.0
