"""Calibration, forecast and sensitivity (issue 6): targets, method, outputs and bad input."""

from __future__ import annotations

import contextlib
import io
import json
import tomllib

import numpy as np
import pandas as pd
import pytest

from conftest import BASELINE
from povsim.calibration.evaluate import Evaluator, outcomes
from povsim.calibration.fit import FITTED_PARAMETERS, Settings, calibrate, write_calibration
from povsim.calibration.forecast import naive_trends
from povsim.calibration.report import fit_figure
from povsim.calibration.space import LEVERS, Space, uncertain_paths
from povsim.calibration.targets import default_targets
from povsim.cli import main
from povsim.errors import PovsimInputError
from povsim.experiments.spec import rep_seed
from povsim.model import PovertyModel, resolve_scenario
from povsim.observed import (
    COUNTIES_EXITED,
    FORECAST_ORIGIN,
    REGIONAL_POOR_PEOPLE,
    REGISTERED_POOR_PEOPLE,
    RELOCATED_PEOPLE,
    REREGISTERED_PEOPLE,
    SURVEY_INCIDENCE,
    SURVEY_POOR_PEOPLE,
)
from povsim.parameters import ParameterSet, apply_calibration, calibrated_path, read_calibrated

COARSE = 4000.0


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


# -- calibration protocol: nothing after 2017 --------------------------------------------


def test_no_observation_after_the_forecast_origin():
    series_all = (
        SURVEY_POOR_PEOPLE,
        SURVEY_INCIDENCE,
        REGISTERED_POOR_PEOPLE,
        COUNTIES_EXITED,
        REGIONAL_POOR_PEOPLE,
        RELOCATED_PEOPLE,
        REREGISTERED_PEOPLE,
    )
    for series in series_all:
        assert max(series) <= FORECAST_ORIGIN == 2017
    targets = default_targets()
    assert targets and all(t.year <= 2017 for t in targets)
    fitted = {t.outcome for t in targets if t.fitted}
    assert fitted == {
        "poor_people_2015",
        "poor_people_2016",
        "poor_people_2017",
        *(f"poor_people_{region}_{year}" for region in ("east", "central", "west") for year in (2016, 2017)),
        "registered_poor_people_2015",
        "reregistered_people_2016",
        "counties_exited_2016",
        "counties_exited_2017",
    }


def test_committed_calibration_names_only_pre_2018_targets():
    data = read_calibrated()
    assert data, "the package ships calibrated values (run povsim calibrate)"
    years = [int(y) for y in __import__("re").findall(r"\b(20\d\d)\b", data["meta"]["targets"])]
    assert years and max(years) <= 2017
    for path, item in data["parameters"].items():
        p = ParameterSet.priors().parameter(path)
        lo, hi = p.range
        assert lo <= item["value"] <= hi, path
        assert all(lo <= x <= hi for x in item["ensemble"]), path
        assert item["prior"] == p.value


# -- acceptance: the calibrated baseline reproduces 2015–2017 -------------------------------


@pytest.fixture(scope="module")
def baseline_ten_seeds():
    """The baseline to 2017 with the ten seeds of ``povsim batch --reps 10``."""
    sc = resolve_scenario(BASELINE)
    seeds = [rep_seed(sc.run.seed, r) for r in range(10)]
    with Evaluator(sc, seeds, end_year=2017, workers=2) as ev:
        return ev.evaluate([{}])


@pytest.mark.parametrize("year", [2015, 2016, 2017])
def test_calibrated_baseline_matches_survey_within_5_percent(baseline_ten_seeds, year):
    mean = baseline_ten_seeds[f"poor_people_{year}"].mean()
    assert abs(mean / SURVEY_POOR_PEOPLE[year] - 1) <= 0.05


def test_calibrated_baseline_matches_2015_registry_within_5_percent(baseline_ten_seeds):
    mean = baseline_ten_seeds["registered_poor_people_2015"].mean()
    assert abs(mean / REGISTERED_POOR_PEOPLE[2015] - 1) <= 0.05


def test_calibrated_baseline_county_exits_within_tolerance(baseline_ten_seeds):
    """At the baseline's sampling design, on the ten check seeds (docs/calibration.md, Sampling design)."""
    target = next(t for t in default_targets() if t.outcome == "counties_exited_2016")
    mean = baseline_ten_seeds["counties_exited_2016"].mean()
    assert abs(mean - target.observed) <= 2 * target.sd


