"""Parameters by year and by role (issue 20, item 3): one lookup by year, ``ParameterSet.at(year)``, reading
every series by its declared rule; a role for every parameter (lever, uncertainty, constant)."""

from __future__ import annotations

import pytest

from povsim.calibration.sensitivity import sensitivity_space
from povsim.calibration.space import LEVERS, uncertain_paths
from povsim.parameters import EXTEND_RULES, ParameterSet, is_series_by_year
from povsim.scenario import Scenario

PARAMS = ParameterSet.defaults()


def test_every_series_by_year_declares_how_it_extends_and_nothing_else_does():
    for p in PARAMS:
        if is_series_by_year(p.value):
            assert p.extend is not None, p.path
            if p.extend not in EXTEND_RULES:
                rate = PARAMS[p.extend]  # the path of a growth rate: a single number
                assert isinstance(rate, int | float) and not isinstance(rate, bool), p.path
        else:
            assert p.extend is None, p.path


@pytest.mark.parametrize("path", PARAMS.series_paths())
def test_at_reads_a_series_by_its_rule(path):
    p = PARAMS.parameter(path)
    series = {int(y): float(v) for y, v in p.value.items()}
    first, last = min(series), max(series)
    for year, value in series.items():
        assert PARAMS.at(year)[path] == value
    assert PARAMS.at(first - 1)[path] == 0.0
    after = PARAMS.at(last + 3)[path]
    if p.extend == "zero":
        assert after == 0.0
    elif p.extend == "hold":
        assert after == series[last]
    else:
        assert after == pytest.approx(series[last] * (1 + PARAMS[p.extend]) ** 3, rel=1e-12)
    for year in range(first, last + 1):  # a gap holds the earlier year's value
        if year not in series:
            assert PARAMS.at(year)[path] == series[max(y for y in series if y < year)]


def test_at_follows_a_dated_override_and_the_growth_rate_it_names():
    sc = Scenario(name="t").with_overrides(
        {"programs.floor.standard@2018": 5500, "programs.floor.standard_growth_after": 0.1}, origin="test"
    )
    at = sc.params.at
    assert at(2017)["programs.floor.standard"] == PARAMS.at(2017)["programs.floor.standard"]
    assert at(2018)["programs.floor.standard"] == at(2025)["programs.floor.standard"] == 5500
    budget = Scenario(name="t").with_overrides({"budget.growth_after": 0.2}, origin="test").params
    last = PARAMS["budget.central_special_funds"]["2017"]
    assert budget.at(2019)["budget.central_special_funds"] == pytest.approx(last * 1.2**2, rel=1e-12)


def test_at_reads_other_parameters_as_they_are():
    assert PARAMS.at(2019)["economy.growth.farm"] == PARAMS["economy.growth.farm"]
    with pytest.raises(KeyError, match="no parameter"):
        PARAMS.at(2019)["no.such.parameter"]


def test_every_parameter_has_one_role():
    roles = {p.path: p.role for p in PARAMS}
    assert set(roles.values()) == {"lever", "uncertainty", "constant"}
    for role in ("lever", "uncertainty", "constant"):
        assert PARAMS.with_role(role) == [path for path, r in roles.items() if r == role]
    for p in PARAMS:
        assert (p.role == "uncertainty") == (p.range is not None and p.lever is None), p.path


def test_levers_are_numbers_inside_their_interval_and_not_uncertainties():
    assert LEVERS == {path: PARAMS.parameter(path).lever for path in PARAMS.with_role("lever")}
    assert len(LEVERS) >= 4
    for path, (lo, hi) in LEVERS.items():
        value = PARAMS[path]
        assert isinstance(value, int | float) and lo <= value <= hi, path
    assert not set(LEVERS) & set(uncertain_paths(PARAMS))


def test_sensitivity_sets_follow_the_roles():
    uncertain = sensitivity_space(PARAMS, "uncertain").paths
    everything = sensitivity_space(PARAMS, "all").paths
    assert uncertain == PARAMS.with_role("uncertainty")
    assert set(everything) == set(uncertain) | set(LEVERS) and len(everything) == len(set(everything))
    levers = sensitivity_space(PARAMS, "levers")
    assert {d.path: (d.lo, d.hi) for d in levers.dims} == {k: tuple(map(float, v)) for k, v in LEVERS.items()}
