"""Living conditions behind 两不愁三保障 that change without a targeted programme: children
leave or return to school, households repair unsafe houses, water supply improves, the
uninsured enrol in basic medical insurance."""

from __future__ import annotations

import numpy as np

from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration
from povsim.streams import RandomStreams

CONDITIONS = Declaration(
    "conditions",
    owns=("out_of_school", "insured", "housing_safe", "water_safe"),
    reads=("children", "poor", "weight"),
    doc="schooling, insurance, housing and water change without the programmes",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""


def update_conditions(hh: Households, params: ParameterSet, streams: RandomStreams, year: int) -> None:
    """Update schooling, housing, water and insurance for one year, in place.

    Uses last year's poverty status (``hh.poor``): poverty pushes children out of school
    and keeps houses unrepaired.
    """
    n = hh.n
    p = "households."
    poor = hh.poor
    drop = (
        poor
        & (hh.children > hh.out_of_school)
        & (streams.uniform("school_dropout", year, n) < params[p + "schooling.dropout_prob"])
    )
    back = (
        ~poor
        & (hh.out_of_school > 0)
        & (streams.uniform("school_return", year, n) < params[p + "schooling.return_prob"])
    )
    hh.out_of_school += drop.astype(np.int8) - back.astype(np.int8)
    repaired = (
        ~hh.housing_safe & ~poor & (streams.uniform("housing_repair", year, n) < params[p + "housing.self_repair_prob"])
    )
    hh.housing_safe |= repaired
    hh.water_safe |= streams.uniform("water", year, n) < params[p + "water.improvement_prob"]
    hh.insured |= streams.uniform("insurance", year, n) < params[p + "insurance.enrolment_prob"]
