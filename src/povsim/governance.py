"""Village and county exit (摘帽), exit pressure, and the deep-poverty tilt.

* **Incidence.** A county's incidence is its registered poor people over its rural population
  (poor counties hold ``governance.county.poor_county_rural_people`` on average; other counties
  share the rest of their region's rural population, both in proportion to county size).
* **County exit.** A poor county exits at the end of a year when its incidence is below 2%
  (3% in the west) and a third-party evaluation, sampling ``governance.evaluation.sample_households``
  households, finds wrong-exit and missed-identification rates below 2% and satisfaction of at
  least 90% (三率一度; [exit-mechanism-2016] §3(2)–(3); [county-exit-criteria]). Exit is final. Before the evaluation,
  the province checks each applying county (省级核查, [exit-mechanism-2016] §3(3)) and re-registers the false
  exits it finds (``provincial_check``).
* **Village exit.** A poor village exits when its incidence is below the same thresholds. A
  village's incidence is its county's incidence among poor-village residents times a fixed
  village factor (log-normal, mean one), which keeps village exits meaningful at any scale.
* **Exit pressure.** Poor counties plan to exit over ``governance.exit_pressure.plan_years``,
  lowest initial incidence first; in the years up to the plan year they relax the household
  exit standard, up to ``governance.exit_pressure.max``, and keep it relaxed after ([cheng-2017]
  ch. 1 §5, ch. 5 §3(2)).
* **Deep poverty.** The poor counties with the highest initial incidence are deep-poverty
  counties; from ``governance.deep_poverty.from_year`` they weigh more in the pool funds ([three-year-2018] §2(3)).

This module holds the policy only: the county rates it judges are read off the household agents and freed
of agent-sampling noise at coarse scales by the sampling layer (:mod:`povsim.sampling`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from povsim.households import EXITED, NOT_REGISTERED, REGISTERED
from povsim.parameters import REGIONS
from povsim.sampling import Halves
from povsim.state import Declaration

GOVERNANCE = Declaration(
    "governance",
    owns=("governance.support_years",),
    reads=("county", "exit_year", "poor", "size", "status", "village", "weight", "registry.false_exit"),
    doc="village and county exits; the province's check asks the registry to re-register the false exits it finds",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""

if TYPE_CHECKING:
    from povsim.model import PovertyModel


g = "governance."


class Governance:
    """County and village status, exit pressure and the county table."""

    def __init__(self, model: PovertyModel):
        self.model = model
        p, geo, hh = model.params, model.geography, model.households
        n = geo.n_counties
        self.rural_people = self._rural_people()
        self.initial_registered = self.county_people(hh.status == REGISTERED)
        self.expected_registered = self._expected_registered()
        # counties are ranked by their depth of poverty (expected incidence), not by the sampled
        # incidence, so that plans and deep-poverty flags do not depend on the scale
        incidence = geo.county_intensity

        poor = geo.county_poor
        self.exit_year = np.zeros(n, np.int16)  # year a poor county exited (摘帽), 0 not yet
        plan = p[g + "exit_pressure.plan_years"]
        rank = np.argsort(np.argsort(np.where(poor, incidence, np.inf), kind="stable"), kind="stable")
        span = plan["to"] - plan["from"] + 1
        self.plan_year = np.where(poor, plan["from"] + (rank * span) // max(int(poor.sum()), 1), 0).astype(np.int16)
        deep_n = int(p[g + "deep_poverty.counties"])
        deep_rank = np.argsort(np.argsort(np.where(poor, -incidence, np.inf), kind="stable"), kind="stable")
        self.deep = poor & (deep_rank < deep_n)

        sigma = p[g + "village.sigma"]
        z = model.streams.get("governance.village_factor").standard_normal(geo.n_villages)
        self.village_factor = np.exp(sigma * z - 0.5 * sigma**2)
        self.village_exit_year = np.zeros(geo.n_villages, np.int16)
        # each household's post-exit support period, drawn once: evenly 1 … 2·mean − 1 years, so that
        # the support of a whole exit cohort does not end in one year (the period's length is not
        # documented, "for a certain period", [exit-mechanism-2016] §2)
        mean = int(p[g + "post_exit_support_years"])
        u = model.streams.uniform("governance.post_exit_support", 0, hh.n)
        years = (1 + np.floor(u * (2 * mean - 1))).astype(np.int8) if mean > 0 else np.zeros(hh.n, np.int8)
        self.support_years = hh.add_state("governance.support_years", years)
        self.false_exit_people = np.zeros(n)
        self.rows: list[pd.DataFrame] = []

    def _expected_registered(self) -> np.ndarray:
        """Registered people each county holds in expectation at the end of 2014: the regional
        registry placed by the rule of :func:`povsim.population._place` (poor counties take
        ``registered_share_in_poor_counties``, in proportion to size times depth of poverty). At a
        coarse scale many counties hold no registered agent by chance; quotas based on this do not
        depend on which agents the sample put where."""
        m = self.model
        p, geo, hh = m.params, m.geography, m.households
        registered = hh.status == REGISTERED
        by_region = np.bincount(hh.region[registered], hh.people_weight_of(np.flatnonzero(registered)), 3)
        share = p["geography.counties.registered_share_in_poor_counties"]
        weight = geo.county_size * geo.county_intensity
        out = np.zeros(geo.n_counties)
        for r in range(3):
            for poor_flag, s in ((True, share), (False, 1.0 - share)):
                cand = (geo.county_region == r) & (geo.county_poor == poor_flag)
                if not cand.any():
                    cand = geo.county_region == r
                out[cand] += by_region[r] * s * weight[cand] / weight[cand].sum()
        return out

    def exit_incidence(self, sampled: np.ndarray, halves: Halves | None = None) -> np.ndarray:
        """The registered incidence a poor county's exit is judged on, freed of agent-sampling noise
        (:meth:`povsim.sampling.Sampling.denoised_rate` over rural people, smooth in the county's depth
        of poverty)."""
        geo = self.model.geography
        sampling = self.model.sampling
        return sampling.denoised_rate(
            sampled, self.rural_people, geo.county_poor, sampling.incidence_z, geo.county_intensity, halves
        )

    def _judged_incidence(self, registered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Registered people by county (households ``registered``) and the incidence exits are
        judged on (:meth:`exit_incidence`, with the halves that measure its sampling noise)."""
        reg = self.county_people(registered)
        halves = self.model.sampling.split_rates(registered, self.rural_people)
        return reg, self.exit_incidence(reg / self.rural_people, halves)

    def _rural_people(self) -> np.ndarray:
        m = self.model
        geo, p = m.geography, m.params
        rural = p.region("population.rural_population")
        out = np.zeros(geo.n_counties)
        mean_poor = p[g + "county.poor_county_rural_people"]
        for r in range(3):
            poor = (geo.county_region == r) & geo.county_poor
            other = (geo.county_region == r) & ~geo.county_poor
            size = geo.county_size
            if poor.any():
                out[poor] = mean_poor * size[poor] / size[poor].mean()
            left = max(rural[r] - out[poor].sum(), 0.0)
            if other.any():
                out[other] = left * size[other] / size[other].sum()
        return np.maximum(out, 1.0)

    def county_people(self, mask: np.ndarray) -> np.ndarray:
        """People (national units) of the households in ``mask``, by county (exact: whole
        people, summed over the households concerned only)."""
        return self.model.households.people_by_county(mask, self.model.geography.n_counties)

    # -- rules used during the year ----------------------------------------------------
    def exit_pressure(self, year: int) -> np.ndarray:
        """Per county, the share by which the household exit standard is relaxed this year."""
        p = self.model.params
        ramp = p[g + "exit_pressure.ramp_years"]
        closeness = np.clip(1.0 - (self.plan_year - year) / ramp, 0.0, 1.0)
        # the deadline presses on every poor county's remaining registered households, exited
        # county or not (all must exit by 2020), so pressure depends on the plan year only
        return np.where(self.model.geography.county_poor, p[g + "exit_pressure.max"] * closeness, 0.0)

    def fund_weights(self, year: int) -> np.ndarray:
        """Per county, the weight on its registered poor people in the pool allocation."""
        p = self.model.params
        extra = p[g + "deep_poverty.extra_funds"] if year >= p[g + "deep_poverty.from_year"] else 0.0
        return 1.0 + extra * self.deep

    # -- the end-of-year review --------------------------------------------------------
    def review(self) -> None:
        """Evaluate village and county exits at the end of the year, in place (from the year the
        exit mechanism took effect, ``governance.review.first_year``)."""
        m, p, hh, geo, y = self.model, self.model.params, self.model.households, self.model.geography, self.model.year
        open_ = y >= p[g + "review.first_year"]  # exits are possible from this year on
        n = geo.n_counties
        registered = hh.status == REGISTERED
        reg, incidence = self._judged_incidence(registered)
        threshold = p.region(g + "county.incidence_threshold")[geo.county_region]
        applying = geo.county_poor & (self.exit_year == 0) & (incidence < threshold) & open_
        # the counties the province checked this year: it re-registered about half their earlier false
        # exits, so their wrong-exit rates are not alike those of unchecked counties
        checked = applying & self._checks(y)
        if self.provincial_check(applying).any():
            registered = hh.status == REGISTERED
            reg, incidence = self._judged_incidence(registered)

        # rates an evaluation would find: wrong exits (exited falsely and still below the line)
        # among exited households, missed poor (income-poor, never registered) among residents
        exited_now = hh.status == EXITED
        wrong_now = m.registry.false_exit & exited_now & hh.poor
        exited = self.county_people(exited_now)
        wrong = self.county_people(wrong_now)
        sampling = m.sampling
        wrong_halves = sampling.split_rates(wrong_now, exited_now)
        del exited_now, wrong_now
        missed_now = (hh.status == NOT_REGISTERED) & hh.poor
        missed = self.county_people(missed_now)
        missed_halves = sampling.split_rates(missed_now, self.rural_people)
        del missed_now
        poor = geo.county_poor
        wrong_rate = sampling.denoised_rate(
            np.divide(wrong, exited, out=np.zeros(n), where=exited > 0),
            exited,
            poor,
            sampling.wrong_z,
            halves=wrong_halves,
            checked=checked,
        )
        missed_rate = sampling.denoised_rate(
            missed / self.rural_people, self.rural_people, poor, sampling.missed_z, halves=missed_halves
        )
        sample = int(p[g + "evaluation.sample_households"])
        rng = m.streams.get("governance.evaluation", y)
        wrong_found = rng.binomial(sample, np.clip(wrong_rate, 0, 1)) / sample
        missed_found = rng.binomial(sample, np.clip(missed_rate, 0, 1)) / sample
        satisfaction = (
            p[g + "county.satisfaction_mean"] - wrong_rate + p[g + "county.satisfaction_sd"] * rng.standard_normal(n)
        )
        limit = p[g + "county.error_threshold"]
        passes = (
            (incidence < threshold)
            & (wrong_found < limit)
            & (missed_found < limit)
            & (satisfaction >= p[g + "county.satisfaction_threshold"])
        )
        newly = geo.county_poor & (self.exit_year == 0) & passes & open_
        self.exit_year[newly] = y

        # villages: the county's incidence among poor-village residents, times the village factor
        registered_pv = registered & geo.village_poor[hh.village]
        del registered
        reg_pv = self.county_people(registered_pv)
        village_people = self.rural_people / geo.county_villages
        pv_people = np.maximum(geo.county_poor_villages * village_people, 1.0)
        pv_incidence = sampling.denoised_rate(
            reg_pv / pv_people,
            pv_people,
            geo.county_poor_villages > 0,
            sampling.village_incidence_z,
            geo.county_intensity,
            sampling.split_rates(registered_pv, pv_people),
        )
        del registered_pv
        v_county = geo.village_county
        v_incidence = pv_incidence[v_county] * self.village_factor
        v_threshold = p.region(g + "county.incidence_threshold")[geo.county_region[v_county]]
        newly_v = geo.village_poor & (self.village_exit_year == 0) & (v_incidence < v_threshold) & open_
        self.village_exit_year[newly_v] = y

        self.record_state(reg, incidence)

    def provincial_check(self, applying: np.ndarray) -> np.ndarray:
        """The province's check of the counties ``applying`` for exit, before the national
        evaluation (省级核查; wrong exits found are corrected, [exit-mechanism-2016] §3(3)), in place.

        In an applying poor county, each household that exited in an earlier year while below the
        line and is still below it (an undetected false exit) is found with the evaluation's
        ``governance.evaluation.detection_prob`` and re-registered, which raises the county's
        incidence (it may then no longer qualify). Runs when the evaluation is on and from its start
        year. Returns the households re-registered (counted in this year's re-registrations)."""
        m, p, hh, y = self.model, self.model.params, self.model.households, self.model.year
        found = np.zeros(hh.n, bool)
        if not applying.any() or not self._checks(y):
            return found
        cand = np.flatnonzero(
            (hh.status == EXITED) & m.registry.false_exit & hh.poor & (hh.exit_year < y) & applying[hh.county]
        )
        u = m.streams.uniform_at("governance.provincial_check", y, cand)
        cand = cand[u < p[g + "evaluation.detection_prob"]]
        found[cand] = True
        m.registry.reregister(found)
        return found

    def _checks(self, year: int) -> bool:
        """Whether the province checks the counties applying for exit in ``year`` (with the evaluation,
        from its start year)."""
        p = self.model.params
        return bool(p[g + "evaluation.enabled"]) and year >= p[g + "evaluation.start_year"]

    def record_state(self, reg: np.ndarray | None = None, exit_incidence: np.ndarray | None = None) -> None:
        """Append this year's rows to the county table (``reg`` and ``exit_incidence``: the registered
        people and the incidence exits were judged on, when the review has them already)."""
        m, geo, hh = self.model, self.model.geography, self.model.households
        if reg is None or exit_incidence is None:
            reg, exit_incidence = self._judged_incidence(hh.status == REGISTERED)
        incidence = reg / self.rural_people
        poor = self.county_people(hh.poor)
        status = np.where(~geo.county_poor, "non_poor", np.where(self.exit_year > 0, "exited", "poor"))
        self.rows.append(
            pd.DataFrame(
                {
                    "year": m.year,
                    "county": np.arange(geo.n_counties),
                    "region": np.array(REGIONS)[geo.county_region],
                    "poor_county": geo.county_poor,
                    "deep_poverty": self.deep,
                    "rural_people": np.round(self.rural_people).astype(np.int64),
                    "registered_poor_people": np.round(reg).astype(np.int64),
                    "poor_people": np.round(poor).astype(np.int64),
                    "incidence": incidence,
                    "exit_incidence": exit_incidence,
                    "funds_yuan": m.ledger.county_funds.copy(),
                    "spending_yuan": m.ledger.county_spending.copy(),
                    "status": status,
                    "exit_year": self.exit_year.copy(),
                    "planned_exit_year": self.plan_year.copy(),
                }
            )
        )

    # -- reporting ---------------------------------------------------------------------
    def counties_exited(self) -> int:
        return int((self.exit_year > 0).sum())

    def villages_exited(self) -> int:
        return int((self.village_exit_year > 0).sum())

    def table(self) -> pd.DataFrame:
        """The county table: one row per county and year."""
        return pd.concat(self.rows, ignore_index=True) if self.rows else pd.DataFrame()