ISSUE_16_ACCEPTANCE = {
    **{
        f"poor_people_{region}_{year}": ("relative", REGIONAL_POOR_PEOPLE[year][region], 0.10)
        for region in ("east", "central", "west")
        for year in (2016, 2017)
    },
    "reregistered_people_2016": ("factor", REREGISTERED_PEOPLE[2016], 2.0),
    "counties_exited_2017": ("relative", COUNTIES_EXITED[2017], 0.25),
    "relocated_people_2016": ("relative", RELOCATED_PEOPLE[2016], 0.10),
    "relocated_people_2017": ("relative", RELOCATED_PEOPLE[2017], 0.10),
}
"""The flow and regional acceptance of issue 16, stated here rather than read from the targets: every
regional survey headcount within 10%, re-registration (返贫) within a factor of two, counties exited
by end-2017 within 25% of 153, relocation within 10%."""


@pytest.mark.parametrize("outcome", sorted(ISSUE_16_ACCEPTANCE))
def test_calibrated_baseline_meets_the_flow_and_regional_acceptance(baseline_ten_seeds, outcome):
    kind, observed, amount = ISSUE_16_ACCEPTANCE[outcome]
    mean = baseline_ten_seeds[outcome].mean()
    if kind == "relative":
        assert abs(mean / observed - 1) <= amount, f"{outcome}: {mean:,.0f} against {observed:,.0f}"
    else:
        assert 1 / amount <= mean / observed <= amount, f"{outcome}: {mean:,.0f} against {observed:,.0f}"
    target = next(t for t in default_targets() if t.outcome == outcome)
    assert target.accepts(mean)  # the report's verdict agrees


def test_calibrated_values_are_what_runs_use():
    data = read_calibrated()["parameters"]
    params = ParameterSet.defaults()
    for path, item in data.items():
        assert params[path] == item["value"]
        assert params.parameter(path).source.startswith("calibrated by povsim calibrate")
        assert ParameterSet.priors()[path] == item["prior"]
    code, out, _ = _cli(["params", FITTED_PARAMETERS[0]])
    assert code == 0 and "calibrated by povsim calibrate" in out and "prior" in out


# -- building blocks -------------------------------------------------------------------


def test_space_maps_unit_cube_to_ranges_and_back():
    space = Space.from_paths(ParameterSet.priors(), ["economy.growth.farm", "governance.post_exit_support_years"])
    point = space.point([0.5, 0.26])
    assert point["economy.growth.farm"] == pytest.approx(0.04)
    assert point["governance.post_exit_support_years"] == 2 and isinstance(
        point["governance.post_exit_support_years"], int
    )
    assert space.position({"economy.growth.farm": 0.08, "governance.post_exit_support_years": 0}) == pytest.approx(
        [1, 0]
    )


def test_space_rejects_unknown_and_rangeless_parameters():
    with pytest.raises(PovsimInputError, match=r"unknown parameter 'economy\.nope'"):
        Space.from_paths(ParameterSet.priors(), ["economy.nope"])
    with pytest.raises(PovsimInputError, match=r"budget\.scale.*no calibration range"):
        Space.from_paths(ParameterSet.priors(), ["budget.scale"])
    assert Space.from_paths(ParameterSet.priors(), ["budget.scale"], extra=LEVERS).dims[0].hi == 1.5
    assert len(uncertain_paths(ParameterSet.priors())) >= 80


def test_outcomes_of_one_run():
    model = PovertyModel(BASELINE, scale=COARSE, seed=5)
    while model.running:
        model.step()
    out = outcomes(model.results())
    for year in range(2014, 2021):
        assert out[f"poor_people_{year}"] == pytest.approx(
            sum(out[f"poor_people_{r}_{year}"] for r in ("east", "central", "west"))
        )
    assert out["relapse_people_2016_2020"] > 0
    assert out["cost_per_sustained_exit_yuan"] > 0


def test_evaluator_uses_common_random_numbers_and_parallel_equals_serial():
    sc = resolve_scenario(BASELINE)
    points = [{}, {"economy.growth.local_wage": 0.11}]
    with Evaluator(sc, [3, 4], end_year=2016, scale=COARSE, workers=1) as serial:
        a = serial.evaluate(points)
    with Evaluator(sc, [3, 4], end_year=2016, scale=COARSE, workers=2) as parallel:
        b = parallel.evaluate(points)
    pd.testing.assert_frame_equal(a, b)
    # faster local wage growth lowers 2016 poverty on the same seeds
    by_point = a.groupby("point")["poor_people_2016"].mean()
    assert by_point[1] < by_point[0]


