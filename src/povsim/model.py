"""PovertyModel: the yearly story of rural households under the targeted campaign."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from povsim.attribution import ATTRIBUTION, ATTRIBUTION_CHANNELS, ExitAttribution
from povsim.dynamics.conditions import CONDITIONS, update_conditions
from povsim.dynamics.demography import DEMOGRAPHY, age
from povsim.dynamics.economy import ECONOMY, grow_incomes, pension
from povsim.dynamics.migration import MIGRATION, migrate
from povsim.dynamics.shocks import SHOCKS, SparseColumn, draw_shocks
from povsim.governance import GOVERNANCE, Governance
from povsim.measurement import INCOME, MEASUREMENT, MEDICAL_COSTS, market_income, measure, medical_out_of_pocket
from povsim.measures import BY_NAME, MEASURES, REPORTING, TABLE_FLOWS, TABLE_STOCKS, Tally
from povsim.money import BUDGETED_CHANNELS, FUNDS, county_budgets
from povsim.parameters import REGIONS
from povsim.population import START_YEAR, build_population, fit_initial_incomes, poverty_line
from povsim.programs import CHANNELS, PROGRAMMES, ChannelLedger, Programme
from povsim.programs.base import LIMITS, binding_limit
from povsim.programs.effects import EFFECTS, IncomeEffects
from povsim.registry import REGISTRY, Registry, RegistryFlows
from povsim.sampling import Sampling
from povsim.scenario import DEFAULT_SCENARIO, Scenario, load_scenario
from povsim.state import StateGuard, checking_by_default
from povsim.streams import RandomStreams

RESULT_COLUMNS = ["year", "region", "measure", "channel", "value"]
STOCK_MEASURES = TABLE_STOCKS
"""Measures of the household table reported every year (:data:`povsim.measures.TABLE_STOCKS`)."""
FLOW_MEASURES = TABLE_FLOWS
"""Measures of the household table's flows, from 2015 (:data:`povsim.measures.TABLE_FLOWS`)."""


def resolve_scenario(scenario: Scenario | str | Path | None) -> Scenario:
    """A scenario object from an object, a file path, or None (``scenarios/baseline.toml``
    when it exists, else the built-in defaults, which are the same)."""
    if isinstance(scenario, Scenario):
        return scenario
    if scenario is None:
        return load_scenario(DEFAULT_SCENARIO) if DEFAULT_SCENARIO.is_file() else Scenario(name="baseline")
    return load_scenario(scenario)


