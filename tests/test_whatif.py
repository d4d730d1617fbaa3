"""What-ifs that explain themselves: ``povsim run WHATIF --against BASELINE``, what limited each
channel, and dated reforms (``KEY@YEAR``) in scenario files written anywhere."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import BASELINE, REPO, SCENARIOS
from povsim.cli import main
from povsim.errors import PovsimInputError
from povsim.parameters import LAST_YEAR, ParameterSet
from povsim.scenario import load_scenario

KEY = ["year", "region", "measure", "channel"]
END = "2018"


@pytest.fixture(scope="module")
def against(tmp_path_factory):
    """``no_relocation --against baseline`` and the two scenarios run on their own, same seed."""
    root = tmp_path_factory.mktemp("against")
    common = ["--end-year", END, "--seed", "7", "-q"]
    pair = root / "pair"
    assert (
        main(["run", str(SCENARIOS / "no_relocation.toml"), "--against", str(BASELINE), *common, "--out", str(pair)])
        == 0
    )
    assert main(["run", str(SCENARIOS / "no_relocation.toml"), *common, "--out", str(root / "whatif")]) == 0
    assert main(["run", str(BASELINE), *common, "--out", str(root / "base")]) == 0
    return root


def test_the_paired_difference_is_the_difference_of_the_two_runs(against):
    diff = pd.read_csv(against / "pair" / "difference.csv")
    whatif = pd.read_csv(against / "whatif" / "results.csv").set_index(KEY)["value"]
    base = pd.read_csv(against / "base" / "results.csv").set_index(KEY)["value"]
    diff = diff.set_index(KEY)
    both = whatif.index.intersection(base.index)
    assert len(both) > 1000
    np.testing.assert_allclose(diff.loc[both, "whatif"], whatif[both], rtol=0, atol=1e-6)
    np.testing.assert_allclose(diff.loc[both, "baseline"], base[both], rtol=0, atol=1e-6)
    np.testing.assert_allclose(diff.loc[both, "difference"], (whatif - base)[both], rtol=0, atol=1e-6)
    # every row of either run is there once
    assert set(diff.index) == set(whatif.index) | set(base.index)
    assert not diff.index.duplicated().any()
    # the pair's own results are the what-if run's, its baseline_results the baseline's
    pd.testing.assert_frame_equal(
        pd.read_csv(against / "pair" / "results.csv"), pd.read_csv(against / "whatif" / "results.csv")
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(against / "pair" / "baseline_results.csv"), pd.read_csv(against / "base" / "results.csv")
    )


def test_no_relocation_differs_from_the_baseline_only_from_the_first_relocation_year(against):
    diff = pd.read_csv(against / "pair" / "difference.csv")
    nat = diff[(diff["region"] == "national") & (diff["channel"] == "all")]
    poor = nat[nat["measure"] == "poor_people"].set_index("year")["difference"]
    assert (poor.loc[:2015] == 0).all(), "common random numbers: nothing differs before relocation starts (2016)"
    assert (poor.loc[2016:] != 0).any()
    spend = diff[(diff["region"] == "national") & (diff["measure"] == "spending_yuan")]
    relocation = spend[spend["channel"] == "relocation"].set_index("year")
    assert (relocation.loc[2016:, "whatif"] == 0).all() and (relocation.loc[2016:, "baseline"] > 0).all()


def test_limits_csv_classifies_from_its_own_household_counts(against):
    table = pd.read_csv(against / "pair" / "limits.csv", keep_default_na=False)
    assert set(table["scenario"]) == {"no_relocation", "baseline"}
    limit = table["limit"]
    elig, cap, enr = (table[f"{m}_households"].astype(float) for m in ("eligible", "capacity", "enrolled"))
    assert (limit[elig <= 0] == "").all()
    assert ((enr < cap) == (limit == "budget")).all()
    assert ((limit == "capacity") == ((cap < elig) & (enr >= cap))).all()
    assert ((limit == "eligibility") == ((elig > 0) & (cap >= elig) & (enr >= cap))).all()
    assert {"budget", "capacity", "eligibility"} <= set(limit)
    # the relocation channel of no_relocation has nobody eligible; the baseline's is limited every plan year
    nat = table[(table["region"] == "national") & (table["channel"] == "relocation") & (table["year"] >= 2016)]
    assert (nat.loc[nat["scenario"] == "no_relocation", "limit"] == "").all()
    assert (nat.loc[nat["scenario"] == "baseline", "limit"] != "").all()
    # results.csv carries the same classification as limited_by_* rows (1 for the limit that bound)
    results = pd.read_csv(against / "base" / "results.csv")
    flags = results[results["measure"].str.startswith("limited_by_")]
    flags = (
        flags[flags["value"] == 1].set_index(["year", "region", "channel"])["measure"].str.removeprefix("limited_by_")
    )
    base = table[(table["scenario"] == "baseline") & (table["limit"] != "")].set_index(["year", "region", "channel"])
    assert flags.sort_index().equals(base["limit"].sort_index().rename("measure"))
    assert (
        results[results["measure"].str.startswith("limited_by_")].groupby(["year", "region", "channel"])["value"].sum()
        == 1
    ).all()


def test_against_prints_the_difference_and_what_limited_each_channel(tmp_path, capsys):
    code = main(
        ["run", str(SCENARIOS / "no_relocation.toml"), "--against", "--end-year", END, "--out", str(tmp_path / "x")]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Paired difference, no_relocation − baseline" in out
    assert "By channel" in out and "What limited each channel's new enrolments in no_relocation" in out
    # relocation: nothing eligible in the what-if, the baseline limited by budget or capacity
    row = next(line for line in out.splitlines() if line.startswith("relocation") and "←" in line)
    assert "— ← budget" in row or "— ← capacity" in row
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert manifest["against"]["scenario"] == "baseline"
    assert manifest["against"]["scenario_file"] == "scenarios/baseline.toml"
    for name in ("difference.csv", "limits.csv", "baseline_results.csv", "difference.png"):
        assert (tmp_path / "x" / name).stat().st_size > 0
    # the baseline was run with the what-if's settings: its first year's poor equal the what-if's
    diff = pd.read_csv(tmp_path / "x" / "difference.csv")
    first = diff[(diff["year"] == 2014) & (diff["measure"] == "poor_people") & (diff["channel"] == "all")]
    assert (first["difference"] == 0).all()


def test_a_what_if_written_anywhere_extends_baseline_by_name_with_a_dated_reform(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # the shipped scenarios are found in scenarios/ of the working directory
    path = tmp_path / "more_floor.toml"
    path.write_text(
        textwrap.dedent(
            """
            name = "more_floor"
            extends = "baseline"
            [params]
            "programs.floor.standard@2018" = 6000
            """
        )
    )
    sc = load_scenario(path)
    base = load_scenario(BASELINE)
    assert sc.run == base.run
    standard = sc.params["programs.floor.standard"]
    before = base.params["programs.floor.standard"]
    assert {k: v for k, v in standard.items() if int(k) < 2018} == before
    assert [standard[str(y)] for y in range(2018, LAST_YEAR + 1)] == [6000] * (LAST_YEAR - 2017)
    out = tmp_path / "run"
    assert main(["run", str(path), "--against", "--end-year", "2019", "--out", str(out), "-q"]) == 0
    diff = pd.read_csv(out / "difference.csv")
    # rows of 2017 and before are those years' — except the sustained exits of the 2015–2017 cohorts,
    # reported under the cohort's year, whose three years of possible relapse reach into the reform
    cohort = diff["measure"].str.contains("sustained")
    before = diff[(diff["year"] <= 2017) & ~cohort]
    assert len(before) > 1000
    assert (before["difference"].fillna(0) == 0).all(), "the reform starts in 2018"
    assert (diff.loc[(diff["year"] == 2016) & cohort, "difference"].fillna(0) != 0).any()
    floor = diff[(diff["measure"] == "spending_yuan") & (diff["channel"] == "floor") & (diff["region"] == "national")]
    assert (floor.set_index("year").loc[2018:, "difference"] > 0).all(), "a higher floor costs more from 2018 on"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["overrides"] == {"programs.floor.standard@2018": 6000}
    assert manifest["parameters"]["programs.floor.standard"]["2019"] == 6000


def test_dated_overrides_later_years_win_and_earlier_keep(tmp_path):
    params = ParameterSet.defaults()
    key = "budget.central_special_funds"
    out = params.with_overrides({f"{key}@2019": 2e11, f"{key}@2018": 1e11}, "test")
    series = out[key]
    assert series["2017"] == params[key]["2017"]
    assert series["2018"] == 1e11
    assert all(series[str(y)] == 2e11 for y in range(2019, LAST_YEAR + 1))
    # undated and dated together: the dated applies on top of the undated table
    both = params.with_overrides({f"{key}.2017": 5e10, f"{key}@2018": 1e11}, "test")[key]
    assert both["2017"] == 5e10 and both["2018"] == 1e11
    # a dated override in a batch --set and in a sweep column keeps its value
    from povsim.experiments.spec import _resolved_value

    sc = load_scenario(BASELINE).with_overrides({f"{key}@2018": 1e11})
    assert _resolved_value(sc, f"{key}@2018") == 1e11


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ({"budget.scale@2018": 1.5}, ["budget.scale@2018", "not a series by year", "programs.floor.standard"]),
        ({"programs.floor.standard@2013": 5000}, ["@2013", "from 2014 to 2025"]),
        ({"programs.floor.standard@next": 5000}, ["'next'"]),
        ({"programs.floor.standard@2018": "high"}, ["expected an integer", "'high'"]),
        ({"programs.floor.standard@2018": {"a": 1}}, ["one value for every year from 2018"]),
        ({"programs.floor.standrd@2018": 5000}, ["did you mean 'programs.floor.standard'"]),
        ({"budget.central_special_funds@2018": -1.0}, ["outside the allowed range"]),
    ],
)
def test_bad_dated_overrides_name_the_key(override, fragments):
    with pytest.raises(PovsimInputError) as info:
        ParameterSet.defaults().with_overrides(override, "file.toml")
    message = str(info.value)
    assert message.startswith("file.toml: ")
    for fragment in fragments:
        assert fragment in message, message


def test_a_bad_dated_override_in_a_file_or_on_the_command_line_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('extends = "baseline"\n[params.budget]\n"scale@2018" = 2.0\n')
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.toml" in err and "budget.scale@2018" in err
    assert not out.exists()
    assert main(["run", "--set", "programs.floor.standard@1999=1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--set" in err and "@1999" in err and not out.exists()
    assert main(["run", "--against", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    assert "missing.toml" in capsys.readouterr().err and not out.exists()
