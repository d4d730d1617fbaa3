"""The tidy results table, longer runs, Mesa batch runs and keyword overrides."""

from __future__ import annotations

import mesa
import pandas as pd
import pytest

from conftest import ALL_REGIONS, series
from povsim import PovertyModel, measures
from povsim.measures import BY_NAME, markdown_table
from povsim.model import FLOW_MEASURES, STOCK_MEASURES

REQUIRED_MEASURES = {
    "poor_people",
    "incidence",
    "registered_poor_people",
    "registered_poor_households",
    "exits_people",
    "entries_people",
    "relapse_people",
    "poverty_line",
}


def test_every_measure_written_is_registered_with_its_channel_rows(baseline_results):
    df = baseline_results
    assert set(df["measure"]) == set(BY_NAME)  # a run to 2020 writes every registered measure
    for name, rows in df.groupby("measure"):
        m = measures.measure(name)
        has_total = (rows["channel"] == "all").any()
        has_channels = (rows["channel"] != "all").any()
        assert has_total == m.total, name
        assert has_channels == (m.channels in ("each", "both")), name


def test_whole_counts_are_integers(baseline_results):
    df = baseline_results
    whole = df[df["measure"].map(lambda name: measures.measure(name).whole)]
    assert len(whole) > 1000 and (whole["value"] == whole["value"].round()).all()
    assert not (df[df["measure"] == "incidence"]["value"] == df[df["measure"] == "incidence"]["value"].round()).all()


def test_regions_sum_to_the_national_row_for_stocks_and_flows(baseline_results):
    df = baseline_results
    regional = df[df["measure"].map(lambda name: measures.measure(name).regional)]
    table = regional.pivot_table(index=["year", "measure", "channel"], columns="region", values="value")
    assert len(table) > 500
    sums = table["east"] + table["central"] + table["west"]
    assert (sums == table["national"]).all()
    ratios = df[df["measure"] == "incidence"].pivot_table(index="year", columns="region", values="value")
    assert not (ratios["east"] + ratios["central"] + ratios["west"] == ratios["national"]).any()


def test_readme_holds_the_results_registry():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme


def test_results_columns_and_codes(baseline_results):
    df = baseline_results
    assert list(df.columns) == ["year", "region", "measure", "channel", "value"]
    assert set(df["region"]) == set(ALL_REGIONS)
    assert "all" in set(df["channel"])
    assert sorted(df["year"].unique()) == list(range(2014, 2021))
    assert pd.api.types.is_integer_dtype(df["year"])
    assert pd.api.types.is_float_dtype(df["value"])
    assert df["value"].notna().all()
    assert not df.duplicated(["year", "region", "measure", "channel"]).any()
    # the headline measures are reported for the whole population (channel 'all')
    assert REQUIRED_MEASURES <= set(df[df["channel"] == "all"]["measure"])


def test_every_measure_for_every_region_and_year(baseline_results):
    df = baseline_results[baseline_results["channel"] == "all"]
    for measure in STOCK_MEASURES:
        rows = df[df["measure"] == measure]
        assert len(rows) == 7 * 4, measure
        assert set(rows["region"]) == set(ALL_REGIONS)
    for measure in FLOW_MEASURES:
        rows = df[df["measure"] == measure]
        assert len(rows) == 6 * 4, measure
        assert set(rows["region"]) == set(ALL_REGIONS)
    line = df[df["measure"] == "poverty_line"]
    assert set(line["region"]) == {"national"}
    assert len(line) == 7


def test_flows_absent_in_2014(baseline_results):
    df = baseline_results
    first = df[df["year"] == 2014]
    assert not set(FLOW_MEASURES) & set(first["measure"])  # in any channel
    for year in range(2015, 2021):
        assert set(FLOW_MEASURES) <= set(df[df["year"] == year]["measure"])


def test_poverty_line(baseline_results):
    line = series(baseline_results, "poverty_line")
    assert line[2014] == 2800
    assert line[2015] == 2855
    assert line[2016] == 2952
    assert (line.diff().loc[2017:] > 0).all()
    # uprated by about rural CPI (a few percent a year), not jumping
    assert (line.pct_change().loc[2017:] < 0.05).all()


def test_incidence_is_poor_people_over_rural_population(baseline_results, baseline_model):
    rural = baseline_model.params.region("population.rural_population")
    poor = series(baseline_results, "poor_people")
    inc = series(baseline_results, "incidence")
    pd.testing.assert_series_equal(inc, poor / rural.sum(), check_names=False)
    assert ((inc > 0) & (inc < 1)).all()


def test_poverty_falls_from_2014_to_2020(baseline_results):
    """Under the baseline (income growth, no programmes yet) fewer people are poor in 2020
    than in 2014, and the registry shrinks."""
    poor = series(baseline_results, "poor_people")
    reg = series(baseline_results, "registered_poor_people")
    assert poor[2020] < poor[2014]
    assert reg[2020] < reg[2014]


