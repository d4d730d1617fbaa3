"""The flows under the stocks (issue 16): the headcount's inflows and outflows recomputed from the
household table, the relocated stock, the flow and regional targets and how a fit reports them,
and the forecast's decomposition of each year's change."""

from __future__ import annotations

import contextlib
import io
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from conftest import series
from povsim import PovertyModel
from povsim.calibration.fit import Calibration, Settings, fit_report
from povsim.calibration.forecast import decomposition
from povsim.calibration.space import Space
from povsim.calibration.targets import Target, default_targets
from povsim.households import EXITED, NOT_REGISTERED
from povsim.observed import FORECAST_ORIGIN, REGIONAL_POOR_PEOPLE
from povsim.parameters import ParameterSet

# -- the headcount's flows, from the household table ------------------------------------------


@pytest.fixture(scope="module")
def stepped():
    """A run stepped year by year, with each year's household poverty and status kept."""
    model = PovertyModel(seed=11, scale=4000)
    hh = model.households
    states = [(model.year, hh.poor.copy(), hh.status.copy(), hh.people_weight_of(slice(None)).copy())]
    while model.running:
        model.step()
        states.append((model.year, hh.poor.copy(), hh.status.copy(), hh.people_weight_of(slice(None)).copy()))
    return model, states


def test_headcount_flows_are_recomputed_from_households(stepped):
    model, states = stepped
    results = model.results()
    fell, escaped, newly = (
        series(results, m) for m in ("fell_into_poverty_people", "escaped_poverty_people", "newly_poor_people")
    )
    for (_, poor0, status0, _), (year, poor1, _, w1) in itertools.pairwise(states):
        assert fell[year] == pytest.approx(w1[poor1 & ~poor0].sum())
        assert escaped[year] == pytest.approx(w1[poor0 & ~poor1].sum())
        assert newly[year] == pytest.approx(w1[poor1 & ~poor0 & (status0 == NOT_REGISTERED)].sum())
        relapsed = w1[poor1 & ~poor0 & (status0 == EXITED)].sum()
        assert series(results, "relapse_people")[year] == pytest.approx(relapsed)
    assert (fell.loc[2015:] > 0).all() and (escaped.loc[2015:] > 0).all()


def test_headcount_change_is_inflow_less_outflow(stepped):
    results = stepped[0].results()
    poor = series(results, "poor_people")
    fell, escaped = series(results, "fell_into_poverty_people"), series(results, "escaped_poverty_people")
    change = poor.diff().loc[2015:]
    np.testing.assert_allclose(change, (fell - escaped).loc[2015:], atol=0.5)
    for region in ("east", "central", "west"):
        poor_r = series(results, "poor_people", region).diff().loc[2015:]
        flows = series(results, "fell_into_poverty_people", region) - series(results, "escaped_poverty_people", region)
        np.testing.assert_allclose(poor_r, flows.loc[2015:], atol=0.5)


def test_relocated_people_is_the_stock_of_moved_households(stepped):
    model, _ = stepped
    moved = model.programme("relocation").year_moved
    weights = model.households.people_weight_of(slice(None))
    relocated = series(model.results(), "relocated_people")
    assert relocated[2014] == 0
    for year in (2016, 2017, 2020):
        assert relocated[year] == pytest.approx(weights[(moved > 0) & (moved <= year)].sum())
    assert relocated.is_monotonic_increasing


# -- targets ------------------------------------------------------------------------------


def test_flow_and_regional_targets_are_sourced_and_before_the_origin():
    targets = {t.outcome: t for t in default_targets()}
    for year, regions in REGIONAL_POOR_PEOPLE.items():
        for region, value in regions.items():
            t = targets[f"poor_people_{region}_{year}"]
            assert t.observed == value and t.accept_rel == 0.10
    assert targets["counties_exited_2017"].observed == 153 and targets["counties_exited_2017"].accept_rel == 0.25
    assert targets["relocated_people_2017"].accept_rel == 0.10
    assert targets["reregistered_people_2016"].accept_factor == 2
    for t in targets.values():
        assert t.year <= FORECAST_ORIGIN and t.sd > 0 and t.source


