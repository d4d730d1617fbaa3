"""Measurement: this year's realised income per person against the poverty line.

Realised income is the persistent level of each source after this year's shocks (disaster
losses on farm income, lost work in an illness, a migrant's lost job, a transitory shock)
net of out-of-pocket medical costs. A household is income-poor when its income per person
is below the line; this is the measure comparable to the NBS survey headcount.
"""

from __future__ import annotations

import numpy as np

from povsim.dynamics.shocks import Shocks
from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.streams import RandomStreams


def income_parts(
    hh: Households,
    shocks: Shocks,
    params: ParameterSet,
    streams: RandomStreams,
    year: int,
    reimbursement: np.ndarray | float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """This year's household income in two parts (yuan): market income after shocks, and
    transfers and property income net of out-of-pocket medical costs.

    Args:
        reimbursement: share of medical costs reimbursed for the insured; defaults to the
            basic insurance rate ``shocks.illness.reimbursement`` (health programmes raise it).
    """
    if reimbursement is None:
        reimbursement = params["shocks.illness.reimbursement"]
    sigma = params["economy.growth.transitory_sigma"]
    transitory = np.exp(sigma * streams.get("income_transitory", year).standard_normal(hh.n) - 0.5 * sigma**2)
    lost_remittance = shocks.job_losers * hh.remittance * params["shocks.job_loss.remittance_lost"]
    market = (
        hh.farm * (1.0 - shocks.farm_loss) * (1.0 - shocks.lost_work)
        + hh.local_wage * (1.0 - shocks.lost_work)
        + (hh.migrants + shocks.job_losers) * hh.remittance
        - lost_remittance
        + hh.business
    ) * transitory
    out_of_pocket = shocks.medical_cost * (1.0 - np.where(hh.insured, reimbursement, 0.0))
    return market, hh.transfers + hh.property - out_of_pocket


def realised_income(
    hh: Households,
    shocks: Shocks,
    params: ParameterSet,
    streams: RandomStreams,
    year: int,
    reimbursement: np.ndarray | float | None = None,
) -> np.ndarray:
    """This year's household income net of out-of-pocket medical costs (yuan)."""
    market, other = income_parts(hh, shocks, params, streams, year, reimbursement)
    return market + other


def measure(hh: Households, income: np.ndarray, line: float, first: bool = False) -> None:
    """Record this year's income and poverty status in the household table, in place.

    Args:
        first: the initial measurement, which has no previous year.
    """
    if not first:
        hh.poor_prev[:] = hh.poor
    hh.income[:] = income
    hh.income_pc[:] = income / hh.size
    hh.poor[:] = hh.income_pc < line
    if first:
        hh.poor_prev[:] = hh.poor
