"""Invariants recomputed from the household table, for any test to call.

A model is run year by year under observation (:func:`observe`): after each year the household
table's registry columns are copied (a :class:`Snapshot`), and every programme's ``record`` and
``record_funds`` calls are noted as they happen, with the programme's state before its step. The
``check_*`` functions then recompute a measure from that record — never from the code that
produced it — and compare it with what ``model.results()`` reports, raising ``AssertionError``
with the numbers when they differ:

* :func:`check_exits_and_relapse` — exits are the households whose ``exit_year`` became the year;
  relapse is the exited households (at the end of last year) that are below the line now and were
  not last year, and exactly those get ``relapse_year`` = the year and one more ``relapses``;
* :func:`check_sustained_exits` — a cohort's sustained exits are its exits less those that relapsed
  within three years, from the exit and relapse records of the snapshots;
* :func:`check_funds` — ``funds_yuan`` of each budgeted channel, less what it carried over, is the
  documented money (the funds by source and year in ``budget.*``, with the household-programme shares)
  times ``budget.scale``, ``budget.shares`` and ``budget.channel_scale``, recomputed from the
  parameters by the rule ``src/povsim/params/budget.toml`` documents;
* :func:`check_spending` — ``spending_yuan`` is what the channels recorded, and each channel's spending
  is the cash its beneficiaries received (transfers it paid) plus its documented unit costs
  (``programs.<channel>.*``) times the households it enrolled, counted from its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from povsim import PovertyModel
from povsim.households import EXITED
from povsim.programs import CHANNELS

REGIONS = ("east", "central", "west")
POOL_CHANNELS = ("industry", "employment", "ecology", "education", "credit")
ENTITLEMENTS = ("floor", "health", "housing")
SUSTAINED_YEARS = 3
"""A cohort's exits are sustained when not followed by relapse within this many years (README)."""


@dataclass
class Snapshot:
    """The registry columns of the household table at the end of one year."""

    year: int
    status: np.ndarray
    exit_year: np.ndarray
    relapse_year: np.ndarray
    relapses: np.ndarray
    poor: np.ndarray
    people: np.ndarray  # real people per row (weight × size), float64
    region: np.ndarray

    @classmethod
    def of(cls, model: PovertyModel) -> Snapshot:
        hh = model.households
        return cls(
            model.year,
            hh.status.copy(),
            hh.exit_year.copy(),
            hh.relapse_year.copy(),
            hh.relapses.astype(np.int64),
            hh.poor.copy(),
            hh.people_weight.astype(np.float64),
            hh.region.copy(),
        )

    def by_region(self, mask: np.ndarray) -> np.ndarray:
        """People of the rows in ``mask``, by region (east, central, west)."""
        return np.bincount(self.region[mask], self.people[mask], 3)


@dataclass
class Record:
    """One ``Programme.record`` call, or one credit of a lasting income effect: yuan per household of
    ``idx`` (before weights)."""

    year: int
    channel: str
    idx: np.ndarray
    gain: np.ndarray
    transfer: np.ndarray
    cost: np.ndarray


@dataclass
class Observed:
    """A model run under observation."""

    model: PovertyModel
    snapshots: dict[int, Snapshot] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    funds: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)  # (year, channel): yuan per county
    before: dict[tuple[int, str], dict[str, np.ndarray]] = field(default_factory=dict)  # state before a step
    after: dict[tuple[int, str], dict[str, np.ndarray]] = field(default_factory=dict)  # state after a step

    @property
    def years(self) -> list[int]:
        """The simulated years (the initial 2014 state excluded)."""
        return sorted(y for y in self.snapshots if y > min(self.snapshots))

    def results(self) -> pd.DataFrame:
        return self.model.results()

    def channel_records(self, year: int, channel: str) -> list[Record]:
        return [r for r in self.records if r.year == year and r.channel == channel]


STATE = {
    "industry": ("project_until", "pv", "equity"),
    "employment": ("placed_until", "post"),
    "relocation": ("year_moved",),
    "ecology": ("ranger", "paid"),
    "education": ("trained_year",),
    "credit": ("loan_until", "borrowed"),
}
"""Programme state kept before and after each step (the households it enrols are read from it)."""


