"""Parameters as data: every number has a unit and a source, assumptions are bounded, and
nothing observed after the forecast origin (end-2017) is used."""

from __future__ import annotations

import re

import pytest

from povsim import observed
from povsim.errors import PovsimInputError
from povsim.parameters import ParameterSet
from povsim.population import poverty_line
from povsim.sources import CITATION, load_sources

PARAMS = ParameterSet.defaults()
ORIGIN = observed.FORECAST_ORIGIN
YEAR = re.compile(r"(?<![\d.,])(?:19|20)\d\d(?!\d)")
"""A year-like number: 19xx or 20xx standing alone (not part of 2,490,000 or 20000)."""
CALIBRATION_DATE = re.compile(r"(?<=, )20\d\d-\d\d-\d\d(?=, povsim )")
"""The date a calibration was run on, as ``povsim calibrate`` writes it into a calibrated parameter's
source ('calibrated by povsim calibrate on …, 2026-12-02, povsim 0.1.0; prior …'): a time stamp of the
computation, not an observation. Any other date (a document's, a report's) is checked like a year."""
TARGET_BEFORE = re.compile(
    r"\b(by|until|through|before|to|for)\s+(the\s+end\s+of\s+)?((?:19|20)\d\d\s*[–-]\s*)?$", re.IGNORECASE
)
"""Words that make the year after them a target date or plan period: 'by 2020', 'to 2020',
'left for 2018–2020', 'before 2020'."""
PLAN_WORD = re.compile(r"\b(plan|planned|plans|target|targets|binding|to be|schedule)\b", re.IGNORECASE)
"""Words that mark a clause as a plan ('to be relocated 2016–2020 (binding)', 'the 13th Five-Year Plan
period, 2016–2020'); a cited key such as '[plan-13th-fyp]' is a document's name and does not count."""
POLICY_DOCUMENTS = {key for key, src in load_sources().items() if src.kind in ("core", "document")}
"""Keys of policy documents (plans, decisions, opinions, reports on work), which may announce plans for
years after the forecast origin; a statistics key records observations, which must not come from them."""


def plan_marks(source: str) -> tuple[list[str], list[int]]:
    """The year-like numbers after the forecast origin in ``source``, clause by clause (``;``): each must
    be marked as a plan — a target word just before it (:data:`TARGET_BEFORE`) or a plan word in its
    clause (:data:`PLAN_WORD`) — and its clause must cite a policy document (:data:`POLICY_DOCUMENTS`).
    Returns the problems (one line each) and the years correctly marked."""
    problems, marked = [], []
    for clause in CALIBRATION_DATE.sub("", source).split(";"):
        text = CITATION.sub("", clause)  # a key such as [three-year-2018] names a document, not a year's value
        documents = [key for key in CITATION.findall(clause) if key in POLICY_DOCUMENTS]
        for match in YEAR.finditer(text):
            year = int(match.group())
            if year <= ORIGIN:
                continue
            as_plan = bool(TARGET_BEFORE.search(text[: match.start()]) or PLAN_WORD.search(text))
            if as_plan and documents:
                marked.append(year)
            elif not as_plan:
                problems.append(f"{year} is not marked as a plan or target in {clause.strip()!r}")
            else:
                problems.append(f"{year} is a plan but its clause cites no policy document: {clause.strip()!r}")
    return problems, marked


def value_years(param) -> list[int]:
    """The years in a parameter's value: the keys of a table by year, and the numbers of a parameter that
    is a year (its name or unit says year, not 'per year')."""
    years: list[int] = []
    is_year = "year" in param.path.rsplit(".", 1)[-1] or re.search(
        r"(?<!per )(?<!a )\byears?\b", param.unit.replace("/yr", "")
    )

    def walk(value, key=None):
        if isinstance(value, dict):
            for k, v in value.items():
                if re.fullmatch(r"\d{4}", str(k)):
                    years.append(int(k))
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if (is_year or key in ("from", "to")) and float(value).is_integer() and 1900 <= value <= 2100:
                years.append(int(value))

    walk(param.value)
    return years


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


