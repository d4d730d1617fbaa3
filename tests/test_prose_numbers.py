"""Numbers in prose come from the code or a recorded measurement: run counts, times and
parameter counts printed by ``--help`` and written in the README are those of the code's
constants and of :mod:`povsim.costs` (issue 18, item 6)."""

from __future__ import annotations

import re

import pytest

from conftest import REPO
from povsim.calibration.fit import FITTED_PARAMETERS
from povsim.calibration.sensitivity import run_count, sensitivity_space
from povsim.calibration.settings import CHECK_REPS, FULL, QUICK, REFINE
from povsim.cli import build_parser
from povsim.costs import COSTS, Cost, check_cost, duration
from povsim.parameters import ParameterSet

README = (REPO / "README.md").read_text()


def _help(command: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return " ".join(sub.choices[command].format_help().split())  # one line: wrapping moves spaces only


def test_no_help_text_prints_a_doubled_percent_sign():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "%%" not in parser.format_help()
    for name, command in sub.choices.items():
        assert "%%" not in command.format_help(), name


def test_calibrate_help_quotes_the_recorded_costs_and_the_code_settings():
    text = _help("calibrate")
    assert f"({COSTS['calibrate --quick'].text()} measured" in text
    assert f"the full fit: {COSTS['calibrate'].text()}" in text
    assert f"({check_cost().text()} measured" in text
    assert f"with {REFINE.seeds} seeds per point ({COSTS['calibrate --refine'].text()} measured)" in text
    backtest = _help("backtest")
    assert f"{QUICK.seeds} seeds per point: {COSTS['backtest --quick'].text()} measured" in backtest
    for origin in (2015, 2016):
        assert f"{COSTS[f'backtest --origin {origin}'].text()} from {origin}" in backtest


def test_the_check_run_count_follows_from_the_check_settings():
    # the documented and the calibrated values on every check seed, and each posterior draw once
    assert check_cost().runs == 2 * CHECK_REPS + FULL.draws == 120


@pytest.mark.parametrize(("seconds", "text"), [(41, "41 s"), (89, "89 s"), (119, "2 min"), (1607, "27 min")])
def test_durations_read_as_the_docs_write_them(seconds, text):
    assert duration(seconds) == text
    assert Cost("x", 1234, seconds, "").text() == f"1,234 runs, {text}"


def test_the_readme_quotes_the_recorded_calibration_costs():
    flat = " ".join(README.split())
    assert f"full run: {COSTS['calibrate'].text()} on two cores" in flat
    assert f"{REFINE.seeds} other seeds per point, {COSTS['calibrate --refine'].text()}" in flat
    assert f"`--quick`: {COSTS['calibrate --quick'].text()}" in flat
    assert f"(`povsim calibrate --check`, {check_cost().text()};" in flat


def test_the_docs_quote_the_recorded_backtest_costs():
    docs = " ".join((REPO / "docs" / "calibration.md").read_text().split())
    assert f"--quick # a smoke test: {COSTS['backtest --quick'].text()}" in docs
    assert f"# the full calibration on data to 2016: {COSTS['backtest --origin 2016'].text()}" in docs


def test_the_readme_counts_the_parameters_the_code_fits_and_varies():
    flat = " ".join(README.split())
    params = ParameterSet.defaults()
    n_fitted = len(FITTED_PARAMETERS)
    assert f"`povsim calibrate` fits {n_fitted} uncertain parameters" in flat
    words = {19: "Nineteen", 20: "Twenty", 18: "Eighteen", 21: "Twenty-one"}
    assert f"{words[n_fitted]} uncertain parameters are **calibrated**" in flat
    uncertain = len(sensitivity_space(params, "uncertain"))
    varied = len(sensitivity_space(params, "all"))
    match = re.search(r"ranks the (\d+) parameters it varies — the (\d+) uncertainties and the", flat)
    assert match, "the README states how many parameters the Morris screening varies"
    assert (int(match[1]), int(match[2])) == (varied, uncertain)
    runs = re.search(r"\(`--n 10`: ([\d,]+) runs\)", flat)
    assert runs and int(runs[1].replace(",", "")) == run_count(sensitivity_space(params, "all"), "morris", 10)
