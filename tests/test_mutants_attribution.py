"""Tests that kill mutants of :mod:`povsim.attribution` that tests/test_attribution.py leaves alive: the
boundaries of the rule (income without the gains exactly at the standard, gains under a yuan, a
guarantee fixed in the registration year or by the first channel, a relapse in the exit year) and the
main channel each exit records, on hand-made households."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from povsim.attribution import ATTRIBUTION_CHANNELS, ExitAttribution
from povsim.programs import CHANNELS

C = {name: i for i, name in enumerate(ATTRIBUTION_CHANNELS)}
STANDARD = 3000.0


def stub(gains: dict[str, list[float]], fixer=None, fixed_year=None, registered=None, size=None):
    """The parts of a model attribution reads: households (weight 1, region 0, registered in 2014 unless
    said) with this year's gains by channel and the channel and year that last fixed a guarantee; 2016."""
    n = len(next(iter(gains.values())))
    table = np.zeros((len(CHANNELS), n), np.float32)
    for name, row in gains.items():
        table[CHANNELS.index(name)] = row
    size = np.array(size or [1] * n, np.int8)
    households = SimpleNamespace(
        n=n,
        registered_year=np.array(registered or [2014] * n, np.int16),
        relapse_year=np.zeros(n, np.int16),
        region=np.zeros(n, np.int8),
        weight=np.ones(n, np.int32),
        size=size,
        people_weight_of=lambda idx: size[idx].astype(np.float64),
        add_state=lambda name, array: array,
    )
    return SimpleNamespace(
        year=2016,
        households=households,
        ledger=SimpleNamespace(gain_at=lambda idx: table[:, idx]),
        guarantee_channel=np.array(fixer or [-1] * n, np.int8),
        guarantee_year=np.array(fixed_year or [0] * n, np.int16),
    )


def main_channel(shares: np.ndarray) -> list[str]:
    return [ATTRIBUTION_CHANNELS[i] for i in np.argmax(shares, axis=1)]


def test_income_without_the_gains_exactly_at_the_standard_is_the_households_own():
    model = stub({"industry": [400.0, 400.0]})
    shares = ExitAttribution(model).shares(np.array([0, 1]), np.array([3400.0, 3399.0]), STANDARD)
    assert main_channel(shares) == ["own", "industry"]


def test_a_gain_under_one_yuan_that_carries_the_exit_is_credited():
    model = stub({"floor": [0.5]})
    shares = ExitAttribution(model).shares(np.array([0]), np.array([3000.2]), STANDARD)
    assert shares[0, C["floor"]] == 1.0


def test_a_guarantee_fixed_in_the_registration_year_or_by_the_first_channel_takes_the_exit():
    industry, housing = CHANNELS.index("industry"), CHANNELS.index("housing")
    model = stub(
        {"health": [0.0, 0.0, 0.0, 0.0]},
        fixer=[housing, industry, housing, -1],
        fixed_year=[2015, 2016, 2014, 0],
        registered=[2015, 2016, 2015, 2015],
    )
    shares = ExitAttribution(model).shares(np.arange(4), np.full(4, 5000.0), STANDARD)
    # fixed in the registration year; by industry (channel 0); before the registration; none
    assert main_channel(shares) == ["housing", "industry", "own", "own"]


def test_each_exit_records_its_main_channel():
    housing = CHANNELS.index("housing")
    model = stub(
        {"industry": [100.0, 0.0, 600.0, 0.0], "credit": [300.0, 0.0, 100.0, 0.0], "floor": [0.0, 0.0, 0.0, 0.0]},
        fixer=[-1, housing, -1, -1],
        fixed_year=[0, 2016, 0, 0],
    )
    attribution = ExitAttribution(model)
    income = np.array([3200.0, 5000.0, 3500.0, 5000.0])
    attribution.record(np.array([True, True, True, False]), income, STANDARD)
    assert attribution.exit_channel[:3].tolist() == [CHANNELS.index("credit"), housing, CHANNELS.index("industry")]
    assert attribution.exit_channel[3] == -1  # never exited
    # a later year's exits overwrite only their own households
    model.year = 2017
    attribution.record(np.array([False, False, False, True]), income, STANDARD)
    assert attribution.exit_channel.tolist() == [
        CHANNELS.index("credit"),
        housing,
        CHANNELS.index("industry"),
        C["own"],
    ]


def test_a_relapse_in_the_exit_year_itself_does_not_count_against_the_cohort():
    model = stub({"industry": [500.0, 500.0, 500.0]}, size=[2, 3, 4])
    attribution = ExitAttribution(model)
    attribution.record(np.ones(3, bool), np.full(3, 3200.0), STANDARD)
    model.households.relapse_year[:] = [2016, 2019, 2020]  # the exit year; within three years; after
    cohort, by_region = attribution.sustained(2019)
    assert cohort == 2016
    assert by_region[C["industry"], 0] == 2 + 4