def _watch(obs: Observed, programme) -> None:
    """Note the programme's ``record`` and ``record_funds`` calls and its state around ``step``
    (instance attributes shadow the class's methods, so no other model is touched)."""
    model, channel = obs.model, programme.channel
    record, record_funds, step = programme.record, programme.record_funds, programme.step

    def watched_record(idx, *, gain=0.0, transfer=0.0, cost=0.0):
        shape = np.shape(idx)
        obs.records.append(
            Record(
                model.year,
                channel,
                np.array(idx, copy=True),
                *(np.broadcast_to(np.asarray(v, np.float64), shape).copy() for v in (gain, transfer, cost)),
            )
        )
        return record(idx, gain=gain, transfer=transfer, cost=cost)

    def watched_funds(funds_by_county):
        key = (model.year, channel)
        obs.funds[key] = obs.funds.get(key, 0.0) + np.asarray(funds_by_county, np.float64).copy()
        return record_funds(funds_by_county)

    def state() -> dict[str, np.ndarray]:
        columns = model.households.columns()  # the observer's reads, not the programme's (povsim.state)
        out = {name: getattr(programme, name).copy() for name in STATE.get(channel, ())}
        out.update(housing_safe=columns["housing_safe"].copy(), water_safe=columns["water_safe"].copy())
        return out

    def watched_step(*args, **kwargs):
        obs.before[(model.year, channel)] = state()
        step(*args, **kwargs)
        obs.after[(model.year, channel)] = state()

    programme.record, programme.record_funds, programme.step = watched_record, watched_funds, watched_step


def _watch_effects(obs: Observed, effects) -> None:
    """Note what the register of lasting income effects credits each year (a gain for a channel's
    households, as a :class:`Record` with no transfer or cost): the ledger's gains it adds."""
    credit = effects.credit

    def watched_credit(ledger, year):
        add_gain = ledger.add_gain

        def noted(c, idx, gain):
            none = np.zeros(np.shape(idx))
            obs.records.append(
                Record(year, CHANNELS[c], np.array(idx, copy=True), np.array(gain, np.float64), none, none)
            )
            return add_gain(c, idx, gain)

        ledger.add_gain = noted
        try:
            credit(ledger, year)
        finally:
            del ledger.add_gain  # the class's method again

    effects.credit = watched_credit


def observe(model: PovertyModel) -> Observed:
    """Run ``model`` (freshly built) to its end year under observation."""
    obs = Observed(model)
    for programme in model.programmes:
        _watch(obs, programme)
    _watch_effects(obs, model.effects)
    obs.snapshots[model.year] = Snapshot.of(model)
    while model.running:
        model.step()
        obs.snapshots[model.year] = Snapshot.of(model)
    return obs


def run_observed(scenario=None, **kwargs: Any) -> Observed:
    """Build a model (``PovertyModel(scenario, **kwargs)``) and :func:`observe` its run."""
    return observe(PovertyModel(scenario, **kwargs))


# -- reading the results --------------------------------------------------------------------
def reported(results: pd.DataFrame, measure: str, channel: str = "all") -> pd.DataFrame:
    """A year × region table of one measure and channel (regions east, central, west, national)."""
    rows = results[(results["measure"] == measure) & (results["channel"] == channel)]
    return rows.pivot(index="year", columns="region", values="value")


def _compare(what: str, year: int, expected: np.ndarray, table: pd.DataFrame, rel: float = 0.0, abs_: float = 0.0):
    """Assert that the reported regions and national total of ``year`` equal ``expected`` (by region)."""
    assert year in table.index, f"{what} {year}: no reported row (expected {expected.sum():,.0f})"
    got = np.array([table.loc[year, r] for r in REGIONS])
    total = float(table.loc[year, "national"])
    tol = np.maximum(abs_, rel * np.abs(expected))
    assert (np.abs(got - expected) <= tol).all() and abs(total - expected.sum()) <= max(
        abs_, rel * abs(expected.sum())
    ), (
        f"{what} {year}: reported {dict(zip(REGIONS, got.tolist(), strict=True))}, national {total:,.0f}; "
        f"recomputed {dict(zip(REGIONS, expected.tolist(), strict=True))}, national {expected.sum():,.0f}"
    )


# -- registry --------------------------------------------------------------------------------
def exits(obs: Observed, year: int) -> np.ndarray:
    """Households that exited in ``year``: their last exit year became ``year`` (a household makes at
    most one registry move a year, so none of them re-registered in the same year)."""
    now, last = obs.snapshots[year], obs.snapshots[year - 1]
    return (now.exit_year == year) & (last.exit_year != year)


