"""The phases of a simulated year, in order, each with its declaration of the household state.

The declarations live beside the code they describe (a rule's module, a programme's class); this
module only puts them in the order of :meth:`PovertyModel.step <povsim.model.PovertyModel.step>`
for ``povsim params --states``, the docs and the tests (:mod:`povsim.state`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from povsim.attribution import ATTRIBUTION
from povsim.dynamics.conditions import CONDITIONS
from povsim.dynamics.demography import DEMOGRAPHY
from povsim.dynamics.economy import ECONOMY
from povsim.dynamics.migration import MIGRATION
from povsim.dynamics.shocks import SHOCKS
from povsim.governance import GOVERNANCE
from povsim.measurement import INCOME, MEASUREMENT, MEDICAL_COSTS
from povsim.measures import REPORTING
from povsim.money import FUNDS
from povsim.population import POPULATION
from povsim.programs.effects import EFFECTS
from povsim.registry import REGISTRY
from povsim.state import Declaration

if TYPE_CHECKING:
    from povsim.programs.base import Programme

__all__ = [
    "ATTRIBUTION",
    "CONDITIONS",
    "DEMOGRAPHY",
    "ECONOMY",
    "EFFECTS",
    "FUNDS",
    "GOVERNANCE",
    "INCOME",
    "MEASUREMENT",
    "MEDICAL_COSTS",
    "MIGRATION",
    "POPULATION",
    "REGISTRY",
    "REPORTING",
    "SHOCKS",
    "state_declarations",
]


def state_declarations(programmes: Sequence[type[Programme]] | Sequence[Programme] | None = None) -> list[Declaration]:
    """Every phase's declaration in the order of the year (the population builder first), with the
    programmes' (default: :data:`povsim.programs.PROGRAMMES`) where they run: the budgeted ones
    after the funds, the means-tested floor after income is realised."""
    if programmes is None:
        from povsim.programs import PROGRAMMES

        programmes = PROGRAMMES
    budgeted = [p.declaration for p in programmes if not p.means_tested]
    tested = [p.declaration for p in programmes if p.means_tested]
    return [
        POPULATION,
        DEMOGRAPHY,
        ECONOMY,
        SHOCKS,
        MIGRATION,
        CONDITIONS,
        MEDICAL_COSTS,
        FUNDS,
        *budgeted,
        EFFECTS,
        INCOME,
        *tested,
        MEASUREMENT,
        REGISTRY,
        ATTRIBUTION,
        GOVERNANCE,
        REPORTING,
    ]