ASSUMED_NUMBERS = [p for p in PARAMS if "assumption" in p.source.lower() and is_numeric(p.value)]
NUMBERS = [p for p in PARAMS if is_numeric(p.value)]


@pytest.mark.parametrize("param", ASSUMED_NUMBERS, ids=lambda p: p.path)
def test_assumed_numbers_have_a_range_or_bounds(param):
    assert param.range is not None or param.bounds is not None, param.path


@pytest.mark.parametrize("param", NUMBERS, ids=lambda p: p.path)
def test_defaults_lie_within_bounds_and_range(param):
    """Every number has bounds (what a scenario may set) holding its default, and a range to calibrate
    over, if it has one, within them."""
    v = param.value
    values = list(v.values()) if isinstance(v, dict) else (v if isinstance(v, list) else [v])
    assert param.bounds is not None, f"{param.path}: a number without bounds"
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
    """Every year-like number after the forecast origin (end-2017) in a parameter's source is a plan or
    target of a cited policy document ('to be relocated 2016–2020 (binding)', 'by 2020 ([decision-2015]
    §14)'), never an observed value; the calibration's time stamp is the only date let through."""
    problems, _ = plan_marks(param.source)
    assert not problems, f"{param.path}: " + "; ".join(problems)


@pytest.mark.parametrize("param", list(PARAMS), ids=lambda p: p.path)
def test_no_value_after_2017_unless_its_source_marks_the_plan(param):
    """Every year after the forecast origin in a parameter's value — a key of a table by year (budgets,
    planned posts), a year (a target year, a plan period) — lies within a plan or target its source
    marks with a policy document (a year it names as a plan's, or before it: '+400k posts by 2020'
    covers 2018 and 2019)."""
    late = [y for y in value_years(param) if y > ORIGIN]
    _, marked = plan_marks(param.source)
    unmarked = [y for y in late if not marked or y > max(marked)]
    assert not unmarked, f"{param.path}: value years {unmarked} beyond any plan its source marks: {param.source!r}"


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("3.9M relocated in 2018 ([nbs-communique])", True),  # an observation after the origin
        ("3.9M planned for 2018 ([nbs-communique])", True),  # a plan, but from statistics
        ("3.9M planned for 2018", True),  # a plan with no document
        ("about 600bn for relocation 2016–2020 ([plan-13th-fyp] box 7)", True),  # not said to be a plan
        ("a target reached in 2019; the plan's box 1 ([plan-13th-fyp])", True),  # the document is another clause's
        ("released 2018-06-15 ([three-year-2018])", True),  # a document's date is checked too
        ("3.9M left for 2018–2020 ([three-year-2018] §3(3))", False),
        ("all poor people to have safe drinking water by 2020 ([decision-2015] §14)", False),
        ("9.81M people to be relocated 2016–2020 (binding, [plan-13th-fyp] box 1)", False),
        ("calibrated by povsim calibrate on survey poor people 2017, 2026-12-02, povsim 0.1.0; prior 0.5", False),
        ("66.7bn (2016), [cheng-2017] ch. 4 §1(4); 2,490,000 people", False),  # no year after 2017
    ],
)
def test_the_post_2017_guard_flags_what_it_should(source, flagged):
    """The guard itself: it flags a year after 2017 that is observed, a plan without a policy document,
    a plan period not said to be one, a plan word in another clause and a document's date; it lets
    through targets and plan periods of policy documents, the calibration's time stamp and earlier
    years."""
    problems, _ = plan_marks(source)
    assert bool(problems) == flagged, problems


def test_value_years_reads_tables_by_year_and_year_parameters():
    """The years the value guard checks: every key of a table by year and every year-valued number,
    and not a money amount that looks like a year."""
    by_path = {p.path: p for p in PARAMS}
    assert value_years(by_path["programs.ecology.ranger_posts"])[-3:] == [2018, 2019, 2020]
    assert value_years(by_path["programs.relocation.years"]) == [2016, 2020]
    assert value_years(by_path["governance.deep_poverty.from_year"]) == [2018]
    assert value_years(by_path["programs.housing.water_cost"]) == []


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
