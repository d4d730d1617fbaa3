"""The results registry: every measure of ``results.csv`` with its unit, kind and dimensions.

A measure is registered here once — name, unit, kind (stock, flow, ratio or level), whether it is a
whole count, which channel rows it has, and what it means — and, for a measure read from the
household table, the rule that computes it by region. The model's data collection
(:meth:`PovertyModel._collect <povsim.model.PovertyModel._collect>`) adds the rows of every measure
with a rule, in the order below; the README's table of measures, the calibration's yearly outcomes
(:data:`povsim.calibration.evaluate.NATIONAL_MEASURES`), the outcomes scenario discovery may use and
the tests' accounting checks (whole counts are integers, regions sum to the national row) are derived
from it. Adding a measure of the household table is one entry here.

The measures kept by channel (spending, funds, beneficiaries, exits by channel, ...) are registered
the same way; their rows come from the programme ledger and the attribution
(``PovertyModel._collect_channels``), and the registry checks that only registered measures are
written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from povsim.households import EXITED, REGISTERED
from povsim.state import Declaration

if TYPE_CHECKING:
    from povsim.model import PovertyModel

KINDS = ("stock", "flow", "ratio", "level")
"""``stock``: a state at the end of the year (by region, summing to the national row); ``flow``: what
happened during the year (the same; from the first simulated year); ``ratio``: a quotient, computed by
region and nationally from the summed numerator and denominator (no row where the denominator is 0);
``level``: a value set for the whole country (the poverty line)."""

CHANNEL_ROWS = ("all", "each", "both")
"""``all``: one row per region for the total (``channel == "all"``); ``each``: one per programme channel
(and ``own`` where exits are credited); ``both``: the two."""


@dataclass(frozen=True)
class Measure:
    """One measure of ``results.csv``.

    Attributes:
        name: the ``measure`` column's value.
        unit: of ``value``: ``people``, ``households``, ``yuan``, ``yuan per person per year``,
            ``share of the rural population``, ``counties``, ``villages``, ``0 or 1``.
        kind: one of :data:`KINDS`.
        meaning: what it counts (the README's table).
        whole: a whole count (people, households, counties): every value is an integer.
        channels: which channel rows it has (:data:`CHANNEL_ROWS`).
        outcome: a yearly national outcome of the calibration (``<measure>_<year>``).
        reads: the household columns its rule reads besides those every tally reads
            (:data:`TALLY_READS`); the reporting phase's declaration is made of them (:mod:`povsim.state`).
        compute: for a measure of the household table, the rule giving its ``all`` rows from a
            :class:`Tally` of the year: by region (3 values), a (numerator, denominator) pair by region
            for a ratio, one number for a level. None: rows written by the model's channel collection.
    """

    name: str
    unit: str
    kind: str
    meaning: str
    whole: bool = False
    channels: str = "all"
    outcome: bool = False
    reads: tuple[str, ...] = ()
    compute: Callable[[Tally], Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"measure {self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.channels not in CHANNEL_ROWS:
            raise ValueError(f"measure {self.name}: channels {self.channels!r} is not one of {', '.join(CHANNEL_ROWS)}")

    @property
    def total(self) -> bool:
        """Whether it has a total row (``channel == "all"``)."""
        return self.channels in ("all", "both")

    @property
    def regional(self) -> bool:
        """Whether its regions sum to its national row (stocks and flows)."""
        return self.kind in ("stock", "flow")


class Tally:
    """The household table of one model at the end of a year, summed the ways the measures need.

    Sums of whole people and households are exact in float64 in any order, so the stocks come from one
    bincount of a (region, status, poor) code, and the flows from the households concerned only (one
    full-length float64 column at most)."""

    def __init__(self, model: PovertyModel):
        self.model = model
        self.households = model.households
        self.flows = model.flows

    @cached_property
    def _cells(self) -> tuple[np.ndarray, np.ndarray]:
        hh = self.households
        code = hh.region * np.int8(6)
        code += hh.status * np.int8(2)
        code += hh.poor
        people = np.bincount(code, hh.people_weight_of(slice(None)), 18).reshape(3, 3, 2)
        households = np.bincount(code, hh.weight, 18).reshape(3, 3, 2).astype(np.float64)
        return people, households

    @property
    def people(self) -> np.ndarray:
        """People by region × status × poor (3 × 3 × 2)."""
        return self._cells[0]

    @property
    def household_cells(self) -> np.ndarray:
        """Households by region × status × poor (3 × 3 × 2)."""
        return self._cells[1]

    def by_region(self, mask: np.ndarray, households: bool = False) -> np.ndarray:
        """People (or households) of the households in ``mask``, by region."""
        hh = self.households
        idx = np.flatnonzero(mask)
        w = hh.weight[idx].astype(np.float64) if households else hh.people_weight_of(idx)
        return np.bincount(hh.region[idx], w, 3)

    @cached_property
    def years_since_exit(self) -> np.ndarray:
        """This year minus each household's last exit year."""
        return self.model.year - self.households.exit_year


_REG, _EXITED = int(REGISTERED), int(EXITED)


def _flow(attribute: str, households: bool = False) -> Callable[[Tally], np.ndarray]:
    return lambda t: t.by_region(getattr(t.flows, attribute), households=households)


def _relapse_since(label: str) -> Callable[[Tally], np.ndarray]:
    """Relapse ``label`` years after the exit (``1y`` … ``3y``; ``4y_plus``: four or more)."""
    years = int(label[0])

    def compute(t: Tally) -> np.ndarray:
        since = t.years_since_exit
        return t.by_region(t.flows.relapses & ((since >= years) if label.endswith("_plus") else (since == years)))

    return compute


RELAPSE_YEARS = ("1y", "2y", "3y", "4y_plus")
"""Relapse by years since exit: measures ``relapse_people_1y`` … ``relapse_people_4y_plus``."""

PEOPLE, HOUSEHOLDS, YUAN = "people", "households", "yuan"

MEASURES: tuple[Measure, ...] = (
    # -- stocks of the household table, every year from 2014
    Measure(
        "poor_people",
        PEOPLE,
        "stock",
        "people in households whose income per person is below the year's line (comparable to the NBS survey "
        "headcount)",
        whole=True,
        outcome=True,
        compute=lambda t: t.people[:, :, 1].sum(axis=1),
    ),
    Measure(
        "registered_poor_people",
        PEOPLE,
        "stock",
        "people in the registry (建档立卡)",
        whole=True,
        outcome=True,
        compute=lambda t: t.people[:, _REG, :].sum(axis=1),
    ),
    Measure(
        "registered_poor_households",
        HOUSEHOLDS,
        "stock",
        "households in the registry",
        whole=True,
        compute=lambda t: t.household_cells[:, _REG, :].sum(axis=1),
    ),
    Measure(
        "registered_income_poor_people",
        PEOPLE,
        "stock",
        "registered people below the income line (the overlap of the two measures)",
        whole=True,
        compute=lambda t: t.people[:, _REG, 1],
    ),
    Measure(
        "unregistered_income_poor_people",
        PEOPLE,
        "stock",
        "people below the income line and not registered (the gap between the two measures)",
        whole=True,
        compute=lambda t: t.people[:, :, 1].sum(axis=1) - t.people[:, _REG, 1],
    ),
    Measure(
        "exited_people",
        PEOPLE,
        "stock",
        "people in households that have exited the registry",
        whole=True,
        compute=lambda t: t.people[:, _EXITED, :].sum(axis=1),
    ),
    Measure(
        "registered_not_income_poor_people",
        PEOPLE,
        "stock",
        "registered people above the income line (the other gap between the two measures)",
        whole=True,
        compute=lambda t: t.people[:, _REG, 0],
    ),
    Measure(
        "relocated_people",
        PEOPLE,
        "stock",
        "people in households the relocation programme has moved, cumulative",
        whole=True,
        outcome=True,
        reads=("relocation.year_moved",),
        compute=lambda t: t.by_region(t.model.programme("relocation").year_moved > 0),
    ),
    # -- flows of the household table, from 2015
    Measure(
        "exits_people",
        PEOPLE,
        "flow",
        "registry exits in the year; by channel: the exits credited to each programme channel, plus `own` (the "
        "household's own income), summing exactly to the `all` row",
        whole=True,
        channels="both",
        outcome=True,
        compute=_flow("exits"),
    ),
    Measure(
        "exits_households",
        HOUSEHOLDS,
        "flow",
        "households exiting the registry in the year",
        whole=True,
        compute=_flow("exits", households=True),
    ),
    Measure(
        "entries_people",
        PEOPLE,
        "flow",
        "people entering the registry in the year: newly registered plus re-registered",
        whole=True,
        compute=_flow("entries"),
    ),
    Measure(
        "entries_households",
        HOUSEHOLDS,
        "flow",
        "households entering the registry in the year",
        whole=True,
        compute=_flow("entries", households=True),
    ),
    Measure(
        "newly_registered_people",
        PEOPLE,
        "flow",
        "entries never registered before",
        whole=True,
        outcome=True,
        compute=_flow("new_registrations"),
    ),
    Measure(
        "reregistered_people",
        PEOPLE,
        "flow",
        "entries of exited households registered again",
        whole=True,
        outcome=True,
        compute=_flow("reregistrations"),
    ),
    Measure(
        "removed_people",
        PEOPLE,
        "flow",
        "wrongly identified people removed by the 2015–16 re-check (回头看)",
        whole=True,
        outcome=True,
        compute=_flow("removed"),
    ),
    Measure(
        "removed_households",
        HOUSEHOLDS,
        "flow",
        "wrongly identified households removed by the re-check",
        whole=True,
        compute=_flow("removed", households=True),
    ),
    Measure(
        "relapse_people",
        PEOPLE,
        "flow",
        "people in exited households whose income fell back below the line; by channel: by the channel credited "
        "with the exit",
        whole=True,
        channels="both",
        outcome=True,
        compute=_flow("relapses"),
    ),
    Measure(
        "false_exits_people",
        PEOPLE,
        "flow",
        "exits of households still below the line",
        whole=True,
        compute=_flow("false_exits"),
    ),
    Measure(
        "false_exits_detected_people",
        PEOPLE,
        "flow",
        "false exits the third-party evaluation caught and reversed",
        whole=True,
        compute=_flow("false_exits_detected"),
    ),
    Measure(
        "fell_into_poverty_people",
        PEOPLE,
        "flow",
        "people whose income fell below the line this year (not last): `poor_people` changes by exactly this less "
        "`escaped_poverty_people`",
        whole=True,
        outcome=True,
        compute=_flow("fell_into_poverty"),
    ),
    Measure(
        "escaped_poverty_people",
        PEOPLE,
        "flow",
        "people whose income rose above the line this year",
        whole=True,
        outcome=True,
        compute=_flow("escaped_poverty"),
    ),
    Measure(
        "newly_poor_people",
        PEOPLE,
        "flow",
        "of those who fell below, people in households not registered before the year's registry update",
        whole=True,
        outcome=True,
        compute=_flow("newly_poor"),
    ),
    *(
        Measure(
            f"relapse_people_{label}",
            PEOPLE,
            "flow",
            f"relapse {label.replace('_plus', ' or more').replace('y', '')} year(s) after the exit",
            whole=True,
            reads=("exit_year",),
            compute=_relapse_since(label),
        )
        for label in RELAPSE_YEARS
    ),
    # -- ratios, levels and the counties, every year
    Measure(
        "incidence",
        "share of the rural population",
        "ratio",
        "`poor_people` / rural population",
        outcome=True,
        compute=lambda t: (t.people[:, :, 1].sum(axis=1), t.model.params.region("population.rural_population")),
    ),
    Measure(
        "poverty_line",
        "yuan per person per year",
        "level",
        "the year's line, current prices (national only)",
        compute=lambda t: t.model.poverty_line,
    ),
    Measure(
        "counties_exited",
        "counties",
        "stock",
        "poor counties (of 832) that have exited (摘帽), cumulative",
        whole=True,
        outcome=True,
        compute=lambda t: np.bincount(t.model.geography.county_region, t.model.governance.exit_year > 0, 3),
    ),
    Measure(
        "villages_exited",
        "villages",
        "stock",
        "poor villages (of 128k) that have exited, cumulative",
        whole=True,
        compute=lambda t: np.bincount(
            t.model.geography.county_region[t.model.geography.village_county],
            t.model.governance.village_exit_year > 0,
            3,
        ),
    ),
    # -- by channel, from the programme ledger and the attribution, from 2015
    Measure("spending_yuan", YUAN, "flow", "money spent by each channel (`all`: the total)", channels="both"),
    Measure(
        "funds_yuan", YUAN, "flow", "money made available to each channel, incl. money carried over", channels="both"
    ),
    Measure(
        "unspent_yuan",
        YUAN,
        "flow",
        "funds less spending (negative: running commitments spent beyond the year's funds)",
        channels="both",
    ),
    Measure(
        "carried_over_yuan",
        YUAN,
        "flow",
        "funds carried in from last year's unspent (`budget.carry_over`)",
        channels="both",
    ),
    Measure(
        "income_yuan",
        YUAN,
        "flow",
        "household income each channel produced in the year (transfers, wages of posts, returns on assets, placed "
        "migrants' remittances, the lasting income effects)",
        channels="both",
    ),
    Measure(
        "beneficiaries_households",
        HOUSEHOLDS,
        "flow",
        "households each channel reached in the year, each once — industry and credit count households whose assets "
        "still produce after support or repayment, relocation and education those whose earnings their lasting "
        "effect still raises (a move, a training)",
        whole=True,
        channels="each",
    ),
    Measure(
        "beneficiaries_people",
        PEOPLE,
        "flow",
        "the people of those households; for `floor`, the people on the 低保 floor",
        whole=True,
        channels="each",
    ),
    Measure(
        "eligible_households",
        HOUSEHOLDS,
        "flow",
        "households eligible for a new enrolment this year (for the yearly entitlements — floor, health, housing, "
        "school relief — for this year's payment); one eligible for two of a channel's sub-programmes counts in each",
        whole=True,
        channels="each",
    ),
    Measure(
        "capacity_households",
        HOUSEHOLDS,
        "flow",
        "of those, the households the channel's capacity (places, schedule; for the floor, coverage) admits",
        whole=True,
        channels="each",
    ),
    Measure(
        "enrolled_households",
        HOUSEHOLDS,
        "flow",
        "of those, the households enrolled within the budget",
        whole=True,
        channels="each",
    ),
    Measure(
        "cost_per_exit_yuan",
        YUAN,
        "ratio",
        "a channel's spending per exit credited to it, in the year (no row when it had no exits)",
        channels="both",
    ),
    *(
        Measure(
            f"limited_by_{limit}",
            "0 or 1",
            "ratio",
            f"1 when the {limit} bound the channel's new enrolments that year, else 0, read from the three counts "
            "above (enrolled < admitted: budget; admitted < eligible: capacity; else eligibility); no rows where "
            "nobody was eligible. Averaged over a batch's replications: the share of runs in which it bound",
            channels="each",
        )
        for limit in ("budget", "capacity", "eligibility")
    ),
    Measure(
        "sustained_exits_people",
        PEOPLE,
        "flow",
        "exits of the year's cohort not followed by relapse within three years (reported, in the cohort's year, "
        "once the three years have passed)",
        whole=True,
        channels="both",
    ),
    Measure(
        "cost_per_sustained_exit_yuan",
        YUAN,
        "ratio",
        "a channel's spending in the cohort's year per sustained exit credited to it",
        channels="each",
    ),
)
"""Every measure of ``results.csv``, in the order the rows of a year are written."""

BY_NAME: dict[str, Measure] = {m.name: m for m in MEASURES}

TALLY_READS = ("region", "status", "poor", "weight", "size")
"""The household columns every tally reads (the stocks' bincount, the flows' people)."""
CHANNEL_READS = ("relapse_year", "attribution.exit_channel")
"""The household columns the channel collection reads besides the tally's (relapse by the channel
credited with the exit, the cohorts' sustained exits)."""

REPORTING = Declaration(
    "reporting",
    reads=tuple(dict.fromkeys((*TALLY_READS, *CHANNEL_READS, *(c for m in MEASURES for c in m.reads)))),
    doc="the year's rows of the results table, from the household table (the results registry, povsim.measures)",
)
"""What the reporting phase does to the household table (:mod:`povsim.state`): it reads what the
registered measures read."""

TABLE_STOCKS: tuple[str, ...] = tuple(
    m.name for m in MEASURES if m.compute is not None and m.kind in ("stock", "ratio")
)
"""Measures of the household table reported every year by region, from the initial 2014 state."""
TABLE_FLOWS: tuple[str, ...] = tuple(m.name for m in MEASURES if m.compute is not None and m.kind == "flow")
"""Measures of the household table's flows, reported from the first simulated year."""
TOTALS: tuple[str, ...] = tuple(m.name for m in MEASURES if m.total)
"""Measures with a total row (``channel == "all"``)."""
OUTCOMES: tuple[str, ...] = tuple(m.name for m in MEASURES if m.outcome)
"""The calibration's yearly national outcomes."""


def measure(name: str) -> Measure:
    """The registered measure ``name``.

    Raises:
        KeyError: no measure has that name.
    """
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"measure {name!r} is not registered in povsim.measures") from None


def markdown_table() -> str:
    """The registry as the README's Markdown table of measures."""
    rows = ["| measure | unit | kind | channel | meaning |", "|---|---|---|---|---|"]
    label = {"all": "`all`", "each": "each channel", "both": "each channel and `all`"}
    for m in MEASURES:
        unit = f"{m.unit} (whole)" if m.whole else m.unit
        rows.append(f"| `{m.name}` | {unit} | {m.kind} | {label[m.channels]} | {m.meaning} |")
    return "\n".join(rows)
