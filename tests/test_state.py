"""Declared household state (issue 20, item 1): each phase of the year writes only the columns it
owns or modifies and reads only those it declares; the declarations cover every column once."""

from __future__ import annotations

import numpy as np
import pytest

from povsim import PovertyModel
from povsim.cli import main
from povsim.households import COLUMNS
from povsim.phases import state_declarations
from povsim.programs import PROGRAMMES
from povsim.programs.health import Health
from povsim.state import UndeclaredState, owners

SCALE = 20_000.0


def small(end_year: int = 2016) -> PovertyModel:
    return PovertyModel(seed=5, scale=SCALE, end_year=end_year, check_state=True)


def test_checking_is_on_under_the_test_suite():
    assert PovertyModel(seed=5, scale=SCALE, end_year=2015).state.enabled


def test_every_column_has_exactly_one_owner():
    model = small()
    declared = owners(state_declarations())
    columns = set(model.households.columns())
    assert columns == set(COLUMNS) | set(model.households.states)
    assert {name for name, phases in declared.items() if len(phases) != 1} == set()
    assert set(declared) == columns


def test_declarations_name_only_real_columns_and_never_modify_what_they_own():
    columns = set(small().households.columns())
    declarations = state_declarations()
    assert len({d.phase for d in declarations}) == len(declarations)
    for d in declarations:
        assert set(d.uses) <= columns, d.phase
        assert not set(d.owns) & set(d.modifies), d.phase
        assert not set(d.reads) & d.writes, d.phase


def test_every_programme_declares_its_own_states():
    model = small()
    for cls in PROGRAMMES:
        mine = {name for name in model.households.states if name.startswith(cls.channel + ".")}
        assert mine <= set(cls.declaration.owns), cls.channel


def test_programme_states_are_columns_of_the_household_table():
    model = small()
    model.run_model()
    table = model.households.table()
    moved = model.programme("relocation").year_moved
    assert "relocation.year_moved" in table and (table["relocation.year_moved"].to_numpy() == moved).all()
    assert (moved > 0).any()
    assert {"registry.false_exit", "attribution.exit_channel", "guarantee.channel"} <= set(table.columns)


def test_an_undeclared_write_to_a_household_column_fails(monkeypatch):
    step = Health.step

    def writes_farm(self, model, budget, income=None):
        step(self, model, budget, income)
        farm = model.households.columns()["farm"]  # as a module holding the array would
        farm[:1] *= 1.0  # health owns no income level

    monkeypatch.setattr(Health, "step", writes_farm)
    model = small()
    with pytest.raises(ValueError, match="read-only"):
        model.step()


def test_a_declared_write_in_the_owner_phase_passes(monkeypatch):
    step = Health.step

    def writes_insured(self, model, budget, income=None):
        step(self, model, budget, income)
        model.households.insured[:1] = model.households.insured[:1]  # health modifies insured

    monkeypatch.setattr(Health, "step", writes_insured)
    small().step()


def test_an_undeclared_read_fails(monkeypatch):
    step = Health.step

    def reads_land(self, model, budget, income=None):
        step(self, model, budget, income)
        return model.households.land.sum()  # health reads no land

    monkeypatch.setattr(Health, "step", reads_land)
    with pytest.raises(UndeclaredState, match="'health' reads household column 'land'"):
        small().step()


def test_rebinding_a_column_another_phase_owns_fails(monkeypatch):
    step = Health.step

    def rebinds_poor(self, model, budget, income=None):
        step(self, model, budget, income)
        model.households.poor = np.zeros(model.households.n, bool)

    monkeypatch.setattr(Health, "step", rebinds_poor)
    with pytest.raises(UndeclaredState, match="replaces household column 'poor'"):
        small().step()


def test_a_programme_state_is_locked_for_the_others(monkeypatch):
    step = Health.step

    def moves(self, model, budget, income=None):
        step(self, model, budget, income)
        model.programme("relocation").year_moved[:1] = model.year

    monkeypatch.setattr(Health, "step", moves)
    with pytest.raises(ValueError, match="read-only"):
        small().step()


def test_nothing_is_locked_between_steps():
    model = small()
    model.step()
    assert all(array.flags.writeable for array in model.households.columns().values())
    model.households.farm[:1] = model.households.farm[:1]  # a notebook may edit the table between steps


def test_checking_changes_no_result():
    on = small(end_year=2018)
    on.run_model()
    off = PovertyModel(seed=5, scale=SCALE, end_year=2018, check_state=False)
    off.run_model()
    assert on.state.enabled and not off.state.enabled
    assert on.results().to_csv(index=False) == off.results().to_csv(index=False)


def test_the_provincial_check_reregisters_through_the_registry(monkeypatch):
    # the governance phase owns no registry column: its re-registrations go through Registry.reregister
    from povsim.governance import GOVERNANCE

    assert "status" not in GOVERNANCE.writes and "status" in GOVERNANCE.reads
    model = small(end_year=2019)
    found = []
    reregister = type(model.registry).reregister

    def noting(self, mask):
        found.append(int(mask.sum()))
        reregister(self, mask)

    monkeypatch.setattr(type(model.registry), "reregister", noting)
    model.run_model()
    assert found and sum(found) > 0


def test_params_states_prints_every_phase(capsys):
    assert main(["params", "--states"]) == 0
    out = capsys.readouterr().out
    for d in state_declarations():
        assert f"\n{d.phase}:" in "\n" + out
    assert "relocation.year_moved" in out and "modifies" in out


def test_params_states_filters_by_column(capsys):
    assert main(["params", "--states", "hazard_zone"]) == 0
    out = capsys.readouterr().out
    assert "relocation:" in out and "demography:" not in out
    assert main(["params", "--states", "no_such_column"]) == 2


def test_docs_hold_the_declarations():
    from pathlib import Path

    from povsim.state import markdown_table

    docs = (Path(__file__).resolve().parents[1] / "docs" / "model.md").read_text(encoding="utf-8")
    assert markdown_table(state_declarations()) in docs
