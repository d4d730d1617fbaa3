"""Scenario files: loading, extends, and errors that name the file and the key path."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from conftest import BASELINE, WEAK_GROWTH
from povsim import PovertyModel, load_scenario
from povsim.errors import PovsimInputError
from povsim.parameters import ParameterSet


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_baseline_loads_with_defaults():
    sc = load_scenario(BASELINE)
    assert sc.name == "baseline"
    assert sc.run.end_year == 2020
    assert (sc.run.scale, sc.run.poor_area_scale) == (5000, 500)
    assert sc.run.seed == 20141231
    assert sc.overrides == {}
    assert sc.params.values() == ParameterSet.defaults().values()


def test_weak_growth_extends_baseline():
    sc = load_scenario(WEAK_GROWTH)
    defaults = ParameterSet.defaults()
    assert sc.name == "weak_growth"
    assert sc.params["economy.growth.farm"] == pytest.approx(0.03)
    assert sc.params["economy.growth.local_wage"] == pytest.approx(0.06)
    assert sc.params["economy.growth.migrant_wage"] == pytest.approx(0.048)
    # untouched parameters keep their defaults, run settings come from the baseline
    assert sc.params["economy.growth.business"] == defaults["economy.growth.business"]
    assert sc.run == load_scenario(BASELINE).run
    assert set(sc.overrides) == {"economy.growth.farm", "economy.growth.local_wage", "economy.growth.migrant_wage"}


def test_weak_growth_gives_more_poverty_than_baseline():
    base = PovertyModel(BASELINE, seed=3, scale=2000)
    weak = PovertyModel(WEAK_GROWTH, seed=3, scale=2000)
    base.run_model()
    weak.run_model()
    assert weak.national("poor_people") > base.national("poor_people")


def test_override_in_extending_file_wins(tmp_path):
    parent = write(
        tmp_path,
        "parent.toml",
        """
        name = "parent"
        description = "parent description"
        [run]
        seed = 5
        end_year = 2018
        [params]
        "economy.growth.farm" = 0.01
        "economy.growth.business" = 0.02
        """,
    )
    child = write(
        tmp_path,
        "child.toml",
        """
        extends = "parent.toml"
        [run]
        end_year = 2019
        [params.economy.growth]
        farm = 0.04
        [params.population.causes]
        illness = { east = 0.6 }
        """,
    )
    sc = load_scenario(child)
    assert sc.name == "child"
    assert sc.description == "parent description"
    assert sc.params["economy.growth.farm"] == pytest.approx(0.04)
    assert sc.params["economy.growth.business"] == pytest.approx(0.02)
    assert sc.run.seed == 5
    assert sc.run.end_year == 2019
    # a table gives only the keys it sets
    assert sc.params["population.causes.illness"] == {"east": 0.6, "central": 0.516, "west": 0.289}
    assert load_scenario(parent).params["economy.growth.farm"] == pytest.approx(0.01)


def test_extends_with_absolute_path_to_baseline(tmp_path):
    path = write(
        tmp_path,
        "abs.toml",
        f"""
        extends = "{BASELINE.as_posix()}"
        [params]
        "registry.exit.verification_prob" = 0.5
        """,
    )
    sc = load_scenario(path)
    assert sc.params["registry.exit.verification_prob"] == 0.5
    assert sc.run.seed == 20141231


def assert_input_error(path: Path, *fragments: str) -> str:
    with pytest.raises(PovsimInputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message.strip(), "errors are one line"
    return message


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "bad_top.toml", 'nmae = "x"\n')
    msg = assert_input_error(path, "nmae")
    assert "name" in msg.replace("nmae", "")


def test_unknown_param_key_suggests_nearest(tmp_path):
    path = write(tmp_path, "typo.toml", '[params]\n"economy.growth.fram" = 0.04\n')
    assert_input_error(path, "economy.growth.fram", "did you mean 'economy.growth.farm'")


def test_unknown_param_key_in_nested_table(tmp_path):
    path = write(tmp_path, "typo_nested.toml", "[params.economy.growth]\nfram = 0.04\n")
    assert_input_error(path, "economy.growth.fram", "did you mean 'economy.growth.farm'")


def test_unknown_region_key_in_table(tmp_path):
    path = write(tmp_path, "region_typo.toml", "[params.population.causes]\nillness = { eats = 0.5 }\n")
    assert_input_error(path, "population.causes.illness", "eats")


def test_wrong_type(tmp_path):
    path = write(tmp_path, "wrong_type.toml", '[params]\n"economy.growth.farm" = "fast"\n')
    assert_input_error(path, "economy.growth.farm", "expected a number")


def test_boolean_is_not_a_number(tmp_path):
    path = write(tmp_path, "bool.toml", '[params]\n"economy.growth.farm" = true\n')
    assert_input_error(path, "economy.growth.farm")


def test_out_of_bounds(tmp_path):
    path = write(tmp_path, "bounds.toml", "[params]\nregistry.exit.verification_prob = 1.5\n")
    assert_input_error(path, "registry.exit.verification_prob", "1.5")


def test_shares_must_sum_to_one(tmp_path):
    path = write(tmp_path, "shares.toml", "[params]\npopulation.registry_2014.region_share = {east = 0.5}\n")
    assert_input_error(path, "population.registry_2014.region_share", "sum")


def test_shares_summing_to_one_accepted(tmp_path):
    path = write(
        tmp_path,
        "shares_ok.toml",
        "[params]\npopulation.registry_2014.region_share = {east = 0.2, central = 0.3, west = 0.5}\n",
    )
    sc = load_scenario(path)
    assert sc.params.region("population.registry_2014.region_share").tolist() == [0.2, 0.3, 0.5]


def test_cycle_in_extends(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    b = write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    msg = assert_input_error(b, "cycle")
    assert "a.toml" in msg


def test_self_extends_is_a_cycle(tmp_path):
    path = write(tmp_path, "self.toml", 'extends = "self.toml"\n')
    assert_input_error(path, "cycle")


def test_missing_file(tmp_path):
    assert_input_error(tmp_path / "does_not_exist.toml")


def test_missing_extends_target(tmp_path):
    path = write(tmp_path, "orphan.toml", 'extends = "nowhere.toml"\n')
    with pytest.raises(PovsimInputError, match=r"nowhere\.toml"):
        load_scenario(path)


def test_a_what_if_outside_scenarios_extends_the_shipped_baseline(tmp_path, monkeypatch):
    """As the README shows: a file written anywhere with ``extends = "baseline.toml"`` finds the
    shipped baseline in ``scenarios/`` when no baseline.toml sits beside it."""
    monkeypatch.chdir(BASELINE.resolve().parent.parent)
    path = write(tmp_path, "mine.toml", 'name = "mine"\nextends = "baseline.toml"\n[run]\nend_year = 2016\n')
    sc, base = load_scenario(path), load_scenario(BASELINE)
    assert sc.name == "mine" and sc.run.end_year == 2016 and sc.run.seed == base.run.seed
    assert sc.params.values() == base.params.values()
    # a file beside it comes first
    write(tmp_path, "baseline.toml", "[run]\nseed = 7\n")
    assert load_scenario(path).run.seed == 7
    # and when neither place has it, both are named
    orphan = write(tmp_path, "orphan.toml", 'extends = "nowhere.toml"\n')
    with pytest.raises(PovsimInputError, match=r"no such scenario file \(.*nowhere\.toml or scenarios/nowhere\.toml\)"):
        load_scenario(orphan)


def test_malformed_toml(tmp_path):
    path = write(tmp_path, "broken.toml", "[run\nseed = 1\n")
    assert_input_error(path, "TOML")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[run]\nend_year = 2030\n", "run.end_year"),
        ("[run]\nend_year = 2014\n", "run.end_year"),
        ("[run]\nscale = 0\n", "run.scale"),
        ("[run]\nscale = -5\n", "run.scale"),
        ("[run]\nseed = -1\n", "run.seed"),
        ('[run]\nseed = "abc"\n', "run.seed"),
        ("[run]\nsede = 1\n", "run.sede"),
    ],
)
def test_bad_run_settings(tmp_path, text, key):
    path = write(tmp_path, "run.toml", text)
    assert_input_error(path, key)


def test_error_is_a_value_error_subclass(tmp_path):
    """Callers catching ValueError also catch povsim's input errors."""
    with pytest.raises(ValueError):
        load_scenario(tmp_path / "none.toml")


def test_scenario_overrides_reach_the_model(tmp_path):
    path = write(tmp_path, "noexit.toml", '[params]\n"registry.exit.verification_prob" = 0.0\n[run]\nend_year = 2016\n')
    model = PovertyModel(path, seed=1, scale=20000)
    model.run_model()
    assert model.year == 2016
    df = model.results()
    assert (df[df["measure"] == "exits_people"]["value"] == 0).all()


def test_error_messages_name_the_key_path_not_just_the_leaf(tmp_path):
    path = write(tmp_path, "leaf.toml", "[params.registry.exit]\nverification_prob = -0.1\n")
    msg = assert_input_error(path)
    assert re.search(r"registry\.exit\.verification_prob", msg)