def test_end_year_2025_runs_to_2025(long_model):
    df = long_model.results()
    assert sorted(df["year"].unique()) == list(range(2014, 2026))
    assert long_model.year == 2025
    assert not long_model.running
    line = series(df, "poverty_line")
    assert (line.diff().loc[2017:] > 0).all()


def test_default_model_is_the_baseline_run():
    model = PovertyModel()
    assert (model.scale, model.poor_area_scale) == (5000, 500)
    assert model.end_year == 2020
    assert model.scenario.run.seed == 20141231
    assert model.year == 2014
    assert model.running


def test_model_stops_at_end_year_and_step_count():
    model = PovertyModel(seed=1, scale=20000, end_year=2016)
    model.run_model()
    assert model.year == 2016
    assert model.steps == 2
    assert set(model.results()["year"]) == {2014, 2015, 2016}


def test_datacollector_model_vars_follow_years():
    model = PovertyModel(seed=1, scale=20000, end_year=2017)
    model.run_model()
    mv = model.datacollector.get_model_vars_dataframe()
    # model reporters are collected after each simulated year; the results table has 2014 too
    assert list(mv["year"]) == [2015, 2016, 2017]
    res = series(model.results(), "poor_people")
    assert list(mv["poor_people"]) == list(res.loc[[2015, 2016, 2017]])


def test_batch_run_works():
    rows = mesa.batch_run(PovertyModel, {"scale": 20000, "seed": [1, 2], "end_year": 2016}, display_progress=False)
    assert rows
    assert {row["seed"] for row in rows} == {1, 2}
    for row in rows:
        assert row["poor_people"] > 0
        assert row["scale"] == 20000


def test_batch_run_reports_the_end_year():
    """A researcher sweeping with batch_run reads the last row as the end of the run: it
    should be the end year's values. (Mesa 3.3's batch_run takes the row at index
    ``model.steps - 1``; PovertyModel also collects the initial 2014 state, so the final
    year is dropped unless the model compensates.)"""
    rows = mesa.batch_run(PovertyModel, {"scale": 20000, "seed": [1], "end_year": 2016}, display_progress=False)
    assert max(row["year"] for row in rows) == 2016
    every_year = mesa.batch_run(
        PovertyModel, {"scale": 20000, "seed": [1], "end_year": 2016}, data_collection_period=1, display_progress=False
    )
    assert sorted(row["year"] for row in every_year) == [2015, 2016]


@pytest.mark.parametrize(
    "kwargs", [{"economy.growth.farm": 0.0}, {"economy__growth__farm": 0.0}], ids=["dotted", "dunder"]
)
def test_keyword_overrides_take_effect(kwargs):
    model = PovertyModel(seed=1, scale=20000, end_year=2016, **kwargs)
    assert model.params["economy.growth.farm"] == 0.0
    assert model.parameters()["economy.growth.farm"] == 0.0
    default = PovertyModel(seed=1, scale=20000, end_year=2016)
    assert default.params["economy.growth.farm"] == 0.05
    model.run_model()
    default.run_model()
    assert model.national("poor_people") != default.national("poor_people")


def test_keyword_override_of_a_table_key():
    model = PovertyModel(seed=1, scale=20000, **{"population.causes.illness.east": 0.7})
    assert model.params["population.causes.illness"]["east"] == 0.7
    assert model.params["population.causes.illness"]["west"] == 0.289


def test_bad_keyword_override_raises():
    from povsim.errors import PovsimInputError

    with pytest.raises(PovsimInputError, match=r"economy\.growth\.farm"):
        PovertyModel(seed=1, scale=20000, economy__growth__fram=0.0)
    with pytest.raises(PovsimInputError, match="outside the allowed range"):
        PovertyModel(seed=1, scale=20000, **{"registry.exit.verification_prob": 1.5})
    with pytest.raises(PovsimInputError):
        PovertyModel(seed=1, scale=0)
    with pytest.raises(PovsimInputError):
        PovertyModel(seed=1, scale=20000, end_year=2030)


def test_numpy_integers_accepted_as_run_settings_and_parameters():
    """Sweeps are often built with numpy (``np.arange`` seeds or years, values read from a
    design matrix); a numpy integer is a whole number and should be accepted like an int,
    as numpy floats already are."""
    import numpy as np

    model = PovertyModel(seed=np.int64(3), scale=20000, end_year=np.int64(2016))
    assert model.scenario.run.seed == 3
    assert model.end_year == 2016
    model = PovertyModel(seed=3, scale=20000, **{"registry.relapse.reregistration_from_year": np.int64(2016)})
    assert model.params["registry.relapse.reregistration_from_year"] == 2016


def test_numpy_float_override_accepted():
    import numpy as np

    model = PovertyModel(seed=3, scale=20000, economy__growth__farm=np.float64(0.01))
    assert model.params["economy.growth.farm"] == pytest.approx(0.01)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    from povsim.io import atomic_write

    target = tmp_path / "results.csv"
    target.write_text("old\n")

    def fail(fh):
        fh.write(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_text() == "old\n"  # the previous complete file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]  # no temporary left
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "new.csv", fail)
    assert not (tmp_path / "new.csv").exists()