def relapses(obs: Observed, year: int) -> np.ndarray:
    """Households that relapsed (返贫) in ``year``: exited at the end of last year, below the line
    now and not last year (README: people in exited households whose income fell back below the
    line), from the status and poverty columns only."""
    now, last = obs.snapshots[year], obs.snapshots[year - 1]
    return (last.status == EXITED) & now.poor & ~last.poor


def check_exits_and_relapse(obs: Observed) -> None:
    """Every year and region: ``exits_people`` is the people of :func:`exits`; ``relapse_people`` the
    people of :func:`relapses`, who — and no one else — got ``relapse_year`` = the year and one more
    ``relapses``; ``relapse_people_1y`` … ``_4y_plus`` split them by years since their exit."""
    res = obs.results()
    exits_table, relapse_table = reported(res, "exits_people"), reported(res, "relapse_people")
    for year in obs.years:
        now, last = obs.snapshots[year], obs.snapshots[year - 1]
        _compare("exits_people", year, now.by_region(exits(obs, year)), exits_table)
        fell = relapses(obs, year)
        recorded = now.relapse_year == year
        counted = now.relapses - last.relapses
        assert (recorded == fell).all() and (counted == fell).all(), (
            f"relapse record {year}: {int(fell.sum())} households relapsed (exited, now below the line, not "
            f"last year); {int(recorded.sum())} have relapse_year {year}, {int((counted > 0).sum())} a new "
            f"relapse counted; {int((recorded != fell).sum())} rows disagree"
        )
        _compare("relapse_people", year, now.by_region(fell), relapse_table)
        since = year - now.exit_year
        for label, mask in (("1y", since == 1), ("2y", since == 2), ("3y", since == 3), ("4y_plus", since >= 4)):
            _compare(
                f"relapse_people_{label}", year, now.by_region(fell & mask), reported(res, f"relapse_people_{label}")
            )


def sustained_exits(obs: Observed, cohort: int) -> np.ndarray:
    """People by region of the ``cohort`` year's exits not followed by a relapse (:func:`relapses`, read
    from each year's status and poverty columns) within three years."""
    members = exits(obs, cohort)
    relapsed = np.zeros_like(members)
    for year in range(cohort + 1, cohort + SUSTAINED_YEARS + 1):
        relapsed |= relapses(obs, year)
    return obs.snapshots[cohort].by_region(members & ~relapsed)


def sustained_from_records(obs: Observed, cohort: int) -> np.ndarray:
    """The same from the households' records alone: exit year ``cohort`` in the cohort's snapshot,
    and a last relapse year in (cohort, cohort + 3] three years on."""
    judged = obs.snapshots[cohort + SUSTAINED_YEARS]
    members = exits(obs, cohort)
    relapsed = (judged.relapse_year > cohort) & (judged.relapse_year <= cohort + SUSTAINED_YEARS)
    return obs.snapshots[cohort].by_region(members & ~relapsed)


def check_sustained_exits(obs: Observed) -> list[int]:
    """Every cohort three years old by the end of the run, every region: ``sustained_exits_people``
    (channel ``all``, reported in the cohort's year) is :func:`sustained_exits`, and the household
    records agree (:func:`sustained_from_records`); the channel rows add up to it. Returns the cohorts
    checked."""
    res = obs.results()
    table = reported(res, "sustained_exits_people")
    by_channel = res[(res["measure"] == "sustained_exits_people") & (res["channel"] != "all")]
    cohorts = [c for c in obs.years if c + SUSTAINED_YEARS in obs.snapshots]
    for cohort in cohorts:
        expected = sustained_exits(obs, cohort)
        _compare("sustained_exits_people", cohort, expected, table)
        records = sustained_from_records(obs, cohort)
        assert np.array_equal(records, expected), (
            f"sustained exits {cohort}: from relapse events {expected}, from relapse_year {records}"
        )
        summed = by_channel[by_channel["year"] == cohort].groupby("region")["value"].sum()
        _compare("sustained_exits_people by channel, summed", cohort, expected, summed.to_frame().T.set_axis([cohort]))
    return cohorts


# -- money ----------------------------------------------------------------------------------
def documented_series(values: dict, year: int, growth_after: float | None) -> float:
    """A series of documented years as ``budget.toml`` describes it: the value of a documented year;
    0 before the first; the last documented value grown at ``growth_after`` a year after it; a year
    missing inside the series holds the value before it."""
    series = {int(k): float(v) for k, v in values.items()}
    if year in series:
        return series[year]
    if year < min(series):
        return 0.0
    last = max(y for y in series if y < year)
    if last == max(series) and growth_after is not None:
        return series[last] * (1.0 + growth_after) ** (year - last)
    return series[last]


