"""Tests that kill mutants of :mod:`povsim.measurement`: out-of-pocket medical costs, this year's market
income after the shocks, and the poverty status, on the four hand-built households of
:mod:`test_mutants_households` against answers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from povsim.dynamics.shocks import Shocks, SparseColumn
from povsim.measurement import market_income, measure, medical_out_of_pocket
from povsim.streams import RandomStreams
from test_mutants_households import table

PARAMS = {
    "shocks.illness.reimbursement": 0.4,
    "economy.growth.transitory_sigma": 0.3,
    "shocks.job_loss.remittance_lost": 0.25,
}


def shocks(**changes) -> Shocks:
    """Household 0 ill (a quarter of its work lost), households 0 and 2 hit by a disaster (10% and 50%
    of farm income lost), one of household 2's migrants back home without a job."""
    base = dict(
        ill=np.array([True, False, False, False]),
        medical_cost=SparseColumn(4, np.array([0, 3]), np.array([1000.0, 300.0])),
        lost_work_share=0.25,
        farm_loss=SparseColumn(4, np.array([0, 2]), np.array([0.1, 0.5])),
        job_losers=np.array([0, 0, 1, 0], np.int8),
        county_severity=np.zeros(3),
    )
    base.update(changes)
    return Shocks(**base)


def transitory(year: int, sigma: np.ndarray | float) -> np.ndarray:
    """The mean-one log-normal factor of log-sd ``sigma`` on the stream the model draws it from."""
    z = RandomStreams(7).get("income_transitory", year).standard_normal(4)
    return np.exp(sigma * z - 0.5 * np.square(sigma))


def test_out_of_pocket_is_the_medical_cost_less_basic_insurance_for_the_insured_only():
    hh = table(insured=np.array([True, True, True, False]))
    left = medical_out_of_pocket(hh, shocks(), PARAMS)
    assert left.rows.tolist() == [0, 3]
    assert left.values.tolist() == pytest.approx([1000.0 * 0.6, 300.0])
    assert left.dense().tolist() == pytest.approx([600.0, 0.0, 0.0, 300.0])


def persistent_after_shocks(hh) -> np.ndarray:
    """Farm after disaster loss and the illness's lost work, wages at home (less lost work), migrants'
    remittances (the job losers' partly lost), business — by hand for the four households."""
    return np.array(
        [
            1000 * 0.9 * 0.75 + 1 * 3000 * 0.75 + 1 * 8000 + 0,
            500 + 0 + 0 + 0,
            2000 * 0.5 + 0 * 2500 + (2 + 1) * 9000 - 1 * 9000 * 0.25 + 400,
            300 + 1 * 1200 + 0 + 0,
        ]
    )


def test_market_income_applies_disaster_illness_and_job_loss_then_the_transitory_shock():
    hh = table()
    got = market_income(hh, shocks(), PARAMS, RandomStreams(7), 2016)
    expected = persistent_after_shocks(hh) * transitory(2016, 0.3)
    assert got.tolist() == pytest.approx(expected.tolist(), rel=1e-12)
    # the persistent levels are left as they were
    assert hh.farm.tolist() == [1000.0, 500.0, 2000.0, 300.0]
    assert hh.local_earnings.tolist() == [3000.0, 0.0, 2500.0, 1200.0]
    assert hh.local_wage.tolist() == [3000.0, 0.0, 0.0, 1200.0]


@pytest.mark.parametrize("extra", [0.4, np.array([0.0, 0.4, 0.0, 0.2])], ids=["scalar", "per-household"])
def test_market_income_widens_the_transitory_shock_by_the_added_risk(extra):
    hh = table()
    got = market_income(hh, shocks(), PARAMS, RandomStreams(7), 2017, extra_sigma=extra)
    sigma = np.sqrt(0.3**2 + np.square(extra))
    expected = persistent_after_shocks(hh) * transitory(2017, sigma)
    assert got.tolist() == pytest.approx(expected.tolist(), rel=1e-12)
    assert not np.allclose(got, persistent_after_shocks(hh) * transitory(2017, 0.3))


def test_market_income_without_shocks_is_the_persistent_level_times_the_transitory_factor():
    hh = table()
    calm = shocks(
        ill=np.zeros(4, bool),
        farm_loss=SparseColumn(4, np.zeros(0, np.int64), np.zeros(0)),
        job_losers=np.zeros(4, np.int8),
    )
    got = market_income(hh, calm, PARAMS, RandomStreams(7), 2016)
    persistent = hh.farm + hh.local_wage + hh.migrants * hh.remittance + hh.business
    assert got.tolist() == pytest.approx((persistent * transitory(2016, 0.3)).tolist(), rel=1e-12)


def test_measure_records_income_and_poverty_and_keeps_last_years_status():
    hh = table()
    income = np.array([4000.0, 2000.0, 18000.0, 9000.0])  # per person 1000, 2000, 3000, 3000
    measure(hh, income, 2500.0, first=True)
    assert hh.income is income
    assert hh.poor.tolist() == [True, True, False, False]
    assert hh.poor_prev.tolist() == [True, True, False, False]  # no previous year: the same
    measure(hh, np.array([12000.0, 2000.0, 12000.0, 7500.0]), 2500.0)  # 3000, 2000, 2000, 2500
    assert hh.poor.tolist() == [False, True, True, False]  # at the line is not below it
    assert hh.poor_prev.tolist() == [True, True, False, False]
