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
    ledger.transfer[:] = 3.0
    ledger.spending[:] = 1.0
    ledger.reset()
    assert not ledger.gain_row(0).any() and not ledger.transfer.any() and not ledger.spending.any()
    assert not ledger.beneficiaries(hh)[0].any()
