"""Ageing: children come of working age, workers grow old, the elderly die.

Household size is fixed over a run (a birth replaces each death), so that the registry's
people counts change only through exits and entries; the members' mix changes.
"""

from __future__ import annotations

import numpy as np

from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration
from povsim.streams import RandomStreams, binomial_from_uniform

DEMOGRAPHY = Declaration(
    "demography",
    owns=("children", "elderly", "workers"),
    modifies=("ill", "migrants", "out_of_school", "transfers"),
    reads=("size", "weight"),
    doc="children come of age, workers retire, the elderly die; pensions follow",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""


def age(hh: Households, params: ParameterSet, streams: RandomStreams, year: int, pension: float) -> None:
    """Move members between children, workers and elderly for one year, in place.

    Args:
        pension: this year's pension per elderly member (yuan/yr), so transfers follow the
            change in elderly members.
    """
    n = hh.n
    d = "households.demography."
    grown = binomial_from_uniform(streams.uniform("age_children", year, n), hh.children, params[d + "child_to_adult"])
    retired = binomial_from_uniform(
        streams.uniform("age_workers", year, n), hh.workers, params[d + "worker_to_elderly"]
    )
    died = binomial_from_uniform(streams.uniform("age_elderly", year, n), hh.elderly, params[d + "elderly_death"])

    hh.children += (died - grown).astype(np.int8)
    hh.workers += (grown - retired).astype(np.int8)
    hh.elderly += (retired - died).astype(np.int8)
    np.minimum(hh.migrants, hh.workers, out=hh.migrants)
    np.minimum(hh.out_of_school, hh.children, out=hh.out_of_school)
    np.minimum(hh.ill, hh.size - hh.workers - hh.children, out=hh.ill)
    hh.transfers += (retired - died) * pension
    np.maximum(hh.transfers, 0.0, out=hh.transfers)
