"""The sampling layer (issue 20, item 4): the coarse-scale corrections in one module, behind a switch
that is a no-op at 1 : 1, with cells of alike counties that follow the population builder's strata."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from povsim import PovertyModel
from povsim.households import REGISTERED
from povsim.population import _strata

SRC = Path(__file__).resolve().parents[1] / "src" / "povsim"


@pytest.fixture(scope="module")
def model() -> PovertyModel:
    m = PovertyModel(seed=2, end_year=2016)  # the baseline's design: 1 : 500 in the poor areas, 1 : 5000 elsewhere
    m.run_model()
    return m


def switched_off() -> object:
    """The baseline scenario with the sampling layer switched off."""
    from povsim.model import resolve_scenario

    return resolve_scenario(None).with_overrides({"run.sampling_correction": False}, origin="test")


def builder_strata(model: PovertyModel) -> np.ndarray:
    """Per county, the population builder's stratum of candidate counties it belongs to (region and poor
    county or not), read off ``population._strata`` for registered and other households alike."""
    geo = model.geography
    label = np.full(geo.n_counties, -1)
    for registered in (True, False):
        for r in range(3):
            for s, (_, candidates, _) in enumerate(_strata(model.params, geo, registered, r)):
                kind = 2 * r + (0 if s == 0 else 1)
                assert (label[candidates] == -1).all() or (label[candidates] == kind).all()
                label[candidates] = kind
    assert (label >= 0).all()
    return label


def test_rationing_cells_lie_within_one_stratum_of_the_population_builder(model):
    label = builder_strata(model)
    cells = model.sampling.rationing_cell
    for cell in np.unique(cells):
        assert np.unique(label[cells == cell]).size == 1, cell
    assert (
        model.sampling.rationing_cell_region == np.bincount(cells, model.geography.county_region) // np.bincount(cells)
    ).all()


def test_noise_cells_within_a_region_lie_within_one_stratum_of_the_population_builder(model):
    label = builder_strata(model)
    geo, cells = model.geography, model.sampling.cell
    for r in range(3):
        for cell in np.unique(cells):
            members = (cells == cell) & (geo.county_region == r)
            assert np.unique(label[members]).size <= 1, (r, cell)


def test_alike_counties_are_sampled_alike(model):
    """Within a rationing cell, the households of a stratum are agents of the same size (the builder's
    rate for that stratum, to within the rounding of whole weights)."""
    hh, geo = model.households, model.geography
    poor_area = geo.county_poor[hh.county] | geo.village_poor[hh.village]
    cell = model.sampling.rationing_cell[hh.county]
    for area in (True, False):
        for c in np.unique(cell):
            w = hh.weight[(cell == c) & (poor_area == area)]
            if w.size > 20:
                assert w.max() <= 2 * w.min() + 1, (area, c, w.min(), w.max())


def test_governance_and_programmes_hold_no_estimator():
    """The estimators live in sampling.py: governance.py and the programmes define none of them."""
    estimators = {"denoised_rate", "split_rates", "_halves", "kappa", "_kappa", "_weighted_fit", "rationing"}
    for path in [SRC / "governance.py", *(SRC / "programs").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert not defined & estimators, (path.name, defined & estimators)
        assert "special" not in {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}


def test_switched_off_the_layer_judges_sampled_rates_and_rations_each_county():
    m = PovertyModel(switched_off(), seed=2, end_year=2016, scale=4000, poor_area_scale=4000)
    s = m.sampling
    assert not s.denoising and not s.rationing_by_cell
    sampled = np.linspace(0.0, 0.2, m.geography.n_counties)
    people = m.governance.rural_people
    assert s.denoised_rate(sampled, people, m.geography.county_poor, s.wrong_z) is sampled
    assert s.split_rates(m.households.status == REGISTERED, people) is None
    county = np.array([0, 5, 5, 9])
    group, budget, pool = s.rationing(county, np.arange(m.geography.n_counties, dtype=float))
    assert group.tolist() == county.tolist() and budget[9] == 9.0 and pool is m.geography.county_region


def test_switched_on_the_layer_corrects_at_coarse_scales_only():
    m = PovertyModel(seed=2, end_year=2016, scale=4000, poor_area_scale=4000)
    s, geo = m.sampling, m.geography
    assert s.denoising and s.rationing_by_cell
    sampled = np.random.default_rng(1).uniform(0, 0.1, geo.n_counties)
    people = m.governance.rural_people
    assert not np.array_equal(s.denoised_rate(sampled, people, geo.county_poor, s.wrong_z), sampled)
    group, budget, _ = s.rationing(np.array([0, 1]), np.ones(geo.n_counties))
    assert group.tolist() == s.rationing_cell[[0, 1]].tolist()
    assert budget.size == s.rationing_cell_region.size and budget.sum() == geo.n_counties
    m.poor_area_scale = m.scale = 1.0  # every household an agent: nothing to correct
    assert not s.denoising and not s.rationing_by_cell
    assert s.denoised_rate(sampled, people, geo.county_poor, s.wrong_z) is sampled
    assert s.rationing(np.array([0, 1]), np.ones(geo.n_counties))[0].tolist() == [0, 1]


def test_the_switch_changes_a_coarse_run():
    off = switched_off()
    runs = [PovertyModel(sc, seed=2, end_year=2016, scale=4000, poor_area_scale=4000) for sc in (None, off)]
    for r in runs:
        r.run_model()
    on_counties, off_counties = (r.results().query("measure == 'counties_exited'")["value"].sum() for r in runs)
    assert runs[0].results().to_csv() != runs[1].results().to_csv()
    assert on_counties != off_counties
