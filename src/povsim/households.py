"""Households as agents stored column-wise: one numpy array per attribute, one row per agent.

A row is a household agent standing for ``weight`` real households (an integer, so that
every people count the model reports is an exact integer). Rules are vectorised functions
over rows; nothing loops over households.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from povsim.parameters import REGIONS

if TYPE_CHECKING:
    from povsim.state import StateGuard

# Registry status (建档立卡)
NOT_REGISTERED = np.int8(0)
REGISTERED = np.int8(1)
EXITED = np.int8(2)
STATUS_NAMES = {0: "not_registered", 1: "registered", 2: "exited"}

INCOME_SOURCES = ("farm", "local_wage", "migrant_wage", "business", "transfers", "property")
"""Income by source; ``local_wage`` is ``(workers - migrants) * local_earnings`` and
``migrant_wage`` is ``migrants * remittance``."""

NO_YEAR = np.int16(0)


@dataclass
class Households:
    """The household table. Counts of members are per household; money is yuan per year.

    Members are split into children (under 16), workers (working-age and able to work),
    elderly (65+) and the rest of working age who cannot work (ill or disabled); ``size`` is
    their sum and is fixed over a run. ``ill`` counts chronically ill members and
    ``disabled`` disabled members (both among the non-workers).
    """

    weight: np.ndarray  # int32, real households per agent
    region: np.ndarray  # int8, 0 east, 1 central, 2 west
    county: np.ndarray  # int16 (int32 above 32,767 counties), index into the county table
    village: np.ndarray  # int32, index into the village table
    size: np.ndarray  # int8, members
    children: np.ndarray  # int8
    workers: np.ndarray  # int8
    elderly: np.ndarray  # int8
    ill: np.ndarray  # int8, chronically ill members
    disabled: np.ndarray  # int8
    out_of_school: np.ndarray  # int8, school-age children out of school (控辍保学)
    migrants: np.ndarray  # int8, workers working away from home
    skills: np.ndarray  # int8, schooling of the best-educated worker: 0 primary, 1 junior, 2 senior
    land: np.ndarray  # float32, mu
    hazard_zone: np.ndarray  # bool, lives where the land cannot support its people
    housing_safe: np.ndarray  # bool
    water_safe: np.ndarray  # bool
    insured: np.ndarray  # bool, basic medical insurance (新农合)
    cause_illness: np.ndarray  # bool, causes of poverty (致贫原因), several per household
    cause_capital: np.ndarray  # bool
    cause_skills: np.ndarray  # bool
    cause_labour: np.ndarray  # bool
    farm: np.ndarray  # float64, yuan/yr, persistent level
    local_earnings: np.ndarray  # float64, yuan/yr per worker at home
    remittance: np.ndarray  # float64, yuan/yr per migrant
    business: np.ndarray  # float64
    transfers: np.ndarray  # float64
    property: np.ndarray  # float64
    income: np.ndarray  # float64, this year's realised household income net of medical costs
    poor: np.ndarray  # bool, income per person below this year's line
    poor_prev: np.ndarray  # bool, last year's ``poor``
    status: np.ndarray  # int8, NOT_REGISTERED / REGISTERED / EXITED
    registered_year: np.ndarray  # int16, last registration year (0 never)
    exit_year: np.ndarray  # int16, last exit year (0 never)
    relapses: np.ndarray  # int8, times fallen back below the line after exit (返贫)
    relapse_year: np.ndarray  # int16, year of the last relapse (0 never)
    states: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """The programmes' and other modules' own per-household arrays, by namespaced name
    (``relocation.year_moved``): see :meth:`add_state`."""

    def add_state(self, name: str, array: np.ndarray) -> np.ndarray:
        """Register a module's own per-household array as the state ``name`` (``module.attribute``)
        and return it: it is a column of :meth:`table` and is guarded like the table's columns
        (:mod:`povsim.state`)."""
        if "." not in name:
            raise ValueError(f"a state's name is namespaced by its module, e.g. 'relocation.year_moved': {name!r}")
        if name in self.states:
            raise ValueError(f"state {name!r} is registered twice")
        if array.shape != (self.n,):
            raise ValueError(f"state {name!r} has shape {array.shape}, not one value per household ({self.n})")
        self.states[name] = array
        return array

    def columns(self) -> dict[str, np.ndarray]:
        """Every per-household array by name: the table's fields, then the registered states."""
        get = object.__getattribute__
        out = {name: get(self, name) for name in COLUMNS}
        out.update(get(self, "states"))
        return out

    def guard(self, guard: StateGuard) -> None:
        """Check reads and rebinding of the columns against the running phase's declaration
        (:class:`povsim.state.StateGuard`; called by the guard when checking is on)."""
        object.__setattr__(self, "_guard", guard)
        object.__setattr__(self, "__class__", CheckedHouseholds)

    @property
    def n(self) -> int:
        """Number of household agents."""
        return int(self.weight.shape[0])

    @property
    def income_pc(self) -> np.ndarray:
        """This year's income per person (``income / size``), float64."""
        return self.income / self.size

    def income_pc_of(self, idx: np.ndarray) -> np.ndarray:
        """``income_pc[idx]`` without the full column."""
        return self.income[idx] / self.size[idx]

    @property
    def people_weight(self) -> np.ndarray:
        """Real people each row stands for (weight × size), int64."""
        return self.weight.astype(np.int64) * self.size.astype(np.int64)

    def people_weight_of(self, idx: np.ndarray | slice) -> np.ndarray:
        """``people_weight[idx]`` as float64 (whole people, so exact), with no int64 column."""
        people = self.weight[idx].astype(np.float64)
        people *= self.size[idx]
        return people

    def people_by_county(self, mask: np.ndarray, n_counties: int) -> np.ndarray:
        """People (national units) of the households in ``mask``, by county: exact (whole
        people), summed over those households only."""
        idx = np.flatnonzero(mask)
        return np.bincount(self.county[idx], self.people_weight_of(idx), n_counties)

    @property
    def inactive(self) -> np.ndarray:
        """Working-age members who cannot work (ill or disabled)."""
        return (self.size - self.children - self.workers - self.elderly).astype(np.int8)

    @property
    def local_wage(self) -> np.ndarray:
        """Yearly earnings of workers at home (persistent level)."""
        return (self.workers - self.migrants) * self.local_earnings

    @property
    def migrant_wage(self) -> np.ndarray:
        """Yearly income from members working away (persistent level)."""
        return self.migrants * self.remittance

    def set_income_from_sources(self) -> None:
        """Set ``income`` to the sum of the persistent levels by source (in the order of
        ``INCOME_SOURCES``), in place."""
        income = self.income
        income[:] = self.farm
        income += self.local_wage
        income += self.migrant_wage
        income += self.business
        income += self.transfers
        income += self.property

    def income_by_source(self) -> dict[str, np.ndarray]:
        """Persistent income levels by source, yuan per household per year."""
        return {s: getattr(self, s) for s in INCOME_SOURCES}

    def two_assurances_three_guarantees(self) -> np.ndarray:
        """两不愁三保障 apart from income: schooling, basic medical care, safe housing and water."""
        return (self.out_of_school == 0) & self.insured & self.housing_safe & self.water_safe

    def check(self) -> None:
        """Assert the table's internal consistency (used by tests and after each step)."""
        members = self.children.astype(int) + self.workers + self.elderly
        assert (self.size >= 1).all(), "household with no members"
        assert (members <= self.size).all(), "more members by category than size"
        assert (self.migrants <= self.workers).all() and (self.migrants >= 0).all(), "migrants exceed workers"
        assert (self.out_of_school <= self.children).all(), "out-of-school exceeds children"
        assert (self.ill <= self.size - self.workers - self.children).all(), "ill members must be non-workers"
        assert (self.weight >= 1).all(), "weights must be positive"

    def table(self) -> pd.DataFrame:
        """The household table as a DataFrame, one row per agent, with readable codes."""
        df = pd.DataFrame(self.columns())
        df["region"] = pd.Categorical.from_codes(self.region, categories=list(REGIONS))
        df["status"] = pd.Categorical.from_codes(self.status, categories=list(STATUS_NAMES.values()))
        df["income_pc"] = self.income_pc
        df["people_weight"] = self.people_weight
        df["local_wage"] = self.local_wage
        df["migrant_wage"] = self.migrant_wage
        return df


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Households) if f.name != "states")
"""The household table's own columns, in order."""
_COLUMN_SET = frozenset(COLUMNS)


class CheckedHouseholds(Households):
    """The household table while its state is checked (:mod:`povsim.state`): reading a column
    the running phase did not declare, or rebinding one it may not write, raises
    :class:`~povsim.state.UndeclaredState`."""

    def __getattribute__(self, name: str) -> Any:
        if name in _COLUMN_SET:
            object.__getattribute__(self, "_guard").check_read(name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _COLUMN_SET:
            object.__getattribute__(self, "_guard").check_rebind(name)
        object.__setattr__(self, name, value)