class PovertyModel(mesa.Model):
    """Rural households under China's targeted poverty alleviation, 2014 onwards.

    Households are agents stored as rows of arrays (:class:`~povsim.households.Households`);
    counties are rows of the county table, their rules vectorised over all counties
    (:mod:`povsim.counties`). Year 2014 is the initial state; each :meth:`step` simulates one year.

    Args:
        scenario: a :class:`Scenario`, a scenario file, or None for the baseline.
        seed: random seed (default: the scenario's). The same seed gives the same results.
        scale: real households per household agent (default: the scenario's).
        end_year: last simulated year, 2015–2025 (default: the scenario's, 2020).
        poor_area_scale: real households per agent in the poor counties and the poor villages of
            other counties, where finer than ``scale`` (default: the scenario's).
        check_state: run each phase of the year under its declaration of the household state, so
            that an undeclared write or read fails (:mod:`povsim.state`; default: on when the
            environment variable ``POVSIM_CHECK_STATE`` is 1). Results are the same either way.
        **overrides: parameter overrides by key path, e.g.
            ``**{"economy.growth.farm": 0.04}`` or ``economy__growth__farm=0.04``; this is
            how ``mesa.batch_run`` sweeps parameters.

    Attributes:
        households: the household table.
        geography: county and village tables.
        year: the last simulated year.
        programmes: programmes run each year between household choices and measurement.
        datacollector: national reporters for each simulated year (2015 on) and the tidy
            ``results`` table (2014 on).
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        seed: int | None = None,
        scale: float | None = None,
        end_year: int | None = None,
        poor_area_scale: float | None = None,
        check_state: bool | None = None,
        **overrides: Any,
    ):
        sc = resolve_scenario(scenario)
        sc = sc.with_settings(
            seed=seed,
            scale=float(scale) if isinstance(scale, int) else scale,
            end_year=end_year,
            poor_area_scale=float(poor_area_scale) if isinstance(poor_area_scale, int) else poor_area_scale,
            origin="PovertyModel",
        )
        if overrides:
            sc = sc.with_overrides({k.replace("__", "."): v for k, v in overrides.items()}, origin="PovertyModel")
        super().__init__(seed=sc.run.seed)
        self.scenario = sc
        self.params = sc.params
        self.end_year = sc.run.end_year
        self.scale = sc.run.scale
        self.poor_area_scale = sc.run.poor_areas
        self.streams = RandomStreams(sc.run.seed)
        self.year = START_YEAR
        self.households, self.geography, targets = build_population(
            self.params, self.scale, self.streams, self.poor_area_scale
        )
        geo = self.geography
        # The end-2014 state: draw 2014's shocks, then scale incomes so the realised
        # income-poor match the 2014 survey headcount by region.
        hh = self.households
        self.shocks = draw_shocks(hh, geo, self.params, self.streams, self.year)
        market = market_income(hh, self.shocks, self.params, self.streams, self.year)
        other = hh.transfers + hh.property
        medical_out_of_pocket(hh, self.shocks, self.params).subtract_from(other)
        fit_initial_incomes(hh, targets, market, other, self.poverty_line)
        measure(hh, market + other, self.poverty_line, first=True)
        self.ledger = ChannelLedger(hh.n, geo.n_counties)
        # the channel that last fixed a guarantee of 两不愁三保障 for each household, and the year
        self.guarantee_channel = hh.add_state("guarantee.channel", np.full(hh.n, -1, np.int8))
        self.guarantee_year = hh.add_state("guarantee.year", np.zeros(hh.n, np.int16))
        self.registry = Registry(self)
        self.governance = Governance(self)
        self.sampling = Sampling(self)
        self.effects = IncomeEffects(hh)
        self.programmes: list[Programme] = [cls(self) for cls in PROGRAMMES]
        self.attribution = ExitAttribution(self)
        # what each budgeted channel carries into next year's funds (national yuan), and carried in
        self.carry = dict.fromkeys(BUDGETED_CHANNELS, 0.0)
        self.carried = np.zeros((len(CHANNELS), 3))
        self.out_of_pocket = SparseColumn(hh.n, np.zeros(0, np.int64), np.zeros(0))
        self.flows: RegistryFlows | None = None
        self._exits_by_channel: np.ndarray | None = None
        self._cohort_spending: dict[int, np.ndarray] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "year": "year",
                "poverty_line": "poverty_line",
                "poor_people": lambda m: m.national("poor_people"),
                "incidence": lambda m: m.national("incidence"),
                "registered_poor_people": lambda m: m.national("registered_poor_people"),
            },
            tables={"results": RESULT_COLUMNS},
        )
        self._latest: dict[tuple[str, str], float] = {}
        self.governance.record_state()
        self._collect(initial=True)
        self.state = StateGuard(hh, checking_by_default() if check_state is None else check_state)

    # -- the year ---------------------------------------------------------------------
    def step(self) -> None:
        """Simulate one year: economy and shocks, household choices, programmes,
        measurement, the registry, data collection (each phase under its declaration of the
        household state it owns, modifies and reads: :mod:`povsim.state`)."""
        self.year += 1
        hh, p, s, y = self.households, self.params, self.streams, self.year
        phase = self.state.phase
        # last year's shocks and registry moves are not needed any more: free them before
        # this year's are drawn (a national run holds ~52M households)
        self.shocks = self.flows = None
        with phase(DEMOGRAPHY):
            age(hh, p, s, y, pension(p, y, START_YEAR))
        with phase(ECONOMY):
            grow_incomes(hh, p, s, y)
        with phase(SHOCKS):
            self.shocks = draw_shocks(hh, self.geography, p, s, y)
        with phase(MIGRATION):
            migrate(hh, self.geography, p, s, y)
        with phase(CONDITIONS):
            update_conditions(hh, p, s, y)
        with phase(MEDICAL_COSTS):
            self.out_of_pocket = medical_out_of_pocket(hh, self.shocks, p)
        income = self.run_programmes()
        with phase(MEASUREMENT):
            measure(hh, income, self.poverty_line)
        with phase(REGISTRY):
            guaranteed = self.ledger.gain_row(self.programme("floor").index) > 0
            self.flows = self.registry.update(guaranteed)
        with phase(ATTRIBUTION):
            threshold = self.poverty_line * (1.0 + p["registry.exit.income_margin"])
            self._exits_by_channel = self.attribution.record(self.flows.exits, income, threshold)
        with phase(GOVERNANCE):
            self.governance.review()
        with phase(REPORTING):
            self._collect()
        if self.year >= self.end_year:
            self.running = False

    def run_programmes(self) -> np.ndarray:
        """Fund and run the programmes; return this year's household income (yuan).

        Funds reach counties and are split across channels; each programme enrols and
        applies its effects; then income is realised (market income after shocks, transfers,
        property, programme transfers, less medical costs) and the means-tested floor tops it up.
        """
        hh, p = self.households, self.params
        phase = self.state.phase
        ledger = self.ledger
        ledger.reset()
        with phase(FUNDS):
            budgets = county_budgets(
                p,
                hh,
                self.geography.n_counties,
                self.year,
                self.governance.fund_weights(self.year),
                carried=self.carry,
                relocation_list=self.programme("relocation").to_move(),
            )
        for programme in self.programmes:
            if not programme.means_tested:
                with phase(programme.declaration):
                    programme.step(self, budgets.get(programme.channel))
                    self.effects.start(programme.channel, self.year)
        with phase(EFFECTS):
            self.effects.credit(ledger, self.year)
        self._carry_over(budgets)
        with phase(INCOME):
            risk = sum((programme.income_risk(self) for programme in self.programmes), start=np.zeros(hh.n))
            # market income + transfers + property - out-of-pocket medical costs + programme
            # transfers, summed in that order, in place
            income = market_income(hh, self.shocks, p, self.streams, self.year, extra_sigma=risk)
            del risk
            income += hh.transfers
            income += hh.property
            self.out_of_pocket.subtract_from(income)
            income += self.ledger.transfer
        before = self.ledger.transfer.copy()
        for programme in self.programmes:
            if programme.means_tested:
                with phase(programme.declaration):
                    programme.step(self, None, income)
        return income + (self.ledger.transfer - before)

    def _carry_over(self, budgets: dict[str, np.ndarray]) -> None:
        """Note the funds each budgeted channel carried in this year, by region, and what it carries
        into next year: ``budget.carry_over`` of what it left unspent of this year's new funds
        (money carried once and unspent again is returned)."""
        ledger, region = self.ledger, self.geography.county_region
        share = self.params["budget.carry_over"]
        self.carried[:] = 0.0
        for channel in BUDGETED_CHANNELS:
            c = CHANNELS.index(channel)
            funds = ledger.funds[c].sum()
            carried_in = min(self.carry[channel], funds)
            if funds > 0:
                self.carried[c] = np.bincount(region, budgets[channel], 3) * (
                    carried_in / max(budgets[channel].sum(), 1.0)
                )
            unspent = funds - ledger.spending[c].sum()
            self.carry[channel] = share * float(np.clip(unspent, 0.0, funds - carried_in))

    def programme(self, channel: str) -> Programme:
        """The programme of ``channel``."""
        return next(prog for prog in self.programmes if prog.channel == channel)

    def relocation_recent(self) -> np.ndarray:
        """Households in their first years after relocation (employment places them first)."""
        return self.programme("relocation").recently_moved(self.year)

    def run_model(self) -> None:
        """Run to ``end_year``."""
        while self.running:
            self.step()

    @property
    def poverty_line(self) -> float:
        """This year's poverty line, yuan per person per year (current prices)."""
        return poverty_line(self.params, self.year)

    # -- reporting --------------------------------------------------------------------
    def national(self, measure: str) -> float:
        """This year's national value of a measure."""
        return self._latest[("national", measure)]

    def _collect(self, initial: bool = False) -> None:
        """Add this year's rows to the results table — every measure of the household table in the
        registry (:mod:`povsim.measures`), then, after a simulated year, the channels' — and after a
        simulated year collect the model reporters (so that ``mesa.batch_run``'s step *i* is year
        2015 + *i*)."""
        tally = Tally(self)
        self._latest = {}
        for m in MEASURES:
            if m.compute is None or (m.kind == "flow" and self.flows is None):
                continue
            value = m.compute(tally)
            if m.kind == "level":
                self._add_row("results", "national", m.name, value)
            elif m.kind == "ratio":
                self._add_ratio(m.name, "all", *value)
            else:
                self._add_regions(m.name, "all", value, integer=m.whole)
        del tally
        if self.flows is not None:
            self._collect_channels()
        if not initial:
            self.datacollector.collect(self)

    def _collect_channels(self) -> None:
        """Per-channel rows: exits, spending, funds, beneficiaries, cost per exit, and the
        sustained exits of the cohort three years back."""
        ledger = self.ledger
        exits = self._exits_by_channel
        for c, channel in enumerate(ATTRIBUTION_CHANNELS):
            self._add_regions("exits_people", channel, exits[c], integer=True)
        relapsed = self.flows.relapses
        hh = self.households
        exit_channel = self.attribution.exit_channel[relapsed]
        people = hh.people_weight_of(relapsed)
        region = hh.region[relapsed]
        for c, channel in enumerate(ATTRIBUTION_CHANNELS):
            mask = exit_channel == c
            self._add_regions("relapse_people", channel, np.bincount(region[mask], people[mask], 3), integer=True)
        beneficiaries, beneficiary_people = ledger.beneficiaries(hh)
        income = ledger.income(hh.weight, hh.region)
        unspent = ledger.funds - ledger.spending
        for c, channel in enumerate(CHANNELS):
            self._add_regions("spending_yuan", channel, ledger.spending[c])
            self._add_regions("funds_yuan", channel, ledger.funds[c])
            self._add_regions("unspent_yuan", channel, unspent[c])
            self._add_regions("carried_over_yuan", channel, self.carried[c])
            self._add_regions("income_yuan", channel, income[c])
            self._add_regions("beneficiaries_households", channel, beneficiaries[c], integer=True)
            self._add_regions("beneficiaries_people", channel, beneficiary_people[c], integer=True)
            self._add_regions("eligible_households", channel, ledger.eligible[c], integer=True)
            self._add_regions("capacity_households", channel, ledger.capacity[c], integer=True)
            self._add_regions("enrolled_households", channel, ledger.enrolled[c], integer=True)
            self._add_ratio("cost_per_exit_yuan", channel, ledger.spending[c], exits[c])
            self._add_limits(channel, ledger.eligible[c], ledger.capacity[c], ledger.enrolled[c])
        self._add_regions("spending_yuan", "all", ledger.spending.sum(axis=0))
        self._add_regions("funds_yuan", "all", ledger.funds.sum(axis=0))
        self._add_regions("unspent_yuan", "all", unspent.sum(axis=0))
        self._add_regions("carried_over_yuan", "all", self.carried.sum(axis=0))
        self._add_regions("income_yuan", "all", income.sum(axis=0))
        self._add_ratio("cost_per_exit_yuan", "all", ledger.spending.sum(axis=0), exits[:-1].sum(axis=0))
        sustained = self.attribution.sustained(self.year)
        if sustained is not None:
            cohort_year, kept = sustained
            spending = self._cohort_spending.pop(cohort_year)
            for c, channel in enumerate(ATTRIBUTION_CHANNELS):
                self._add_regions("sustained_exits_people", channel, kept[c], integer=True, year=cohort_year)
                if c < len(CHANNELS):
                    self._add_ratio("cost_per_sustained_exit_yuan", channel, spending[c], kept[c], year=cohort_year)
            self._add_regions("sustained_exits_people", "all", kept.sum(axis=0), integer=True, year=cohort_year)
        self._cohort_spending[self.year] = ledger.spending.copy()

    def _add_regions(
        self, measure: str, channel: str, by_region: np.ndarray, integer: bool = False, year: int | None = None
    ) -> None:
        values = [round(v) for v in by_region] if integer else [float(v) for v in by_region]
        for r, region in enumerate(REGIONS):
            self._add_row("results", region, measure, values[r], channel, year)
        self._add_row("results", "national", measure, sum(values), channel, year)

    def _add_limits(self, channel: str, eligible: np.ndarray, capacity: np.ndarray, enrolled: np.ndarray) -> None:
        """Rows ``limited_by_budget``, ``limited_by_capacity``, ``limited_by_eligibility``: 1 for the
        limit that bound the channel's new enrolments (:func:`binding_limit`, on the whole households
        reported), 0 for the others, by region and nationally; no rows where no household was eligible."""
        counts = np.array([[round(v) for v in a] for a in (eligible, capacity, enrolled)], np.float64)
        by_region = binding_limit(*counts)
        national = binding_limit(*counts.sum(axis=1))
        for region, code in (*zip(REGIONS, by_region, strict=True), ("national", national)):
            if code >= 0:
                for k, limit in enumerate(LIMITS):
                    self._add_row("results", region, f"limited_by_{limit}", float(code == k), channel)

    def _add_ratio(
        self, measure: str, channel: str, numerator: np.ndarray, denominator: np.ndarray, year: int | None = None
    ) -> None:
        """Rows of numerator / denominator where the denominator is positive."""
        for r, region in enumerate(REGIONS):
            if denominator[r] > 0:
                self._add_row("results", region, measure, float(numerator[r] / denominator[r]), channel, year)
        if denominator.sum() > 0:
            self._add_row("results", "national", measure, float(numerator.sum() / denominator.sum()), channel, year)

    def _add_row(
        self, table: str, region: str, measure: str, value: float, channel: str = "all", year: int | None = None
    ) -> None:
        if measure not in BY_NAME:
            raise KeyError(f"measure {measure!r} is not registered in povsim.measures")
        if channel == "all" and year is None:
            self._latest[(region, measure)] = value
        self.datacollector.add_table_row(
            table,
            {
                "year": self.year if year is None else year,
                "region": region,
                "measure": measure,
                "channel": channel,
                "value": value,
            },
        )

    def results(self) -> pd.DataFrame:
        """The tidy results: one row per year, region, measure and channel.

        Columns ``year, region, measure, channel, value``; ``region`` is ``national``,
        ``east``, ``central`` or ``west``; ``channel`` is ``all`` where not applicable.
        People and household counts are national units (whole people), ``incidence`` a
        share of the rural population, ``poverty_line`` yuan per person per year. Flow
        measures (exits, entries, relapse) start in the first simulated year.
        """
        df = self.datacollector.get_table_dataframe("results")
        df["year"] = df["year"].astype(int)
        df["value"] = df["value"].astype(float)
        return df[RESULT_COLUMNS]

    def parameters(self) -> Mapping[str, Any]:
        """The resolved parameter values by key path."""
        return self.params.values()