def relocation_share(p, year: int) -> float:
    """The year's share of the relocation plan's people: the documented yearly people
    (``programs.relocation.people_by_year``), the rest of ``planned_people`` evenly over the plan's
    other years, over ``planned_people``; 0 outside ``programs.relocation.years``."""
    r = "programs.relocation."
    period = p[r + "years"]
    years = list(range(period["from"], period["to"] + 1))
    if year not in years:
        return 0.0
    documented = {int(y): float(v) for y, v in p[r + "people_by_year"].items() if int(y) in years}
    people = documented.get(year)
    if people is None:
        people = max(p[r + "planned_people"] - sum(documented.values()), 0.0) / (len(years) - len(documented))
    return people / p[r + "planned_people"]


def documented_funds(p, year: int) -> dict[str, float]:
    """New money of each budgeted channel in ``year`` (yuan), from the parameters alone: the pool —
    the household-programme share of the central and provincial special funds plus the households'
    share of the pooled agricultural funds — times ``budget.shares``; the relocation financing times
    the year's share of the relocation plan; all times ``budget.scale`` and ``budget.channel_scale``,
    and nothing for a channel switched off."""
    b = "budget."
    growth = p[b + "growth_after"]
    special = documented_series(p[b + "central_special_funds"], year, growth)
    special += documented_series(p[b + "provincial_funds"], year, growth)
    pooled = documented_series(p[b + "pooled_agricultural_funds"], year, growth)
    pool = special * p[b + "household_programme_share"] + pooled * p[b + "pooled_share_to_households"]
    out = {c: pool * p[b + "shares"][c] for c in POOL_CHANNELS}
    out["relocation"] = p[b + "relocation_financing"] * relocation_share(p, year)
    return {
        c: v * p[b + "scale"] * p[b + "channel_scale"][c] * bool(p[f"programs.{c}.enabled"]) for c, v in out.items()
    }


def check_funds(obs: Observed, rel: float = 1e-9) -> None:
    """Every year and budgeted channel: ``funds_yuan`` less ``carried_over_yuan`` (national) is
    :func:`documented_funds`; the regions add up to the national row; the funds each channel
    recorded by county add up to it; ``funds_yuan`` ``all`` is the channels' sum."""
    res, p = obs.results(), obs.model.params
    for year in obs.years:
        money = documented_funds(p, year)
        for channel, expected in money.items():
            funds = reported(res, "funds_yuan", channel).loc[year]
            carried = reported(res, "carried_over_yuan", channel).loc[year]
            new = funds["national"] - carried["national"]
            assert abs(new - expected) <= rel * max(expected, 1.0), (
                f"funds_yuan {channel} {year}: {funds['national']:,.0f} less carried {carried['national']:,.0f} = "
                f"{new:,.0f}; documented money × shares × levers = {expected:,.0f} ({new / max(expected, 1):.6f}×)"
            )
            by_county = float(np.sum(obs.funds.get((year, channel), 0.0)))
            assert abs(by_county - funds["national"]) <= rel * max(abs(funds["national"]), 1.0), (
                f"funds {channel} {year}: counties {by_county:,.0f}, national {funds['national']:,.0f}"
            )
        nat = reported(res, "funds_yuan", "all").loc[year]
        channels = sum(reported(res, "funds_yuan", c).loc[year] for c in CHANNELS)
        np.testing.assert_allclose(channels[["national", *REGIONS]], nat[["national", *REGIONS]], rtol=rel)
        np.testing.assert_allclose(nat[list(REGIONS)].sum(), nat["national"], rtol=rel)


def _people(model: PovertyModel, mask: np.ndarray) -> float:
    hh = model.households
    return float((hh.weight[mask].astype(np.float64) * hh.size[mask]).sum())


def _households(model: PovertyModel, mask: np.ndarray) -> float:
    return float(model.households.weight[mask].astype(np.float64).sum())


