"""The programme interface and the machinery every channel shares.

A programme is one module (Starsim-style) that each year runs: eligibility → enrolment
within its budget and capacity, by a targeting rule (poorest first unless the channel says
otherwise) → effect on the household → duration → unit cost. What it does this year goes into
the :class:`ChannelLedger`: the income it produced for each household (used to attribute
exits to channels), the part of it paid directly (added to income), and its spending.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from povsim.allocation import fit_within
from povsim.households import EXITED, REGISTERED, Households
from povsim.state import Declaration

if TYPE_CHECKING:
    from povsim.model import PovertyModel

CHANNELS: tuple[str, ...] = (
    "industry",
    "employment",
    "relocation",
    "ecology",
    "education",
    "health",
    "floor",
    "credit",
    "housing",
)
"""The programme channels, as they appear in the ``channel`` column of the results."""

OWN = "own"
"""Exits not carried by any programme: the household's own income growth."""

EXITED_RANK = 1e8
"""Added to the targeting priority (yuan per person, lower first) of a household not in the
registry, so that it ranks after every registered household (:meth:`Programme.registered_first`)."""


LIMITS: tuple[str, ...] = ("budget", "capacity", "eligibility")
"""What can limit a channel's new enrolments in a year; :func:`binding_limit` codes them 0, 1, 2."""


def binding_limit(eligible: np.ndarray, capacity: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
    """Which limit bound a channel's new enrolments, from the households eligible ≥ admitted by its
    capacity ≥ enrolled (arrays of any shape, e.g. channel × region): the index into :data:`LIMITS`,
    −1 where no household was eligible.

    * ``budget`` (0) — the money ran out before every household the capacity admitted was
      enrolled: more money would enrol more;
    * ``capacity`` (1) — the channel's places (a yearly schedule or cap) admitted fewer than were
      eligible, and the money reached all of those admitted;
    * ``eligibility`` (2) — every eligible household was enrolled: more money or places would add
      no one, and what is left is unspent (carried over, ``budget.carry_over``).
    """
    eligible, capacity, enrolled = (np.asarray(a, np.float64) for a in (eligible, capacity, enrolled))
    code = np.where(eligible > 0, 2, -1)
    code = np.where((eligible > 0) & (capacity < eligible), 1, code)
    return np.where((eligible > 0) & (enrolled < capacity), 0, code)


class ChannelLedger:
    """This year's programme income and spending, by channel.

    Attributes:
        transfer: yuan paid directly to each household by all channels together (added to
            income; the rest of the gain is already inside market income, e.g. a placed
            migrant's remittance).
        spending: national yuan spent by each channel, by region (channel × 3).
        funds: national yuan made available to each channel, by region (channel × 3).
        eligible, capacity, enrolled: households offered a new enrolment this year, by region
            (channel × 3): those eligible, those of them the channel's capacity (places, a
            yearly schedule) admits, and those enrolled within the budget. Which of the three
            limits binds is read from them (:func:`binding_limit`).

    The yuan of this year's household income due to each channel (the basis of exit
    attribution) is kept sparse, as the (households, float32 gains) each channel recorded, and
    read with :meth:`gain_row` or :meth:`gain_at`: a channel reaches a minority of households,
    and a dense channel × household table would be 36 bytes per household. The households each
    channel reached are kept the same way (:meth:`beneficiaries`).
    """

    def __init__(self, n: int, n_counties: int):
        self.n = n
        self._gains: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in CHANNELS]
        self._reached: list[list[np.ndarray]] = [[] for _ in CHANNELS]
        self.transfer = np.zeros(n, np.float64)
        self.spending = np.zeros((len(CHANNELS), 3))
        self.funds = np.zeros((len(CHANNELS), 3))
        self.eligible = np.zeros((len(CHANNELS), 3))
        self.capacity = np.zeros((len(CHANNELS), 3))
        self.enrolled = np.zeros((len(CHANNELS), 3))
        self.county_spending = np.zeros(n_counties)
        self.county_funds = np.zeros(n_counties)

    def reset(self) -> None:
        for gains in self._gains:
            gains.clear()
        for reached in self._reached:
            reached.clear()
        for array in (
            self.transfer,
            self.spending,
            self.funds,
            self.eligible,
            self.capacity,
            self.enrolled,
            self.county_spending,
            self.county_funds,
        ):
            array[:] = 0.0

    def add_gain(self, channel: int, idx: np.ndarray, gain: np.ndarray) -> None:
        """Add float32 ``gain`` (one per household of ``idx``) to the channel's gains."""
        nonzero = gain != 0  # adding zero to a gain changes nothing
        if not nonzero.all():
            idx, gain = idx[nonzero], gain[nonzero]
        if idx.size:
            self._gains[channel].append((idx.astype(np.int32, copy=False), gain))

    def add_reached(self, channel: int, idx: np.ndarray) -> None:
        """Note that the channel reached households ``idx`` this year."""
        if idx.size:
            self._reached[channel].append(idx.astype(np.int32, copy=False))

    def gain_row(self, channel: int) -> np.ndarray:
        """This year's gains of ``channel``, one float32 per household."""
        row = np.zeros(self.n, np.float32)
        for idx, gain in self._gains[channel]:
            row[idx] += gain
        return row

    def gain_at(self, idx: np.ndarray) -> np.ndarray:
        """This year's gains of households ``idx`` (channel × household, float32)."""
        out = np.empty((len(CHANNELS), idx.size), np.float32)
        for c in range(len(CHANNELS)):
            out[c] = self.gain_row(c)[idx]
        return out

    def income(self, weight: np.ndarray, region: np.ndarray) -> np.ndarray:
        """National yuan of household income each channel produced this year, by region
        (channel × 3): its gains times the households' weights."""
        out = np.zeros((len(CHANNELS), 3))
        for c, gains in enumerate(self._gains):
            for idx, gain in gains:
                out[c] += np.bincount(region[idx], gain.astype(np.float64) * weight[idx], 3)
        return out

    def beneficiaries(self, hh: Households) -> tuple[np.ndarray, np.ndarray]:
        """Households and people each channel reached this year (each household once), by region
        (two channel × 3 tables)."""
        households, people = np.zeros((len(CHANNELS), 3)), np.zeros((len(CHANNELS), 3))
        mark = np.zeros(self.n, bool)  # one pass over a mask is cheaper than sorting the indices
        for c, reached in enumerate(self._reached):
            if not reached:
                continue
            for idx in reached:
                mark[idx] = True
            idx = np.flatnonzero(mark)
            mark[idx] = False
            households[c] = np.bincount(hh.region[idx], hh.weight[idx].astype(np.float64), 3)
            people[c] = np.bincount(hh.region[idx], hh.people_weight_of(idx), 3)
        return households, people

    @property
    def gain(self) -> np.ndarray:
        """This year's gains as a dense channel × household float32 table (for inspection;
        36 bytes per household)."""
        return np.stack([self.gain_row(c) for c in range(len(CHANNELS))])