def test_naive_trends_fit_the_calibration_window():
    naive = naive_trends(range(2014, 2021))
    years = np.arange(2014, 2018)
    y = np.array([SURVEY_POOR_PEOPLE[t] for t in years])
    slope = np.polyfit(years, y, 1)[0]
    assert naive.loc[2019, "naive_linear"] - naive.loc[2018, "naive_linear"] == pytest.approx(slope)
    ratio = naive.loc[2020, "naive_loglinear"] / naive.loc[2019, "naive_loglinear"]
    assert ratio == pytest.approx(np.exp(np.polyfit(years, np.log(y), 1)[0]))
    assert (naive["naive_linear"] >= 0).all()


# -- calibrate end to end --------------------------------------------------------------


def test_calibrate_moves_toward_targets_and_writes_everything(tmp_path):
    tiny = Settings("test", seeds=1, lhs=0, max_nfev=3, draws=4)
    sc = resolve_scenario(BASELINE)
    cal = calibrate(
        sc,
        settings=tiny,
        paths=["governance.recheck.income_ratio", "economy.growth.local_wage"],
        scale=2000.0,
        workers=2,
    )
    assert cal.loss < cal.prior_loss
    params_file = tmp_path / "calibrated.toml"
    written = write_calibration(cal, tmp_path / "report", params_file, "test")
    assert {p.name for p in (tmp_path / "report").iterdir()} == {
        "fit.csv",
        "fit.png",
        "evaluations.csv",
        "posterior.csv",
        "calibration.json",
    }
    assert written["figure"].read_bytes().startswith(b"\x89PNG")
    data = tomllib.loads(params_file.read_text())
    assert set(data["parameters"]) == {"governance.recheck.income_ratio", "economy.growth.local_wage"}
    assert len(data["parameters"]["economy.growth.local_wage"]["ensemble"]) == 4
    applied = apply_calibration(ParameterSet.priors()._parameters, data, "test")
    assert applied["economy.growth.local_wage"].value == data["parameters"]["economy.growth.local_wage"]["value"]
    report = pd.read_csv(tmp_path / "report" / "fit.csv")
    assert set(report["target"]) == {t.outcome for t in default_targets()}
    # the committed package file is untouched by a calibration written elsewhere
    assert read_calibrated(calibrated_path()) == read_calibrated()
    # a skewed spread of county exits over seeds can leave the mean outside its 5-95% range
    # (most seeds at zero, a few high); the report is still drawn
    row = cal.report["target"] == "counties_exited_2016"
    cal.report.loc[row, "calibrated_mean"] = cal.report.loc[row, "seeds_p95"] + 5.0
    assert fit_figure(cal).startswith(b"\x89PNG")