@pytest.mark.parametrize(
    ("target", "inside", "outside"),
    [
        (Target("x", "x", 2016, 100.0, 2.0, "s", accept_rel=0.05), [95.0, 105.0], [94.9, 105.1]),
        (Target("x", "x", 2016, 100.0, 2.0, "s", accept_factor=2.0), [50.0, 200.0], [49.9, 200.1, 0.0]),
        (Target("x", "x", 2016, 28.0, 4.0, "s"), [20.0, 36.0], [19.9, 36.1]),
    ],
)
def test_acceptance_bounds(target, inside, outside):
    assert all(target.accepts(v) for v in inside)
    assert not any(target.accepts(v) for v in outside)
    assert not target.accepts(float("nan"))


def _calibration(report: pd.DataFrame) -> Calibration:
    space = Space.from_paths(ParameterSet.priors(), ["economy.growth.local_wage"])
    empty = pd.DataFrame()
    return Calibration(
        settings=Settings("test", 1, 0, 1, 0),
        space=space,
        targets=[],
        prior={"economy.growth.local_wage": 0.08},
        values={"economy.growth.local_wage": 0.08},
        posterior_sd={"economy.growth.local_wage": 0.01},
        draws=empty,
        report=report,
        evaluations=empty,
        loss=1.0,
        prior_loss=2.0,
        runs=1,
        seconds=1.0,
    )


