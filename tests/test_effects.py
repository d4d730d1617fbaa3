"""Each registered lasting income effect (issue 20, item 2): the household state and the channel's credit
come from one record and agree — the level is multiplied by the factor once, in the start year, and every
year from then on the channel is credited with what the multiplier adds to the income the level makes,
recomputed here from the household table."""

from __future__ import annotations

import numpy as np
import pytest

from povsim import PovertyModel
from povsim.programs.base import CHANNELS
from povsim.programs.effects import IncomeEffects

KINDS = [
    ("relocation", "farm"),
    ("relocation", "local_earnings"),
    ("education", "local_earnings"),
    ("education", "remittance"),
]


def level_income(columns: dict[str, np.ndarray], level: str, idx: np.ndarray) -> np.ndarray:
    """The yearly income ``level`` makes for households ``idx``, from the household table."""
    if level == "farm":
        return columns["farm"][idx].astype(np.float64)
    if level == "local_earnings":
        return (columns["workers"][idx] - columns["migrants"][idx]) * columns["local_earnings"][idx].astype(np.float64)
    return columns["migrants"][idx] * columns["remittance"][idx].astype(np.float64)


@pytest.fixture(scope="module")
def watched():
    applied, credited = [], []
    apply, credit = IncomeEffects._apply, IncomeEffects.credit

    def watched_apply(self, effect):
        column = self.hh.columns()[effect.level]
        before = column[effect.idx].copy()
        apply(self, effect)
        applied.append((self.hh_year, effect, before, column[effect.idx].copy()))

    def watched_credit(self, ledger, year):
        add_gain = ledger.add_gain
        columns = {k: v.copy() for k, v in self.hh.columns().items()}

        def noted(c, idx, gain):
            credited.append((year, c, np.array(idx), np.array(gain, np.float64), columns))
            return add_gain(c, idx, gain)

        ledger.add_gain = noted
        try:
            credit(self, ledger, year)
        finally:
            del ledger.add_gain

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(IncomeEffects, "_apply", watched_apply)
        mp.setattr(IncomeEffects, "credit", watched_credit)
        model = PovertyModel(seed=4, end_year=2018, scale=2000, poor_area_scale=500)
        model.effects.hh_year = None
        step = model.step

        def stepping():
            model.effects.hh_year = model.year + 1
            step()

        model.step = stepping
        model.run_model()
    return model, applied, credited


@pytest.mark.parametrize(("channel", "level"), KINDS)
def test_the_level_is_multiplied_once_by_the_factor_in_the_start_year(watched, channel, level):
    model, applied, _ = watched
    c = CHANNELS.index(channel)
    mine = [(year, e, before, after) for year, e, before, after in applied if e.channel == c and e.level == level]
    assert mine, f"no {channel} effect on {level} applied"
    for year, effect, before, after in mine:
        assert year == effect.start
        np.testing.assert_array_equal(after, (before * effect.factor).astype(after.dtype))
    ids = [id(e) for _, e, _, _ in mine]
    assert len(ids) == len(set(ids))  # each record applied once
    registered = [e for e in model.effects.effects if e.channel == c and e.level == level and e.start <= model.year]
    assert {id(e) for e in registered} == set(ids)  # every record in force was applied


@pytest.mark.parametrize(("channel", "level"), KINDS)
def test_the_channel_is_credited_what_the_multiplier_adds_every_year_from_the_start(watched, channel, level):
    model, _, credited = watched
    c = CHANNELS.index(channel)
    checked = 0
    for year in range(2015, model.year + 1):
        calls = [call for call in credited if call[0] == year]
        in_force = [e for e in model.effects.effects if e.start <= year]
        # one credit per record in force, in the register's order; none for a record not yet started
        assert len(calls) == len(in_force), year
        for (_, cc, idx, gain, columns), effect in zip(calls, in_force, strict=True):
            assert cc == effect.channel and np.array_equal(idx, effect.idx)
            if effect.channel == c and effect.level == level:
                expected = level_income(columns, level, idx) * (1.0 - 1.0 / effect.factor)
                np.testing.assert_allclose(gain, expected.astype(np.float32), rtol=1e-6, atol=1e-3)
                assert (np.sign(gain) == np.sign(effect.factor - 1.0))[expected != 0].all()
                checked += 1
    assert checked > 0, f"no credit of a {channel} effect on {level}"