def test_calibrate_cli_quick(tmp_path):
    code, _, err = _cli(
        ["calibrate", "--quick", "--out", str(tmp_path / "cal"), "--params-file", str(tmp_path / "cal.toml"), "-q"]
    )
    assert code == 0, err
    report = pd.read_csv(tmp_path / "cal" / "fit.csv")
    people = report[report["fitted"] & report["target"].str.contains("people")]
    assert len(people) == 11  # survey 2015–2017, by region 2016–2017, registry 2015, re-registration 2016
    national = people[people["target"].str.fullmatch(r"(registered_)?poor_people_\d{4}")]
    assert len(national) == 4
    # a smoke test of the fit, five least-squares steps from the documented values on two seeds: it must
    # bring every fitted headcount most of the way (the documented values are 15–45% off; the quick fit
    # of 2026-12-02 left the 2017 survey at −5.3%, the full fit meets every 5% and 10% acceptance)
    assert (national["calibrated_rel_error"].abs() <= national["prior_rel_error"].abs() / 4).all()
    assert (national["calibrated_rel_error"].abs() <= 0.10).all()
    # the regional headcounts too (documented values 20–48% off; on 2026-12-02, numpy 2.4, the quick fit
    # left the west 2017 at −10.04%, just outside the full fit's 10%, which the committed calibration meets:
    # test_calibrated_baseline_meets_the_flow_and_regional_acceptance), and re-registration within 2×
    regional = people[people["target"].str.fullmatch(r"poor_people_(east|central|west)_\d{4}")]
    assert len(regional) == 6
    assert (regional["calibrated_rel_error"].abs() <= regional["prior_rel_error"].abs() / 3).all()
    assert (regional["calibrated_rel_error"].abs() <= 0.15).all()
    assert people.drop([*national.index, *regional.index])["met"].all()
    assert (report["met"] == [default_targets()[i].accepts(v) for i, v in enumerate(report["calibrated_mean"])]).all()
    manifest = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert manifest["accepted"] == report.loc[report["fitted"], "met"].all()
    assert set(manifest["missed_fitted"]) == set(report.loc[report["fitted"] & ~report["met"], "label"])
    assert manifest["loss"] < manifest["loss_at_documented_values"]
    assert tomllib.loads((tmp_path / "cal.toml").read_text())["meta"]["mode"] == "quick"
    from povsim.costs import COSTS

    # the run count --quick's help, the README and docs quote (povsim.costs) is the one it makes, to within
    # the least-squares path: the same code made 202 and 240 runs in two installs of the same versions of
    # numpy (2.4.6); a change to the fit that moves it further must re-measure the record
    recorded = COSTS["calibrate --quick"].runs
    assert 0.75 * recorded <= manifest["runs"] <= 1.25 * recorded, (manifest["runs"], recorded)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fit", "economy.nope"], "unknown parameter 'economy.nope'"),
        (["--fit", "budget.scale"], "no calibration range"),
        (["--workers", "0"], "--workers 0"),
    ],
)
def test_calibrate_bad_input_writes_nothing(tmp_path, args, message):
    code, _, err = _cli(
        ["calibrate", "--quick", "--out", str(tmp_path / "o"), "--params-file", str(tmp_path / "c.toml"), *args]
    )
    assert code == 2 and message in err
    assert not any(tmp_path.iterdir())


