"""Income growth by source and region, with a permanent household shock."""

from __future__ import annotations

import numpy as np

from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration
from povsim.streams import RandomStreams

ECONOMY = Declaration(
    "economy",
    owns=("farm", "local_earnings", "remittance", "business", "transfers", "property"),
    reads=("region", "weight"),
    doc="persistent income levels grow by source and region",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""


def grow_incomes(hh: Households, params: ParameterSet, streams: RandomStreams, year: int) -> None:
    """Grow the persistent income levels for one year, in place.

    Each source grows at its own nominal rate plus a regional premium; market incomes also
    take a permanent log-normal shock (mean one), so households move across the line.
    """
    g = "economy.growth."
    premium = params.region(g + "region_premium")[hh.region]
    sigma = params[g + "persistent_sigma"]
    shock = np.exp(sigma * streams.get("income_persistent", year).standard_normal(hh.n) - 0.5 * sigma**2)
    hh.farm *= (1.0 + params[g + "farm"] + premium) * shock
    hh.local_earnings *= (1.0 + params[g + "local_wage"] + premium) * shock
    hh.remittance *= (1.0 + params[g + "migrant_wage"] + premium) * shock
    hh.business *= (1.0 + params[g + "business"] + premium) * shock
    hh.transfers *= 1.0 + params[g + "transfers"] + premium
    hh.property *= 1.0 + params[g + "property"] + premium


def pension(params: ParameterSet, year: int, start_year: int) -> float:
    """The pension per elderly member in ``year`` (grown like other transfers)."""
    return params["economy.income.pension_per_elderly"] * (1.0 + params["economy.growth.transfers"]) ** (
        year - start_year
    )
