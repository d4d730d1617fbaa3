"""The social-security floor (兜底): rural 低保 (minimum living standard guarantee) for households
that cannot exit through industry or employment.

低保 is social assistance, not a programme of the poverty registry: every rural household is
means-tested against its **county's standard**, registered or not, year after year while its
assessed income stays below it; it does not end when a household exits the registry ([hubei-2018] §4(9):
exited households below the 低保 line keep it). Covered are households that have fully or partly
lost their labour ([three-year-2018] §3(8)): no worker, or a working-age member who cannot work
through illness or disability. The means test (家计调查) judges the household's income as the civil
affairs officials assess it, with an error of its own (``floor.assessment_sigma``), so it makes real
exclusion errors. A qualifying household
is covered if it takes up 低保 (``floor.take_up``, a fixed draw per household: coverage does not
churn from year to year); from ``floor.registry_link_year`` the registered poor households that
qualify (and exited ones under post-exit support) are brought in as well ([plan-13th-fyp] box 12(2)), at an even
pace so that all are covered by ``floor.registry_link_target_year`` (应保尽保 by 2020: [decision-2015]
§11; [hubei-2018] §2), and stay covered.

The floor pays the gap to the standard (补差, [cheng-2017] app. 1, Yanshan case), so a covered household's income
reaches its county's standard, not the line. County standards: the national average of the
Ministry of Civil Affairs' statistical bulletins (``floor.standard``; grown at
``floor.standard_growth_after`` after its last year), lower in poor counties
(``floor.poor_county_ratio``), higher in the east (``floor.east_ratio``) and spread across
counties (``floor.standard_sigma``, a fixed draw per county), with the lowest raised year by year to the poverty line by
``floor.merge_year`` (两线合一: [cheng-2017] ch. 6 §5(2); [plan-13th-fyp] ch. 8 §1, box 12(1)). An entitlement funded at
``budget.scale`` of need, poorest first. Runs after the other incomes are known (means-tested).
"""

from __future__ import annotations

import numpy as np

from povsim.parameters import REGIONS
from povsim.programs.base import PROGRAMME_READS, Programme, even_pace
from povsim.state import Declaration


class Floor(Programme):
    channel = "floor"
    declaration = Declaration(
        "floor",
        reads=(*PROGRAMME_READS, "children", "elderly", "workers"),
        doc="the means-tested 低保 floor tops up this year's income",
    )
    means_tested = True

    def __init__(self, model):
        super().__init__(model)
        geo = model.geography
        # a county's place in the spread of local standards (fixed), poor counties lower, eastern
        # counties higher; scaled so that the mean over rural people is the national average
        sigma = float(self.param("standard_sigma"))
        z = model.streams.get("floor.county_standard").standard_normal(geo.n_counties)
        factor = np.exp(sigma * z - 0.5 * sigma**2) * np.where(geo.county_poor, self.param("poor_county_ratio"), 1.0)
        factor *= np.where(geo.county_region == REGIONS.index("east"), self.param("east_ratio"), 1.0)
        rural = model.governance.rural_people
        self.county_factor = factor * (rural.sum() / (factor * rural).sum())
        # coverage is the household's: a fixed draw, so it does not churn from year to year; from the
        # registry link on, the registered who qualify are brought in at a yearly rate
        self.covered = model.streams.uniform("floor.take_up", 0, model.households.n) < self.param("take_up")

    def national_standard(self, year: int) -> float:
        """The national average rural 低保 standard, yuan per person per year."""
        return self.model.params.at(year)["programs.floor.standard"]

    def lowest_standard(self, year: int) -> float:
        """The lowest county standard allowed in ``year``: ``floor.lowest_ratio`` of the line in the
        first year of the campaign (2015), raised evenly to the line by ``floor.merge_year`` and
        held at it after (yuan per person per year)."""
        first, merge = 2015, int(self.param("merge_year"))
        share = float(np.interp(year, [first, merge], [self.param("lowest_ratio"), 1.0]))
        return share * self.model.poverty_line

    def standard(self, year: int) -> np.ndarray:
        """Each county's rural 低保 standard in ``year``, yuan per person per year."""
        return np.maximum(self.national_standard(year) * self.county_factor, self.lowest_standard(year))

    def assessment_error(self) -> np.ndarray:
        """This year's error of each household's income as the 低保 means test (家计调查) assesses it: a
        mean-one log-normal factor of log-sd ``floor.assessment_sigma``."""
        m = self.model
        return m.streams.mean_one_lognormal(
            "floor.assessment", m.year, m.households.n, float(self.param("assessment_sigma"))
        )

    def labour_limited(self) -> np.ndarray:
        """Households that have fully or partly lost their labour: no worker, or a working-age
        member who cannot work (ill or disabled)."""
        hh = self.model.households
        return (hh.workers == 0) | (hh.inactive > 0)

    def step(self, model, budget, income=None):
        if not self.enabled:
            return
        hh, y = model.households, model.year
        standard = self.standard(y)[hh.county]
        income_pc = income / hh.size
        qualifies = self.labour_limited() & (income_pc * self.assessment_error() < standard)
        start, target = int(self.param("registry_link_year")), int(self.param("registry_link_target_year"))
        if y >= start:
            # the registry link at an even pace: a share 1 / (years left) of the qualifying registered
            # households not yet covered each year, all of them from the target year on
            linked = qualifies & self.supported() & (self.uniform("registry_link") < even_pace(y, target))
            self.covered |= linked
        below = qualifies & (income_pc < standard)
        idx = np.flatnonzero(below & self.covered)
        top_up = (standard[idx] - income_pc[idx]) * self.members(idx)
        funds = self.entitlement_funds(idx, top_up)
        chosen = self.select(idx, income_pc[idx], top_up, funds, by_county=False)
        pos = np.searchsorted(idx, chosen)
        # places: those who qualify and are below their standard; of them, those covered (take-up
        # and the registry link are the floor's capacity); and those paid within the funds
        self.record_places(np.flatnonzero(below), idx, chosen)
        self.record(chosen, gain=top_up[pos], transfer=top_up[pos], cost=top_up[pos])