def unit_costs(obs: Observed, year: int, channel: str) -> float:
    """The channel's documented unit costs (``programs.<channel>.*``) times what it enrolled in ``year``
    (national yuan): what it spent beyond the cash its beneficiaries received.

    * industry: a production project, a PV installation or an equity share per household newly given one;
    * employment: the labour-transfer cost per worker newly placed (posts are paid as wages);
    * relocation: the cost per person of the households moved this year;
    * education: the training cost per trainee of the year (school relief is paid as a transfer);
    * health: the premium subsidy per member of the households it paid for;
    * credit: the interest on every running loan and the risk fund's share of each defaulted loan;
    * housing: a renovation per house and the water works per household it made safe;
    * ecology, floor: none (wages, land payments and the 低保 top-up are the transfers).
    """
    m, hh = obs.model, obs.model.households
    p = lambda key: m.params[f"programs.{channel}.{key}"]  # noqa: E731
    before, after = obs.before[(year, channel)], obs.after[(year, channel)]
    if channel == "industry":
        new_project = after["project_until"] == year + p("production_years") - 1
        return (
            p("production_cost_per_household") * _households(m, new_project)
            + p("pv_cost_per_household") * _households(m, after["pv"] & ~before["pv"])
            + p("equity_per_household") * _households(m, after["equity"] & ~before["equity"])
        )
    if channel == "employment":
        return p("transfer_cost_per_worker") * _households(m, after["placed_until"] == year + p("transfer_years") - 1)
    if channel == "relocation":
        return p("cost_per_person") * _people(m, after["year_moved"] == year)
    if channel == "education":
        return p("training_cost") * _households(m, after["trained_year"] == year)
    if channel == "health":
        reached = np.zeros(hh.n, bool)
        for r in obs.channel_records(year, channel):
            reached[r.idx] = True
        return p("premium_subsidy_per_person") * _people(m, reached)
    if channel == "credit":
        running = after["loan_until"] >= year
        defaulted = (before["loan_until"] > 0) & (after["loan_until"] == 0)
        loan = float(p("loan"))
        return loan * p("interest_rate") * _households(m, running) + loan * p("risk_fund_share") * _households(
            m, defaulted
        )
    if channel == "housing":
        fixed_house = after["housing_safe"] & ~before["housing_safe"]
        fixed_water = after["water_safe"] & ~before["water_safe"]
        return p("renovation_cost") * _households(m, fixed_house) + p("water_cost") * _households(m, fixed_water)
    return 0.0


PAYS_TRANSFERS = ("employment", "relocation", "ecology", "education", "health", "floor")
"""Channels whose recorded transfers are cash they pay (wages of posts, follow-up support, land
payments, school relief, reimbursements, the 低保 top-up). The transfers of industry and credit are
the returns of assets and loans, which the channel does not pay."""


def check_spending(obs: Observed, rel: float = 1e-9) -> None:
    """Every year, channel and region: ``spending_yuan`` is the weighted cost the channel recorded for
    its households; nationally it is the cash its beneficiaries received (:data:`PAYS_TRANSFERS`) plus
    :func:`unit_costs`; ``income_yuan`` is the weighted gains recorded; ``spending_yuan`` ``all`` is the
    channels' sum."""
    res, hh = obs.results(), obs.model.households
    w = hh.weight.astype(np.float64)
    for year in obs.years:
        for channel in CHANNELS:
            records = obs.channel_records(year, channel)
            cost, paid, gain = np.zeros(3), np.zeros(3), np.zeros(3)
            for r in records:
                cost += np.bincount(hh.region[r.idx], r.cost * w[r.idx], 3)
                paid += np.bincount(hh.region[r.idx], r.transfer * w[r.idx], 3)
                gain += np.bincount(hh.region[r.idx], r.gain.astype(np.float32).astype(np.float64) * w[r.idx], 3)
            _compare(f"spending_yuan {channel}", year, cost, reported(res, "spending_yuan", channel), rel=rel, abs_=1.0)
            _compare(f"income_yuan {channel}", year, gain, reported(res, "income_yuan", channel), rel=rel, abs_=1.0)
            received = paid.sum() if channel in PAYS_TRANSFERS else 0.0
            documented = received + unit_costs(obs, year, channel)
            assert abs(cost.sum() - documented) <= rel * max(documented, 1.0) + 1.0, (
                f"spending {channel} {year}: recorded {cost.sum():,.0f}; beneficiaries received {received:,.0f} "
                f"+ documented unit costs {documented - received:,.0f} = {documented:,.0f}"
            )
        nat = reported(res, "spending_yuan", "all").loc[year]
        channels = sum(reported(res, "spending_yuan", c).loc[year] for c in CHANNELS)
        np.testing.assert_allclose(channels[["national", *REGIONS]], nat[["national", *REGIONS]], rtol=rel)
