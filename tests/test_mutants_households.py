"""Tests that kill mutants of :mod:`povsim.households`: the household table's helpers on a hand-built
table of four households, against answers worked out by hand."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from povsim.households import COLUMNS, EXITED, NOT_REGISTERED, REGISTERED, Households


def table(**columns) -> Households:
    """Four households: sizes 4, 1, 6, 3; weights 2, 1, 1000, 5; regions east, central, west, west;
    counties 0, 2, 2, 1."""
    base = dict(
        weight=np.array([2, 1, 1000, 5], np.int32),
        region=np.array([0, 1, 2, 2], np.int8),
        county=np.array([0, 2, 2, 1], np.int16),
        village=np.array([0, 3, 3, 1], np.int32),
        size=np.array([4, 1, 6, 3], np.int8),
        children=np.array([2, 0, 3, 0], np.int8),
        workers=np.array([2, 0, 2, 1], np.int8),
        elderly=np.array([0, 1, 1, 1], np.int8),
        ill=np.array([0, 0, 0, 1], np.int8),
        disabled=np.array([0, 0, 0, 0], np.int8),
        out_of_school=np.array([0, 0, 1, 0], np.int8),
        migrants=np.array([1, 0, 2, 0], np.int8),
        skills=np.array([1, 0, 2, 0], np.int8),
        land=np.array([3.0, 1.0, 5.0, 0.0], np.float32),
        hazard_zone=np.array([False, False, True, False]),
        housing_safe=np.array([True, True, True, False]),
        water_safe=np.array([True, False, True, True]),
        insured=np.array([True, True, True, True]),
        cause_illness=np.array([False, False, False, True]),
        cause_capital=np.array([True, False, False, False]),
        cause_skills=np.array([False, False, True, False]),
        cause_labour=np.array([False, True, False, False]),
        farm=np.array([1000.0, 500.0, 2000.0, 300.0]),
        local_earnings=np.array([3000.0, 0.0, 2500.0, 1200.0]),
        remittance=np.array([8000.0, 0.0, 9000.0, 0.0]),
        business=np.array([0.0, 0.0, 400.0, 0.0]),
        transfers=np.array([100.0, 1200.0, 0.0, 600.0]),
        property=np.array([0.0, 50.0, 0.0, 0.0]),
        income=np.zeros(4),
        poor=np.array([False, True, False, True]),
        poor_prev=np.array([False, True, True, False]),
        status=np.array([REGISTERED, NOT_REGISTERED, EXITED, REGISTERED], np.int8),
        registered_year=np.array([2014, 0, 2014, 2016], np.int16),
        exit_year=np.array([0, 0, 2016, 0], np.int16),
        relapses=np.array([0, 0, 1, 0], np.int8),
        relapse_year=np.array([0, 0, 2017, 0], np.int16),
    )
    base.update(columns)
    return Households(**base)


def test_income_from_sources_adds_farm_wages_at_home_and_away_business_transfers_and_property():
    hh = table()
    hh.set_income_from_sources()
    # farm + (workers − migrants) × local earnings + migrants × remittance + business + transfers + property
    assert hh.income.tolist() == [
        1000 + 1 * 3000 + 1 * 8000 + 0 + 100 + 0,
        500 + 0 + 0 + 0 + 1200 + 50,
        2000 + 0 * 2500 + 2 * 9000 + 400 + 0 + 0,
        300 + 1 * 1200 + 0 + 0 + 600 + 0,
    ]
    assert hh.income_pc_of(np.array([0, 3])).tolist() == [12100 / 4, 2100 / 3]
    assert hh.income_pc_of(np.array([2])).tolist() == [20400 / 6]


def test_income_by_source_names_each_persistent_level():
    hh = table()
    by_source = hh.income_by_source()
    assert list(by_source) == ["farm", "local_wage", "migrant_wage", "business", "transfers", "property"]
    assert by_source["farm"].tolist() == [1000.0, 500.0, 2000.0, 300.0]
    assert by_source["local_wage"].tolist() == [3000.0, 0.0, 0.0, 1200.0]
    assert by_source["migrant_wage"].tolist() == [8000.0, 0.0, 18000.0, 0.0]
    assert by_source["property"].tolist() == [0.0, 50.0, 0.0, 0.0]


def test_people_weight_of_is_weight_times_size_as_exact_floats():
    hh = table(weight=np.array([2, 1, 2_000_000_000, 5], np.int32))
    people = hh.people_weight_of(np.array([0, 2, 3]))
    assert people.dtype == np.float64
    assert people.tolist() == [8.0, 12_000_000_000.0, 15.0]
    assert hh.people_weight_of(slice(1, 2)).tolist() == [1.0]


def test_people_by_county_sums_the_masked_households_people():
    hh = table()
    mask = np.array([True, True, False, True])
    assert hh.people_by_county(mask, 4).tolist() == [8.0, 15.0, 1.0, 0.0]
    assert hh.people_by_county(np.ones(4, bool), 3).tolist() == [8.0, 15.0, 6001.0]
    assert hh.people_by_county(np.zeros(4, bool), 3).tolist() == [0.0, 0.0, 0.0]


def test_two_assurances_three_guarantees_need_schooling_insurance_house_and_water():
    hh = table(insured=np.array([True, True, True, False]), housing_safe=np.array([True, True, True, True]))
    # household 1: unsafe water; 2: a child out of school; 3: uninsured
    assert hh.two_assurances_three_guarantees().tolist() == [True, False, False, False]
    hh = table(
        water_safe=np.ones(4, bool), out_of_school=np.zeros(4, np.int8), housing_safe=np.array([1, 1, 1, 0], bool)
    )
    assert hh.two_assurances_three_guarantees().tolist() == [True, True, True, False]


def test_check_accepts_a_consistent_table():
    table().check()
    # the bounds themselves are allowed: all members children, all workers away, all children out of school
    table(
        size=np.array([2, 1, 6, 3], np.int8),
        children=np.array([2, 0, 3, 0], np.int8),
        workers=np.array([0, 0, 2, 2], np.int8),
        migrants=np.array([0, 0, 2, 2], np.int8),
        out_of_school=np.array([2, 0, 1, 0], np.int8),
        ill=np.array([0, 0, 1, 0], np.int8),
    ).check()


@pytest.mark.parametrize(
    "columns, message",
    [
        (
            dict(size=np.array([4, 0, 6, 3], np.int8), elderly=np.array([0, 0, 1, 1], np.int8)),
            "household with no members",
        ),
        (dict(children=np.array([3, 0, 3, 0], np.int8)), "more members by category than size"),
        (dict(elderly=np.array([0, 2, 1, 1], np.int8)), "more members by category than size"),
        (dict(migrants=np.array([3, 0, 2, 0], np.int8)), "migrants exceed workers"),
        (dict(migrants=np.array([1, -1, 2, 0], np.int8)), "migrants exceed workers"),
        (dict(out_of_school=np.array([0, 1, 1, 0], np.int8)), "out-of-school exceeds children"),
        (dict(ill=np.array([0, 0, 2, 0], np.int8)), "ill members must be non-workers"),
        (dict(weight=np.array([2, 0, 1000, 5], np.int32)), "weights must be positive"),
    ],
)
def test_check_names_each_inconsistency(columns, message):
    with pytest.raises(AssertionError, match=f"^{message}$"):
        table(**columns).check()


def test_table_has_one_row_per_household_with_readable_codes():
    hh = table()
    hh.set_income_from_sources()
    df = hh.table()
    assert len(df) == 4
    assert set(COLUMNS) <= set(df.columns)
    assert {f.name for f in fields(Households)} == {*COLUMNS, "states"}
    assert df["region"].tolist() == ["east", "central", "west", "west"]
    assert df["status"].tolist() == ["registered", "not_registered", "exited", "registered"]
    assert df["income_pc"].tolist() == [12100 / 4, 1750.0, 20400 / 6, 700.0]
    assert df["people_weight"].tolist() == [8, 1, 6000, 15]
    assert df["local_wage"].tolist() == [3000.0, 0.0, 0.0, 1200.0]
    assert df["migrant_wage"].tolist() == [8000.0, 0.0, 18000.0, 0.0]
