"""Tests that kill mutants of :mod:`povsim.programs.base` (the ledger, recording, rationing helpers), and
the probe the other ``test_mutants_*`` files use to watch one programme's yearly step.

:func:`probe` runs a small model (1 : 5000, ~10k agents, a quarter of a second) with one programme's
``step`` watched: what the test's ``capture`` reads of the model before and after the step, and every
``record``, ``record_places`` and ``record_funds`` call the step makes. The tests then recompute what
the step should have done from the household table and the documented parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from povsim import PovertyModel
from povsim.households import EXITED, REGISTERED
from povsim.programs.base import (
    CHANNELS,
    EXITED_RANK,
    ChannelLedger,
    active,
    binding_limit,
    depreciated,
    even_pace,
)

SMALL = dict(seed=1, scale=5000, poor_area_scale=5000)
"""A small model: ~10k household agents, 1 : 5000 everywhere."""


@dataclass
class Record:
    idx: np.ndarray
    gain: np.ndarray
    transfer: np.ndarray
    cost: np.ndarray


@dataclass
class Step:
    """One year's step of the watched programme."""

    year: int
    budget: np.ndarray | None
    income: np.ndarray | None
    before: dict[str, Any]
    after: dict[str, Any] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    places: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    funds: np.ndarray | None = None
    selections: list[dict[str, Any]] = field(default_factory=list)  # select() and cap() calls: arguments, result

    def recorded(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gain, transfer and cost summed per household over the step's records (dense, length ``n``)."""
        out = np.zeros((3, n))
        for r in self.records:
            for row, v in zip(out, (r.gain, r.transfer, r.cost), strict=True):
                np.add.at(row, r.idx, v)
        return out[0], out[1], out[2]


def household_state(model: PovertyModel) -> dict[str, np.ndarray]:
    """The household table's columns, copied."""
    hh = model.households
    return {name: np.array(value, copy=True) for name, value in vars(hh).items() if isinstance(value, np.ndarray)}


def probe(
    channel: str,
    capture: Callable[[PovertyModel], dict[str, Any]] = household_state,
    model: PovertyModel | None = None,
    end_year: int = 2017,
    **overrides: Any,
) -> tuple[PovertyModel, list[Step]]:
    """Run ``model`` (default a :data:`SMALL` one to ``end_year`` with ``overrides``) with the ``channel``
    programme's step watched; returns the model and its steps."""
    if model is None:
        model = PovertyModel(end_year=end_year, **{**SMALL, **overrides})
    prog = model.programme(channel)
    steps: list[Step] = []
    step, record, places, funds = prog.step, prog.record, prog.record_places, prog.record_funds
    select, cap = prog.select, prog.cap

    def watched_record(idx, *, gain=0.0, transfer=0.0, cost=0.0):
        shape = np.shape(idx)
        values = (np.broadcast_to(np.asarray(v, np.float64), shape).copy() for v in (gain, transfer, cost))
        steps[-1].records.append(Record(np.array(idx, copy=True), *values))
        return record(idx, gain=gain, transfer=transfer, cost=cost)

    def watched_places(eligible, admitted, enrolled):
        steps[-1].places.append(tuple(np.array(a, copy=True) for a in (eligible, admitted, enrolled)))
        return places(eligible, admitted, enrolled)

    def watched_funds(by_county):
        s = steps[-1]
        s.funds = (0.0 if s.funds is None else s.funds) + np.asarray(by_county, np.float64)
        return funds(by_county)

    def watched(kind, fn):
        def call(idx, priority, amount, limit, *args, **kwargs):
            out = fn(idx, priority, amount, limit, *args, **kwargs)
            if steps:
                arrays = dict(idx=idx, priority=priority, amount=amount, limit=limit, chosen=out)
                steps[-1].selections.append(
                    {"kind": kind, "args": args, "kwargs": kwargs}
                    | {name: np.array(a, copy=True) for name, a in arrays.items()}
                )
            return out

        return call

    def watched_step(m, budget, income=None):
        steps.append(
            Step(
                m.year,
                None if budget is None else np.array(budget, copy=True),
                None if income is None else np.array(income, copy=True),
                capture(m),
            )
        )
        step(m, budget, income)
        steps[-1].after = capture(m)

    prog.step, prog.record, prog.record_places, prog.record_funds = (
        watched_step,
        watched_record,
        watched_places,
        watched_funds,
    )
    prog.select, prog.cap = watched("select", select), watched("cap", cap)
    model.run_model()
    return model, steps


def supported_mask(model: PovertyModel, year: int, status: np.ndarray, exit_year: np.ndarray) -> np.ndarray:
    """Registered, or exited within the household's post-exit support period in ``year`` (recomputed)."""
    recent = (status == EXITED) & (year - exit_year <= model.governance.support_years)
    return (status == REGISTERED) | recent


def priority_prefix(idx: np.ndarray, priority: np.ndarray, chosen: np.ndarray) -> bool:
    """Whether ``chosen`` are the first of candidates ``idx`` in ``priority`` order (lowest first, ties in
    index order): one national queue, taken while the money lasts."""
    order = idx[np.argsort(priority, kind="stable")]
    return set(chosen.tolist()) == set(order[: chosen.size].tolist())


def weighted(model: PovertyModel, idx: np.ndarray) -> float:
    return float(model.households.weight[idx].astype(np.float64).sum())


# -- the shared helpers, on known answers ------------------------------------------------------------
def test_binding_limit_codes_budget_capacity_eligibility_and_nobody():
    eligible = np.array([0, 10, 10, 10, 10])
    capacity = np.array([0, 10, 6, 6, 10])
    enrolled = np.array([0, 10, 6, 4, 7])
    assert binding_limit(eligible, capacity, enrolled).tolist() == [-1, 2, 1, 0, 0]
    # one household (weight 1) eligible: eligibility, capacity or budget bound all the same
    assert binding_limit([1, 1, 1], [1, 0, 1], [1, 0, 0]).tolist() == [2, 1, 0]


def test_even_pace_is_one_over_the_years_left_and_all_from_the_target_year():
    assert even_pace(2016, 2020) == pytest.approx(1 / 5)
    assert even_pace(2019, 2020) == pytest.approx(1 / 2)
    assert even_pace(2020, 2020) == 1.0
    assert even_pace(2023, 2020) == 1.0


def test_active_enrolments_run_through_their_last_year():
    until = np.array([0, 2016, 2017, 2018])
    assert active(until, 2017).tolist() == [False, False, True, True]


def test_depreciated_income_declines_at_the_rate_per_year():
    assert depreciated(1000.0, 0.1, np.array([0, 1, 3])).tolist() == pytest.approx([1000.0, 900.0, 729.0])


def test_exited_rank_puts_every_unregistered_household_after_the_registered():
    assert EXITED_RANK >= 1e7  # far above any income per person the priorities hold


def test_ledger_gains_transfers_and_beneficiaries_by_region():
    """Two channels' gains on five households, read back row by row, by household, and as national yuan
    and beneficiaries by region (weights 1, 2, 3, 4, 5; regions 0, 0, 1, 2, 2)."""

    class Table:
        weight = np.array([1, 2, 3, 4, 5], np.int32)
        size = np.array([2, 1, 3, 1, 4], np.int8)
        region = np.array([0, 0, 1, 2, 2], np.int8)

        def people_weight_of(self, idx):
            return self.weight[idx].astype(np.float64) * self.size[idx]

    hh = Table()
    ledger = ChannelLedger(5, 2)
    ledger.add_gain(0, np.array([0, 2, 3]), np.array([10.0, 0.0, 5.0], np.float32))
    ledger.add_gain(0, np.array([3]), np.array([1.0], np.float32))
    ledger.add_gain(4, np.array([1, 4]), np.array([7.0, 2.0], np.float32))
    ledger.add_reached(0, np.array([0, 2, 3]))
    ledger.add_reached(0, np.array([3]))
    ledger.add_reached(4, np.array([1, 4]))
    ledger.add_reached(2, np.array([0, 1]))  # the east only
    assert ledger.gain_row(0).tolist() == [10.0, 0.0, 0.0, 6.0, 0.0]
    assert ledger.gain_at(np.array([3, 1])).tolist()[0] == [6.0, 0.0]
    assert ledger.gain_at(np.array([3, 1])).tolist()[4] == [0.0, 7.0]
    assert ledger.gain.shape == (len(CHANNELS), 5)
    assert ledger.gain[4].tolist() == [0.0, 7.0, 0.0, 0.0, 2.0]
    income = ledger.income(hh.weight, hh.region)
    assert income[0].tolist() == [10.0, 0.0, 24.0]  # 10 × 1; nothing in region 1 (a zero gain); 6 × 4
    assert income[4].tolist() == [14.0, 0.0, 10.0]
    households, people = ledger.beneficiaries(hh)
    assert households[0].tolist() == [1.0, 3.0, 4.0]  # household 3 reached twice, counted once
    assert people[0].tolist() == [2.0, 9.0, 4.0]
    assert households[4].tolist() == [2.0, 0.0, 5.0]
    assert households[1].tolist() == [0.0, 0.0, 0.0]
    assert households[2].tolist() == [3.0, 0.0, 0.0] and people[2].tolist() == [4.0, 0.0, 0.0]
    assert ledger.gain_row(0).dtype == np.float32 and ledger.gain_at(np.array([0])).dtype == np.float32
    ledger.transfer[:] = 3.0
    ledger.spending[:] = 1.0
    ledger.reset()
    assert not ledger.gain_row(0).any() and not ledger.transfer.any() and not ledger.spending.any()
    assert not ledger.beneficiaries(hh)[0].any()


# -- the Programme helpers, on a small model --------------------------------------------------------
@pytest.fixture(scope="module")
def built() -> PovertyModel:
    """A small model after three years (registered, never-registered, and exited households, some past
    their post-exit support)."""
    model = PovertyModel(end_year=2017, **SMALL)
    model.run_model()
    return model


def test_programme_reads_its_own_parameters_and_switch(built):
    prog = built.programme("credit")
    assert prog.param("loan") == built.params["programs.credit.loan"]
    assert prog.index == CHANNELS.index("credit") and prog.enabled is True
    off = PovertyModel(end_year=2015, **SMALL, **{"programs.credit.enabled": False}).programme("credit")
    assert off.enabled is False
    assert built.programme("industry").income_risk(built) == 0.0


def test_supported_registered_and_registered_first(built):
    hh = built.households
    prog = built.programme("industry")
    registered = hh.status == REGISTERED
    assert prog.registered().tolist() == registered.tolist()
    recent = (hh.status == EXITED) & (built.year - hh.exit_year <= built.governance.support_years)
    assert prog.supported().tolist() == (registered | recent).tolist()
    assert recent.any() and ((hh.status == EXITED) & ~recent).any()
    idx = np.flatnonzero(hh.status != 99)
    got = prog.registered_first(idx, np.zeros(idx.size))
    assert got.tolist() == np.where(registered, 0.0, EXITED_RANK).tolist()
    income = hh.income_pc
    assert prog.poorest_first(idx).tolist() == income.tolist()
    assert prog.members(idx).tolist() == hh.size.astype(float).tolist() and prog.members(idx).dtype == np.float64


def test_uniform_streams_are_the_channels_own(built):
    prog = built.programme("credit")
    n, y = built.households.n, built.year
    expected = built.streams.uniform("credit.renewal", y, n)
    assert prog.uniform("renewal").tolist() == expected.tolist()
    idx = np.array([3, 10, 200])
    at = prog.uniform_of("renewal", idx)
    assert at(np.array([0, 2])).tolist() == expected[[3, 200]].tolist()


def test_record_adds_gains_transfers_national_spending_by_region_and_county(built):
    prog = built.programme("health")
    hh, ledger = built.households, built.ledger
    ledger.reset()
    idx = np.array([0, 5, 7])
    prog.record(idx, gain=np.array([10.0, 20.0, 30.0]), transfer=5.0, cost=np.array([100.0, 200.0, 300.0]))
    prog.record(np.array([5]), gain=1.0, cost=50.0)
    prog.record(np.array([], np.int64), gain=1e9, transfer=1e9, cost=1e9)
    prog.record(np.array([9]), gain=4.0, transfer=4.0)  # no cost given: none spent
    w = hh.weight.astype(float)
    row = ledger.gain_row(prog.index)
    assert row[[0, 5, 7, 9]].tolist() == [10.0, 21.0, 30.0, 4.0] and row.sum() == 65.0
    assert ledger.transfer[[0, 5, 7, 9]].tolist() == [5.0, 5.0, 5.0, 4.0] and ledger.transfer.sum() == 19.0
    spent = {0: 100 * w[0], 5: (200 + 50) * w[5], 7: 300 * w[7]}
    by_region = np.zeros(3)
    by_county = np.zeros(built.geography.n_counties)
    for i, v in spent.items():
        by_region[hh.region[i]] += v
        by_county[hh.county[i]] += v
    np.testing.assert_allclose(ledger.spending[prog.index], by_region)
    np.testing.assert_allclose(ledger.county_spending, by_county)
    assert ledger.spending.sum() == pytest.approx(sum(spent.values()))
    households, _ = ledger.beneficiaries(hh)
    assert households[prog.index].sum() == w[[0, 5, 7, 9]].sum()


def test_record_places_funds_and_guarantees(built):
    prog = built.programme("housing")
    hh, ledger, geo = built.households, built.ledger, built.geography
    ledger.reset()
    w = hh.weight.astype(float)
    eligible, admitted, enrolled = np.array([1, 2, 3, 4]), np.array([1, 2, 4]), np.array([2])
    prog.record_places(eligible, admitted, enrolled)
    prog.record_places(np.array([9]), np.array([9]), np.array([9]))
    for table, members in (
        (ledger.eligible, [1, 2, 3, 4, 9]),
        (ledger.capacity, [1, 2, 4, 9]),
        (ledger.enrolled, [2, 9]),
    ):
        expected = np.bincount(hh.region[members], w[members], 3)
        np.testing.assert_allclose(table[prog.index], expected)
        assert not np.delete(table, prog.index, axis=0).any()
    funds = np.arange(geo.n_counties, dtype=float)
    prog.record_funds(funds)
    prog.record_funds(funds)
    np.testing.assert_allclose(ledger.funds[prog.index], 2 * np.bincount(geo.county_region, funds, 3))
    np.testing.assert_allclose(ledger.county_funds, 2 * funds)
    before_channel, before_year = built.guarantee_channel.copy(), built.guarantee_year.copy()
    prog.fixed_guarantee(np.array([4, 6]))
    assert built.guarantee_channel[[4, 6]].tolist() == [prog.index] * 2
    assert built.guarantee_year[[4, 6]].tolist() == [built.year] * 2
    rest = np.setdiff1d(np.arange(hh.n), [4, 6])
    assert (built.guarantee_channel[rest] == before_channel[rest]).all()
    assert (built.guarantee_year[rest] == before_year[rest]).all()


def test_entitlement_funds_are_the_need_times_the_levers_by_county(built):
    hh, geo = built.households, built.geography
    for scale, channel_scale in ((1.0, 1.0), (0.5, 1.0), (0.8, 1.5)):
        model = PovertyModel(
            end_year=2015, **SMALL, **{"budget.scale": scale, "budget.channel_scale.health": channel_scale}
        )
        prog = model.programme("health")
        model.ledger.reset()
        idx = np.array([0, 1, 2, 50])
        need = np.array([100.0, 0.0, 30.0, 7.0])
        total = prog.entitlement_funds(idx, need)
        w = model.households.weight[idx].astype(float)
        by_county = np.bincount(model.households.county[idx], need * w, model.geography.n_counties)
        np.testing.assert_allclose(model.ledger.county_funds, by_county * scale * channel_scale)
        assert total == pytest.approx((need * w).sum() * scale * channel_scale)
    assert hh.n > 0 and geo.n_counties > 0


def test_cap_keeps_the_first_in_priority_within_the_capacity_and_admit_passes_their_priorities(built):
    prog = built.programme("credit")
    w = built.households.weight.astype(float)
    idx = np.arange(40, dtype=np.int64)
    priority = np.arange(40, dtype=float)[::-1]  # the last index first
    cap_total = w[idx[-10:]].sum()  # exactly the last ten
    kept = prog.cap(idx, priority, w[idx], cap_total)
    assert kept.tolist() == idx[-10:].tolist()
    assert prog.cap(idx[:0], priority[:0], w[:0], 5.0).size == 0
    assert prog.cap(idx, priority, w[idx], -5.0).size == 0  # a negative capacity admits no one
    ones = np.ones(40)
    assert prog.cap(idx, priority, ones, 0.0).size == 0  # nor does none, for candidates of one household
    assert prog.cap(idx[:1], priority[:1], ones[:1], 0.0).size == 0
    assert prog.cap(idx[:1], priority[:1], ones[:1], 1.0).tolist() == [0]
    admitted, admitted_priority = prog.admit(idx, priority, w[idx], cap_total)
    assert admitted.tolist() == idx[-10:].tolist() and admitted_priority.tolist() == priority[-10:].tolist()
    # by group: one capacity each
    group = (idx % 2).astype(np.int8)
    caps = np.array([w[idx[-2::-2][:3]].sum(), 0.0])  # three even households, no odd one
    kept = prog.cap(idx, priority, w[idx], caps, group=group)
    assert sorted(kept.tolist()) == sorted(idx[-2::-2][:3].tolist())


def test_select_enrols_in_priority_within_a_national_budget(built):
    prog = built.programme("health")
    idx = np.arange(30, dtype=np.int64)
    w = built.households.weight[idx].astype(float)
    priority = np.arange(30, dtype=float)
    cost = np.full(30, 100.0)
    budget = (cost * w)[:12].sum()
    chosen = prog.select(idx, priority, cost, budget, by_county=False)
    assert chosen.tolist() == idx[:12].tolist()
    assert prog.select(idx[:0], priority[:0], cost[:0], budget).size == 0
    everyone = prog.select(idx, priority, cost, 1e18, by_county=False)
    assert everyone.tolist() == idx.tolist()


def test_select_by_county_rations_alike_counties_together_at_a_coarse_scale(built):
    """At 1 : 5000 a county's budget is pooled with its rationing cell's: a county without money still
    enrols its cell's poorest when another county of the cell brings the money."""
    prog = built.programme("employment")
    hh, gov = built.households, built.governance
    cells, counts = np.unique(gov.model.sampling.rationing_cell[hh.county], return_counts=True)
    cell = cells[np.argmax(counts)]
    members = np.flatnonzero(gov.model.sampling.rationing_cell[hh.county] == cell)
    counties = np.unique(hh.county[members])
    assert counties.size >= 2
    idx = members[:20]
    priority = np.arange(idx.size, dtype=float)
    cost = np.full(idx.size, 10.0)
    w = hh.weight[idx].astype(float)
    budget = np.zeros(built.geography.n_counties)
    budget[counties[-1]] = (cost * w)[:5].sum()  # all the cell's money in one county
    chosen = prog.select(idx, priority, cost, budget)
    assert chosen.tolist() == np.sort(idx[:5]).tolist()
    assert np.unique(hh.county[idx[:5]]).size >= 1


def test_select_by_county_at_one_to_one_ranks_each_countys_own_households_first(built):
    """At 1 : 1 (and up to 1 : 1 exactly) a county's money goes to its own candidates first, before what
    is left is pooled in the region; above it, alike counties are rationed together, poorest first."""
    prog = built.programme("employment")
    hh, gov = built.households, built.governance
    cell_of = gov.model.sampling.rationing_cell[hh.county]
    cells, counts = np.unique(cell_of, return_counts=True)
    cell = cells[np.argmax(counts)]
    members = np.flatnonzero(cell_of == cell)
    x, y = np.unique(hh.county[members])[:2]
    in_x = members[hh.county[members] == x][:3]
    in_y = members[hh.county[members] == y][:3]
    idx = np.sort(np.r_[in_x, in_y])
    priority = np.where(np.isin(idx, in_y), 0.0, 1.0) + idx * 1e-9  # county y's candidates are the poorer
    cost = np.full(idx.size, 10.0)
    w = hh.weight[idx].astype(float)
    budget = np.zeros(built.geography.n_counties)
    budget[x] = (cost * w)[np.isin(idx, in_x)].sum()  # exactly county x's candidates
    scale = built.scale
    try:
        built.scale = 1.0
        assert prog.select(idx, priority, cost, budget).tolist() == np.sort(in_x).tolist()
        built.scale = 2.0
        assert set(prog.select(idx, priority, cost, budget).tolist()) >= set(in_y[:2].tolist())
    finally:
        built.scale = scale


def test_select_offers_a_cells_unused_money_to_the_regions_other_cells(built):
    prog = built.programme("employment")
    hh, gov = built.households, built.governance
    cell_of = gov.model.sampling.rationing_cell[hh.county]
    region = gov.model.sampling.rationing_cell_region
    # two cells of one region: the money in one, the candidates in the other
    cells = np.flatnonzero(region == region[cell_of[0]])
    rich, poor = cells[0], next(c for c in cells[1:] if (cell_of == c).any())
    idx = np.flatnonzero(cell_of == poor)[:4]
    cost = np.full(idx.size, 10.0)
    budget = np.zeros(built.geography.n_counties)
    budget[np.flatnonzero(gov.model.sampling.rationing_cell == rich)[0]] = (cost * hh.weight[idx]).sum() * 2
    chosen = prog.select(idx, np.arange(idx.size, dtype=float), cost, budget)
    assert chosen.tolist() == idx.tolist()
