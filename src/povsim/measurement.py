"""Measurement: this year's realised income per person against the poverty line.

Realised income is the persistent level of each source after this year's shocks (disaster
losses on farm income, lost work in an illness, a migrant's lost job, a transitory shock)
net of out-of-pocket medical costs. A household is income-poor when its income per person
is below the line; this is the measure comparable to the NBS survey headcount.
"""

from __future__ import annotations

import numpy as np

from povsim.dynamics.shocks import Shocks, SparseColumn
from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration
from povsim.streams import RandomStreams

MEDICAL_COSTS = Declaration(
    "medical_costs",
    reads=("insured",),
    doc="this year's medical costs left after basic insurance",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""
INCOME = Declaration(
    "income",
    reads=(
        "business",
        "farm",
        "local_earnings",
        "migrants",
        "property",
        "remittance",
        "transfers",
        "weight",
        "workers",
        "relocation.year_moved",
    ),
    doc="this year's income: market income after shocks, transfers, property, programme transfers, less medical costs",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""
MEASUREMENT = Declaration(
    "measurement",
    owns=("income", "poor", "poor_prev"),
    reads=("size",),
    doc="income per person against the line: who is poor this year and last",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""


def medical_out_of_pocket(hh: Households, shocks: Shocks, params: ParameterSet) -> SparseColumn:
    """This year's medical costs left to the household under basic insurance (yuan, the ill
    only); the health programme lowers them further for the registered poor."""
    cost = shocks.medical_cost
    insured = hh.insured[cost.rows]
    left = cost.values * (1.0 - np.where(insured, params["shocks.illness.reimbursement"], 0.0))
    return SparseColumn(cost.n, cost.rows, left)


def market_income(
    hh: Households,
    shocks: Shocks,
    params: ParameterSet,
    streams: RandomStreams,
    year: int,
    extra_sigma: np.ndarray | float = 0.0,
) -> np.ndarray:
    """This year's market income (yuan): persistent levels after the year's shocks — disaster
    losses on farm income, lost work in an illness, a migrant's lost job — times a transitory
    shock of mean one (log-sd ``economy.growth.transitory_sigma``, widened by ``extra_sigma``
    where a programme exposes households to risk)."""
    base_variance = params["economy.growth.transitory_sigma"] ** 2
    transitory = streams.get("income_transitory", year).standard_normal(hh.n)
    # transitory = exp(sigma * z - 0.5 * sigma**2), sigma = sqrt(base_variance + extra_sigma**2),
    # in place
    if np.ndim(extra_sigma) == 0:
        sigma = np.sqrt(base_variance + np.square(extra_sigma))
        transitory *= sigma
        transitory -= 0.5 * sigma**2
    else:
        sigma = np.square(extra_sigma)
        sigma += base_variance
        np.sqrt(sigma, out=sigma)
        transitory *= sigma
        np.square(sigma, out=sigma)
        sigma *= 0.5
        transitory -= sigma
    del sigma
    np.exp(transitory, out=transitory)
    # (farm * (1 - farm_loss) * (1 - lost_work) + local_wage * (1 - lost_work)
    #  + (migrants + job_losers) * remittance - lost_remittance + business) * transitory
    # 1 - lost_work is 1 - lost_work_share for the ill and 1 elsewhere (multiplying by one
    # is exact, so only the ill are multiplied)
    keep_work = 1.0 - shocks.lost_work_share
    ill = shocks.ill
    loss = shocks.farm_loss  # (1 - loss) * farm, where 1 - 0 = 1 leaves farm as it is
    income = hh.farm.copy()
    income[loss.rows] = (1.0 - loss.values) * hh.farm[loss.rows]
    np.multiply(income, keep_work, out=income, where=ill)
    part = hh.local_wage
    np.multiply(part, keep_work, out=part, where=ill)
    income += part
    np.multiply(hh.migrants + shocks.job_losers, hh.remittance, out=part)
    income += part
    np.multiply(shocks.job_losers, hh.remittance, out=part)
    part *= params["shocks.job_loss.remittance_lost"]
    income -= part
    del part
    income += hh.business
    income *= transitory
    return income


def measure(hh: Households, income: np.ndarray, line: float, first: bool = False) -> None:
    """Record this year's income and poverty status in the household table, in place.

    The table takes ``income`` itself (float64, one per household), not a copy.

    Args:
        first: the initial measurement, which has no previous year.
    """
    if not first:
        hh.poor_prev[:] = hh.poor
    hh.income = income  # the table keeps this year's income array (no copy: one fewer column)
    np.less(hh.income_pc, line, out=hh.poor)
    if first:
        hh.poor_prev[:] = hh.poor