PROGRAMME_READS: tuple[str, ...] = (
    "county",
    "exit_year",
    "income",
    "region",
    "size",
    "status",
    "weight",
    "governance.support_years",
)
"""The household columns the machinery every programme shares reads (support and targeting, the
ledger's records, rationing by county): the start of each programme's declared reads."""


class Programme(ABC):
    """One intervention channel.

    Subclasses set ``channel`` and ``declaration`` (the household columns the programme owns,
    modifies and reads, :mod:`povsim.state`) and implement :meth:`step`; a channel whose rule needs
    this year's income (the 兜底 floor) sets ``means_tested = True`` and runs after measurement of
    the other incomes, receiving them in :meth:`step`. A programme's own per-household arrays are
    made with :meth:`own_state`, so they are columns of the household table.
    """

    channel: str = ""
    means_tested: bool = False
    declaration: ClassVar[Declaration] = Declaration("programme")

    def __init__(self, model: PovertyModel):
        self.model = model
        self.index = CHANNELS.index(self.channel)
        self.enabled = bool(self.param("enabled"))

    def own_state(self, name: str, array: np.ndarray) -> np.ndarray:
        """Register ``array`` (one value per household) as this programme's state ``<channel>.<name>``
        of the household table and return it."""
        return self.model.households.add_state(f"{self.channel}.{name}", array)

    def param(self, key: str):
        """This channel's parameter ``programs.<channel>.<key>``."""
        return self.model.params[f"programs.{self.channel}.{key}"]

    @abstractmethod
    def step(self, model: PovertyModel, budget: np.ndarray | None, income: np.ndarray | None = None) -> None:
        """Run one year: enrol within ``budget`` (yuan per county, or None for an
        entitlement), apply effects, and record gains, transfers and spending."""

    def income_risk(self, model: PovertyModel) -> np.ndarray | float:
        """Added log-sd of this year's income for households the channel exposes to risk."""
        return 0.0

    # -- shared helpers ----------------------------------------------------------------
    def record(
        self,
        idx: np.ndarray,
        *,
        gain: np.ndarray | float = 0.0,
        transfer: np.ndarray | float = 0.0,
        cost: np.ndarray | float = 0.0,
    ) -> None:
        """Record for households ``idx``: income gain and direct transfer (yuan per household)
        and cost (yuan per household; multiplied by the weight into national yuan)."""
        if idx.size == 0:
            return
        hh, ledger = self.model.households, self.model.ledger
        gain = np.broadcast_to(np.asarray(gain, np.float64), idx.shape)
        transfer = np.broadcast_to(np.asarray(transfer, np.float64), idx.shape)
        cost = np.broadcast_to(np.asarray(cost, np.float64), idx.shape)
        ledger.add_gain(self.index, idx, gain.astype(np.float32))
        ledger.transfer[idx] += transfer
        w = hh.weight[idx].astype(np.float64)
        ledger.spending[self.index] += np.bincount(hh.region[idx], cost * w, 3)
        ledger.add_reached(self.index, idx)
        ledger.county_spending += np.bincount(hh.county[idx], cost * w, ledger.county_spending.size)

    def record_places(self, eligible: np.ndarray, admitted: np.ndarray, enrolled: np.ndarray) -> None:
        """Record this year's offer of new places: the households ``eligible`` for a new
        enrolment, those of them the channel's capacity ``admitted`` (all of them where it has no
        cap) and those ``enrolled`` within the budget (index arrays). A channel with several
        sub-programmes records each; the report adds them up."""
        hh, ledger = self.model.households, self.model.ledger
        for table, idx in ((ledger.eligible, eligible), (ledger.capacity, admitted), (ledger.enrolled, enrolled)):
            table[self.index] += np.bincount(hh.region[idx], hh.weight[idx].astype(np.float64), 3)

    def fixed_guarantee(self, idx: np.ndarray) -> None:
        """Note that this channel made a guarantee of 两不愁三保障 hold for ``idx`` this year
        (safe housing or water, insurance, schooling), for exit attribution."""
        self.model.guarantee_channel[idx] = self.index
        self.model.guarantee_year[idx] = self.model.year

    def record_funds(self, funds_by_county: np.ndarray) -> None:
        """Record the funds made available to the channel this year (yuan per county)."""
        region = self.model.geography.county_region
        self.model.ledger.funds[self.index] += np.bincount(region, funds_by_county, 3)
        self.model.ledger.county_funds += funds_by_county

    def entitlement_funds(self, idx: np.ndarray, need: np.ndarray) -> float:
        """Fund an entitlement at ``budget.scale`` (times the channel's ``budget.channel_scale``)
        of the need of households ``idx`` (yuan per household); records the funds and returns
        the national amount."""
        hh, p = self.model.households, self.model.params
        by_county = np.bincount(hh.county[idx], need * hh.weight[idx], self.model.geography.n_counties)
        funds = by_county * (p["budget.scale"] * p["budget.channel_scale"][self.channel])
        self.record_funds(funds)
        return float(funds.sum())

    def uniform(self, name: str) -> np.ndarray:
        """This year's uniform per household from the channel's own stream ``name``."""
        m = self.model
        return m.streams.uniform(f"{self.channel}.{name}", m.year, m.households.n)

    def uniform_of(self, name: str, idx: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """The uniforms of :meth:`uniform` at candidates ``idx[positions]``, drawn on demand
        (rationing needs them only for its marginal candidates)."""
        m = self.model
        return lambda positions: m.streams.uniform_at(f"{self.channel}.{name}", m.year, idx[positions])

    def registered(self) -> np.ndarray:
        """Households in the registry now."""
        return self.model.households.status == REGISTERED

    def supported(self) -> np.ndarray:
        """Households the programmes support: registered now, or exited within their post-exit
        support period (摘帽不摘政策, 脱贫不脱政策: exited households keep their policies for a
        period, [cheng-2017] ch. 10 §2; [exit-mechanism-2016] §2; [xi-2015]; [plan-13th-fyp] ch. 11 §1), which averages
        ``governance.post_exit_support_years`` (:attr:`Governance.support_years`)."""
        hh, m = self.model.households, self.model
        recent_exit = (hh.status == EXITED) & (m.year - hh.exit_year <= m.governance.support_years)
        return (hh.status == REGISTERED) | recent_exit

    def registered_first(self, idx: np.ndarray, priority: np.ndarray) -> np.ndarray:
        """``priority`` (lower first) with every household not in the registry now (exited ones
        under post-exit support; on the relocation list, also those the 2015–16 re-check removed)
        ranked after every registered one: they stay eligible, but the registered poor come first."""
        return priority + EXITED_RANK * (self.model.households.status[idx] != REGISTERED)

    def members(self, idx: np.ndarray) -> np.ndarray:
        """Household sizes of ``idx`` as floats (for yuan-per-person amounts)."""
        return self.model.households.size[idx].astype(np.float64)

    def poorest_first(self, idx: np.ndarray) -> np.ndarray:
        """Targeting priority: last year's income per person against the line (lower first)."""
        return self.model.households.income_pc_of(idx)

    def select(
        self,
        idx: np.ndarray,
        priority: np.ndarray,
        cost: np.ndarray,
        budget: np.ndarray | float,
        by_county: bool = True,
        name: str = "marginal",
    ) -> np.ndarray:
        """Enrol candidates ``idx`` in ``priority`` order while their cost fits the budget.

        ``cost`` is yuan per household; the budget is national yuan, per county (``by_county``)
        or one national amount. The candidate at which a county's budget runs out is enrolled
        with probability equal to the share of its cost the remainder covers, so spending
        matches the budget in expectation at any scale. What counties leave unspent is pooled
        in their region and spent, in the same order, on the region's candidates not yet
        enrolled (the province recovers and reallocates idle county funds within the year;
        assumption, see :func:`~povsim.allocation.fit_within`). A county budget may be negative
        (running commitments beyond its allocation): it enrols no one and its overdraft is
        taken from the region's pool.

        At a coarse scale (more than one household per agent) the budgets of alike counties —
        same region, kind, planned exit year and deep-poverty tilt, which the population builder
        fills alike (``Sampling.rationing_cell``, :mod:`povsim.sampling`) — are rationed together, poorest first over
        their candidates: with all its households each such county would enrol those below the
        same cut-off, while a county's handful of agents puts its own cut-off wherever they happen
        to lie, blurring targeting (at 1:1000 that lowered the 2017 exits by 3% against finer
        scales). At 1:1 each county ranks its own households. An overdrawn county is then netted
        against its cell's budgets (overdrafts are mostly a coarse-scale effect: an agent's running
        commitment is that of many households), and county spending is recorded where the
        enrolled households live.
        """
        if idx.size == 0:
            return idx
        hh = self.model.households
        total = cost * hh.weight[idx]
        budget = np.atleast_1d(np.asarray(budget, np.float64))
        if not by_county:
            group, pool = np.zeros(idx.size, np.int8), None
        else:
            group, budget, pool = self.model.sampling.rationing(hh.county[idx], budget)
        u_pool = self.uniform_of(name + ".pooled", idx)
        return fit_within(idx, priority, total, group, budget, self.uniform_of(name, idx), pool=pool, u_pool=u_pool)

    def cap(
        self,
        idx: np.ndarray,
        priority: np.ndarray,
        amount: np.ndarray,
        capacity: float | np.ndarray,
        name: str = "capacity",
        group: np.ndarray | None = None,
    ) -> np.ndarray:
        """Keep candidates in ``priority`` order while the national ``amount`` (households or
        people, real units) stays within ``capacity``; the marginal one probabilistically. With
        ``group`` (a code 0 … k−1 per candidate), ``capacity`` holds one limit per group."""
        if idx.size == 0:
            return idx
        if group is None:
            group, capacity = np.zeros(idx.size, np.int8), np.array([capacity])
        return fit_within(
            idx,
            priority,
            amount.astype(np.float64),
            group,
            np.maximum(np.asarray(capacity, np.float64), 0.0),
            self.uniform_of(name, idx),
        )

    def admit(
        self, idx: np.ndarray, priority: np.ndarray, amount: np.ndarray, capacity: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The candidates :meth:`cap` admits within ``capacity`` and their priorities, to pass on to
        :meth:`select` (``idx`` sorted, as ``np.flatnonzero`` gives it)."""
        admitted = self.cap(idx, priority, amount, capacity)
        return admitted, priority[np.searchsorted(idx, admitted)]


def active(until: np.ndarray, year: int) -> np.ndarray:
    """Enrolments still running in ``year`` (``until`` is the last year, 0 = never enrolled)."""
    return until >= year


def even_pace(year: int, target_year: int) -> float:
    """The share of what is left to do that an even pace does in ``year`` to finish by
    ``target_year``: 1 / (years left), all of it from the target year on."""
    return 1.0 / max(target_year - year + 1, 1)


def depreciated(income: np.ndarray | float, rate: float, years: np.ndarray) -> np.ndarray:
    """An asset's income ``years`` after its support ended, declining at ``rate`` a year."""
    return income * (1.0 - rate) ** np.asarray(years, np.float64)