def test_malformed_calibration_file_is_named(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text('[parameters."economy.growth.farm"]\nvalue = "fast"\n')
    with pytest.raises(PovsimInputError, match=r"c\.toml: parameters\.economy\.growth\.farm: expected a number"):
        apply_calibration(ParameterSet.priors()._parameters, read_calibrated(bad), str(bad))
    bad.write_text('[parameters."economy.growth.nope"]\nvalue = 1.0\n')
    with pytest.raises(PovsimInputError, match="no such parameter"):
        apply_calibration(ParameterSet.priors()._parameters, read_calibrated(bad), str(bad))


# -- forecast and sensitivity ----------------------------------------------------------


def test_forecast_cli_prints_intervals_and_naive_trends(tmp_path):
    code, out, err = _cli(["forecast", "--reps", "4", "--scale", str(COARSE), "--out", str(tmp_path)])
    assert code == 0, err
    for year in (2018, 2019, 2020):
        assert any(line.startswith(f"{year}  national") for line in out.splitlines())
    assert "linear trend" in out and "log-linear trend" in out
    table = pd.read_csv(tmp_path / "forecast.csv")
    assert set(table["region"]) == {"national", "east", "central", "west"}
    assert (table["model_p05"] <= table["model_mean"] + 1e-6).all()
    assert (table["model_mean"] <= table["model_p95"] + 1e-6).all()
    assert table[(table.year > 2017)]["observed"].isna().all()
    assert (tmp_path / "forecast.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "decomposition.png").read_bytes().startswith(b"\x89PNG")
    assert "Why each year moves" in out and "share of runs meeting the 2020 target" in out
    decomposition = pd.read_csv(tmp_path / "decomposition.csv")
    assert set(decomposition["year"]) == set(range(2015, 2021))
    assert {"change", "fell_into_poverty_people", "escaped_poverty_people", "exits_people"} <= set(
        decomposition["component"]
    )


def test_forecast_rejects_one_rep(tmp_path):
    code, _, err = _cli(["forecast", "--reps", "1", "--out", str(tmp_path / "f")])
    assert code == 2 and "--reps 1" in err and not (tmp_path / "f").exists()


def test_sensitivity_morris_end_to_end(tmp_path):
    vary = "economy.growth.local_wage,governance.post_exit_support_years,budget.scale"
    code, _, err = _cli(
        [
            "sensitivity",
            "--method",
            "morris",
            "--n",
            "2",
            "--vary",
            vary,
            "--scale",
            str(COARSE),
            "--out",
            str(tmp_path),
            "-q",
        ]
    )
    assert code == 0, err
    indices = pd.read_csv(tmp_path / "indices.csv")
    assert set(indices["outcome"]) == {"poor_people_2020", "relapse_people_2016_2020", "cost_per_sustained_exit_yuan"}
    mu_star = indices[indices["index"] == "mu_star"]
    assert set(mu_star["parameter"]) == set(vary.split(","))
    assert np.isfinite(mu_star["value"]).all() and (mu_star["value"] >= 0).all()
    # funds move 2020 poverty: budget.scale's effect is not zero
    poor = mu_star[mu_star["outcome"] == "poor_people_2020"].set_index("parameter")["value"]
    assert poor["budget.scale"] > 0
    assert len(pd.read_csv(tmp_path / "samples.csv")) == 2 * (3 + 1)


def test_sensitivity_sobol_needs_power_of_two(tmp_path):
    code, _, err = _cli(
        ["sensitivity", "--method", "sobol", "--n", "3", "--vary", "levers", "--out", str(tmp_path / "s")]
    )
    assert code == 2 and "power of two" in err


def _die_once(flag: str):
    def run(scenario, overrides, seed, end_year, scale):
        import os

        try:
            os.remove(flag)  # only the one worker that removes the flag dies
        except FileNotFoundError:
            pass
        else:
            os._exit(1)  # a worker killed mid-run (as by the kernel's out-of-memory killer)
        return {"seed": float(seed), "x": float(overrides.get("economy.growth.farm", 0.0))}

    return run


def test_evaluator_survives_a_worker_dying(tmp_path, monkeypatch):
    import povsim.calibration.evaluate as evaluate

    flag = tmp_path / "die"
    flag.write_text("")
    monkeypatch.setattr(evaluate, "run_once", _die_once(str(flag)))
    points = [{"economy.growth.farm": v} for v in (0.01, 0.02, 0.03)]
    with Evaluator(resolve_scenario(BASELINE), [1, 2], end_year=2015, workers=2) as ev:
        df = ev.evaluate(points)
    assert not flag.exists()  # a worker did die
    assert len(df) == 6 and sorted(df["x"].unique()) == [0.01, 0.02, 0.03]
    assert (df.groupby("point")["seed"].apply(sorted).tolist()) == [[1.0, 2.0]] * 3


def test_sensitivity_space_sets():
    from povsim.calibration.sensitivity import sensitivity_space

    params = ParameterSet.defaults()
    assert sensitivity_space(params, "levers").paths == list(LEVERS)
    assert sensitivity_space(params, "fitted").paths == list(FITTED_PARAMETERS)
    everything = sensitivity_space(params, "all").paths
    assert set(uncertain_paths(params)) | set(LEVERS) == set(everything) and len(everything) == len(set(everything))
    assert sensitivity_space(params, "budget.scale, economy.growth.farm").paths == [
        "budget.scale",
        "economy.growth.farm",
    ]
    with pytest.raises(PovsimInputError, match="unknown parameter"):
        sensitivity_space(params, "nope")


def test_sensitivity_sobol_end_to_end(tmp_path):
    code, _, err = _cli(
        [
            "sensitivity",
            "--method",
            "sobol",
            "--n",
            "4",
            "--vary",
            "budget.scale,governance.post_exit_support_years",
            "--scale",
            "8000",
            "--out",
            str(tmp_path),
            "-q",
        ]
    )
    assert code == 0, err
    indices = pd.read_csv(tmp_path / "indices.csv")
    assert set(indices["index"]) == {"S1", "S1_conf", "ST", "ST_conf"}
    assert len(pd.read_csv(tmp_path / "samples.csv")) == 4 * (2 + 2)
    assert np.isfinite(indices["value"]).all()


def test_sensitivity_outcomes_follow_the_end_year(tmp_path):
    code, _, err = _cli(
        [
            "sensitivity",
            "--method",
            "morris",
            "--n",
            "2",
            "--vary",
            "budget.scale",
            "--end-year",
            "2021",
            "--scale",
            "8000",
            "--out",
            str(tmp_path),
            "-q",
        ]
    )
    assert code == 0, err
    assert set(pd.read_csv(tmp_path / "indices.csv")["outcome"]) == {
        "poor_people_2021",
        "relapse_people_2016_2021",
        "cost_per_sustained_exit_yuan",
    }


def test_integer_parameters_are_moved_by_whole_units():
    tiny = Settings("test", seeds=1, lhs=0, max_nfev=1, draws=2)
    cal = calibrate(
        resolve_scenario(BASELINE), settings=tiny, paths=["governance.post_exit_support_years"], scale=4000.0, workers=2
    )
    tried = cal.evaluations["governance.post_exit_support_years"]
    assert tried.nunique() >= 2  # the Jacobian's point differs from the start by at least one year


def test_forecast_keeps_a_scenarios_own_setting_of_a_calibrated_parameter():
    from povsim.calibration.forecast import run_forecast

    base = resolve_scenario(BASELINE)
    weak = base.with_overrides({"economy.growth.local_wage": 0.04})
    a = run_forecast(base, 2, scale=8000.0, workers=2).table
    b = run_forecast(weak, 2, scale=8000.0, workers=2).table
    year = (a["year"] == 2020) & (a["region"] == "national")
    assert b.loc[year, "model_mean"].item() > a.loc[year, "model_mean"].item()


def test_calibrate_rejects_a_folder_as_params_file_before_running(tmp_path):
    code, _, err = _cli(["calibrate", "--quick", "--out", str(tmp_path / "o"), "--params-file", str(tmp_path)])
    assert code == 2 and "is a folder" in err
    assert not (tmp_path / "o").exists()


def test_fit_also_starts_where_a_flat_target_is_met():
    """A count target that is zero over most of the space has no gradient there: the fit starts
    also from the hypercube point closest to meeting it, not only from the lowest-loss point."""
    from povsim.calibration.fit import Objective, hypercube_starts
    from povsim.calibration.targets import Target

    space = Space.from_paths(ParameterSet.priors(), ["governance.assessment_sigma", "economy.growth.local_wage"])

    class Fake:
        def mean(self, points):
            rows = []
            for p in points:
                low = p["governance.assessment_sigma"] < 0.1
                # the count is 28 only where the error is small; elsewhere zero (flat)
                rows.append({"count": 28.0 if low else 0.0, "level": 10.0 + 100 * p["governance.assessment_sigma"]})
            return pd.DataFrame(rows)

    targets = [
        Target("level", "level", 2016, 30.0, 1.0, "test"),
        Target("count", "count of exits", 2016, 28.0, 4.0, "test"),
    ]
    priors = ParameterSet.priors()
    obj = Objective(Fake(), space, targets, space.position({p: priors[p] for p in space.paths}))
    lhs = np.array([[0.05, 0.5], [0.5, 0.5], [0.6, 0.5]])  # sigma 0.0675, 0.225, 0.245
    obj.means(list(lhs))
    starts = hypercube_starts(obj, lhs)
    # the level target is missed too (32.5 against 30 ± 1), but the best point is also the closest to it
    assert set(starts) == {"best hypercube point", "hypercube point closest to count of exits"}
    assert np.array_equal(starts["best hypercube point"], lhs[1])  # level 32.5: closest to 30, count 0
    assert np.array_equal(starts["hypercube point closest to count of exits"], lhs[0])
    # judged at a fit that already meets the count, no start is added for it (and the level's
    # closest point is the best one)
    assert set(hypercube_starts(obj, lhs, missed_at=lhs[0])) == {"best hypercube point"}


def test_refine_needs_a_calibration_of_the_same_parameters(tmp_path):
    code, _, err = _cli(
        ["calibrate", "--refine", "--out", str(tmp_path / "o"), "--params-file", str(tmp_path / "none.toml"), "-q"]
    )
    assert code == 2 and "no calibrated value of" in err and "run a full calibration first" in err
    assert not any(tmp_path.iterdir())


def test_refine_starts_from_the_calibration_file(tmp_path):
    path, new = "governance.recheck.removal_prob", "governance.exit_pressure.max"
    previous = tmp_path / "previous.toml"
    previous.write_text(f'[parameters."{path}"]\nvalue = 0.85\n')
    tiny = Settings("refine", seeds=1, lhs=0, max_nfev=1, draws=2, refine=True)
    said = []
    cal = calibrate(
        resolve_scenario(BASELINE),
        settings=tiny,
        paths=[path, new],
        scale=COARSE,
        workers=2,
        params_file=previous,
        log=said.append,
    )
    first = cal.evaluations[cal.evaluations["stage"] == "least squares from previous calibration"].iloc[0]
    assert first[path] == pytest.approx(0.85)
    # a parameter the file does not hold (newly fitted) starts from its documented value
    assert first[new] == pytest.approx(ParameterSet.priors()[new])
    assert any(new in line and "documented" in line for line in said)