def test_a_fit_that_misses_a_fitted_target_says_so():
    """A quick fit that exits no county against 28 must not report the fit as accepted."""
    from povsim.calibration.cli import _print_fit

    targets = [t for t in default_targets() if t.outcome in ("poor_people_2016", "counties_exited_2016")]
    runs = pd.DataFrame({"poor_people_2016": [43.4e6, 43.3e6], "counties_exited_2016": [0.0, 0.0]})
    report = fit_report(targets, runs, runs, pd.DataFrame())
    assert report.set_index("target")["met"].to_dict() == {"poor_people_2016": True, "counties_exited_2016": False}
    cal = _calibration(report)
    assert not cal.accepted()
    assert cal.missed(fitted=True) == ["poor counties exited by end-2016"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _print_fit(cal)
    text = out.getvalue()
    assert "MISSED: poor counties exited by end-2016" in text
    assert "1 of 2 met" in text


# -- the forecast's decomposition ------------------------------------------------------------


def test_decomposition_adds_up_run_by_run():
    model_runs = []
    for seed in (3, 4, 5):
        from povsim.calibration.evaluate import outcomes

        m = PovertyModel(seed=seed, scale=4000)
        m.run_model()
        model_runs.append(outcomes(m.results()))
    runs = pd.DataFrame(model_runs)
    d = decomposition(runs).set_index(["year", "component"])
    for year in range(2015, 2021):
        change = runs[f"poor_people_{year}"] - runs[f"poor_people_{year - 1}"]
        assert d.loc[(year, "change"), "mean"] == pytest.approx(change.mean())
        gap = change - (runs[f"fell_into_poverty_people_{year}"] - runs[f"escaped_poverty_people_{year}"])
        assert gap.abs().max() < 1.0
        parts = sum(d.loc[(year, c), "mean"] for c in ("relapse_people", "newly_poor_people", "registered_fell_in"))
        assert parts == pytest.approx(d.loc[(year, "fell_into_poverty_people"), "mean"])
        channels = [c for c in d.loc[year].index if c.startswith("exits_") and c != "exits_people"]
        assert len(channels) >= 9
        assert sum(d.loc[(year, c), "mean"] for c in channels) == pytest.approx(d.loc[(year, "exits_people"), "mean"])
        row = d.loc[(year, "exits_people")]
        assert row["p05"] <= row["mean"] <= row["p95"]


# -- the backtest -------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [2015, 2016])
def test_backtest_fits_only_up_to_its_origin(origin):
    from povsim.calibration.backtest import split_targets

    fit, scored = split_targets(origin)
    assert fit and scored
    assert all(t.year <= origin for t in fit)
    assert all(origin < t.year <= FORECAST_ORIGIN for t in scored)
    assert {"poor_people_2017", "poor_people_west_2017", "counties_exited_2017"} <= {t.outcome for t in scored}
    assert f"poor_people_{origin}" in {t.outcome for t in fit if t.fitted}


def test_backtest_scores_coverage_and_errors_against_naive_trends():
    from povsim.calibration.backtest import score, split_targets
    from povsim.calibration.forecast import naive_trends
    from povsim.observed import SURVEY_POOR_PEOPLE

    _, scored = split_targets(2016)
    scored = [t for t in scored if t.outcome in ("poor_people_2017", "counties_exited_2017")]
    draws = pd.DataFrame({"poor_people_2017": np.linspace(29e6, 33e6, 21), "counties_exited_2017": np.arange(21.0)})
    check = pd.DataFrame({"poor_people_2017": [30e6, 32e6], "counties_exited_2017": [150.0, 156.0]})
    cal = _calibration(pd.DataFrame())
    cal.draw_runs, cal.check_runs = draws, check
    table, summary = score(2016, scored, cal)
    row = table.set_index("target").loc["poor_people_2017"]
    assert row["covered"]  # 30.46M inside the draws' 29.2–32.8M
    assert row["model_rel_error"] == pytest.approx(31e6 / 30.46e6 - 1)
    assert row["point_rel_error"] == pytest.approx(31e6 / 30.46e6 - 1)
    x = np.array([2014, 2015, 2016.0])
    line = np.polyfit(x, [SURVEY_POOR_PEOPLE[int(y)] for y in x], 1)
    assert row["naive_linear"] == pytest.approx(np.polyval(line, 2017))
    assert row["naive_linear"] == pytest.approx(
        naive_trends([2017], fit_years=[2014, 2015, 2016]).loc[2017, "naive_linear"]
    )
    counties = table.set_index("target").loc["counties_exited_2017"]
    assert not counties["covered"] and np.isnan(counties["naive_linear"])
    assert set(summary["kind"]) == {"headcount", "counties_exited"}


def test_backtest_cli_end_to_end(tmp_path):
    from povsim.cli import main
    from povsim.parameters import calibrated_path

    before = calibrated_path().read_bytes()
    out = tmp_path / "bt"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["backtest", "--origin", "2016", "--quick", "--scale", "4000", "--workers", "2", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "backtest.csv",
        "summary.csv",
        "backtest.png",
        "calibration",
        "calibrated.toml",
        "manifest.json",
    }
    assert [p.name for p in tmp_path.iterdir()] == ["bt"]  # no partial folder left beside it
    table = pd.read_csv(out / "backtest.csv")
    assert (table["year"] == 2017).all() and "poor_people_west_2017" in set(table["target"])
    fit = pd.read_csv(out / "calibration" / "fit.csv")
    assert fit["year"].max() <= 2016
    assert "Backtest from the end of 2016" in buf.getvalue()
    assert calibrated_path().read_bytes() == before


def test_backtest_rejects_an_origin_it_cannot_score(tmp_path, capsys):
    from povsim.cli import main

    code = main(["backtest", "--origin", "2017", "--out", str(tmp_path / "bt")])
    assert code == 2
    assert "--origin 2017: must be one of 2015, 2016" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


# -- identifiability screening on the targets ----------------------------------------------------


def test_sensitivity_on_the_targets_writes_identifiability_in_tolerances(tmp_path):
    from povsim.cli import main

    out = tmp_path / "ident"
    args = ["sensitivity", "--method", "morris", "--outcomes", "targets", "--n", "2", "--scale", "8000"]
    args += ["--vary", "programs.floor.take_up,economy.growth.local_wage", "--workers", "2", "--out", str(out)]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(args) == 0
    assert "Identifiability" in buf.getvalue()
    assert '"end_year": 2017' in (out / "manifest.json").read_text()
    table = pd.read_csv(out / "identifiability.csv").set_index("parameter")
    indices = pd.read_csv(out / "indices.csv")
    sd = {t.outcome: t.sd for t in default_targets()}
    assert "poor_people_west_2017" in table.columns and "incidence_2016" not in table.columns
    for outcome in ("poor_people_2016", "counties_exited_2017", "reregistered_people_2016"):
        mu = indices[(indices.outcome == outcome) & (indices["index"] == "mu_star")].set_index("parameter")["value"]
        np.testing.assert_allclose(table.loc[mu.index, outcome], mu / sd[outcome])
    assert (table["max"] == table.drop(columns=["max", "targets_moved"]).max(axis=1)).all()
    assert table.loc["programs.floor.take_up", "max"] > 1  # the floor's take-up moves the headcounts


def test_sensitivity_on_the_targets_needs_2017(tmp_path, capsys):
    from povsim.cli import main

    code = main(
        [
            "sensitivity",
            "--method",
            "morris",
            "--outcomes",
            "targets",
            "--end-year",
            "2016",
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert code == 2 and "the targets outcomes need 2017–2025" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


# -- the east's higher 低保 standards (the mechanism of the regional split) -----------------------


def test_east_ratio_raises_the_easts_standards_and_keeps_the_national_average():
    base = PovertyModel(seed=2, scale=4000, end_year=2015, programs__floor__east_ratio=1.0)
    east = PovertyModel(seed=2, scale=4000, end_year=2015, programs__floor__east_ratio=2.0)
    geo, rural = base.geography, base.governance.rural_people
    f0, f1 = base.programme("floor").county_factor, east.programme("floor").county_factor
    # the national average over rural people is the MCA's in both
    assert (f0 * rural).sum() / rural.sum() == pytest.approx(1.0)
    assert (f1 * rural).sum() / rural.sum() == pytest.approx(1.0)
    is_east = geo.county_region == 0
    ratio = f1 / f0
    # every eastern county's standard rises by the same factor against the others', which fall alike
    assert np.allclose(ratio[is_east] / ratio[~is_east].mean(), 2.0)
    assert np.allclose(ratio[~is_east], ratio[~is_east][0]) and ratio[~is_east][0] < 1


def test_higher_eastern_standards_lower_the_easts_share_of_the_poor():
    """The mechanism, end to end: the same seed with the east's standards at 2× the others' leaves
    the east a smaller share of the 2017 poor, recomputed from the household table."""

    def east_share(ratio: float) -> float:
        m = PovertyModel(seed=3, scale=4000, end_year=2017, programs__floor__east_ratio=ratio)
        m.run_model()
        hh = m.households
        region = m.geography.county_region[hh.county]
        poor = hh.poor * hh.people_weight
        return float(poor[region == 0].sum() / poor.sum())

    assert east_share(2.0) < east_share(1.0) - 0.01


# -- re-checking a written calibration -------------------------------------------------------------


def test_calibrate_check_reruns_the_calibration_against_every_target(tmp_path):
    from povsim.calibration.evaluate import Evaluator
    from povsim.cli import main
    from povsim.experiments.spec import rep_seed
    from povsim.model import resolve_scenario
    from povsim.parameters import calibrated_path

    before = calibrated_path().read_bytes()
    out = tmp_path / "check"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["calibrate", "--check", "--scale", "8000", "--workers", "2", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"fit.csv", "fit.png", "posterior.csv", "calibration.json"}
    assert calibrated_path().read_bytes() == before  # nothing is refitted or rewritten
    report = pd.read_csv(out / "fit.csv").set_index("target")
    assert set(report.index) == {t.outcome for t in default_targets()}
    # the check runs are the baseline's ten batch seeds under the committed calibration
    sc = resolve_scenario(None)
    with Evaluator(sc, [rep_seed(sc.run.seed, r) for r in range(10)], end_year=2017, scale=8000, workers=2) as ev:
        runs = ev.evaluate([{}])
    for outcome in ("poor_people_2016", "poor_people_west_2017", "counties_exited_2017"):
        assert report.loc[outcome, "calibrated_mean"] == pytest.approx(runs[outcome].mean())
    assert '"mode": "check"' in (out / "calibration.json").read_text()
    from povsim.costs import check_cost

    # the run count its help quotes is the one it makes
    assert json.loads((out / "calibration.json").read_text())["runs"] == check_cost().runs


def test_calibrate_check_needs_a_file_to_check(tmp_path, capsys):
    from povsim.cli import main

    code = main(["calibrate", "--check", "--params-file", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")])
    assert code == 2 and "no such file to check" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
