"""The sampling layer: what agent sampling blurs in the county rules, restored in one place.

A household agent stands for ``poor_area_scale`` real households in the poor areas and ``scale``
elsewhere (the sampling design, ``docs/calibration.md``). Two county rules read quantities that
agent sampling makes noisy at a coarse scale, and this module corrects them:

* **rates a county is judged on** (its registered incidence, its wrong-exit and missed-identification
  rates, its poor villages' incidence): :meth:`Sampling.denoised_rate` frees a county's sampled rate
  of the sampling noise (a smooth over alike counties, a factor per cell of alike counties, and the
  county's place within the spread, at a fixed draw per county), learning how noisy a rate is from
  its two halves of agents (:meth:`Sampling.split_rates`);
* **rationing of county budgets**: the budgets of alike counties are rationed together over their
  candidates (:meth:`Sampling.rationing`), so a county's handful of agents does not put its cut-off
  wherever they happen to lie.

The *cells* of alike counties follow what the population builder holds alike: it samples every
county of a region and kind (poor county or not) by the same design (``population._strata``), and
the policy sets a poor county's planned exit year and deep-poverty tilt from its depth of poverty
(``Governance``); a test checks that each cell lies within one region and kind.

At 1 : 1 (every household an agent) both corrections are no-ops. ``run.sampling_correction = false``
(a scenario's run setting, or ``--set run.sampling_correction=false``) switches them off at any scale:
every county is then judged on its sampled rates and rations its own budget, which is what the
sampling-design benchmark compares (``benchmarks/sampling_design.py``). The governance and programme
rules hold only policy and call this module for the estimates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special

if TYPE_CHECKING:
    from povsim.model import PovertyModel

Halves = tuple[np.ndarray, np.ndarray]
"""A county rate measured on the even- and on the odd-indexed household agents."""


class Sampling:
    """The sampling layer of one model (after its :class:`~povsim.governance.Governance`, whose
    planned exit years and deep-poverty flags make its cells).

    Attributes:
        denoise_rates, ration_alike: the two corrections switched on (both the run's
            ``sampling_correction`` setting; a benchmark may switch one off).
        incidence_z, wrong_z, missed_z, village_incidence_z: a fixed standard normal draw per county,
            where its rate sits within the spread agent sampling cannot tell apart.
        cell: per county, its cell in the noise model of :meth:`denoised_rate` (kind of county and
            planned exit year).
        rationing_cell, rationing_cell_region: per county, its rationing cell (region, kind, planned
            exit year and deep-poverty tilt); per cell, its region.
    """

    def __init__(self, model: PovertyModel):
        self.model = model
        geo, gov = model.geography, model.governance
        n = geo.n_counties
        enabled = bool(model.scenario.run.sampling_correction)
        self.denoise_rates = enabled
        self.ration_alike = enabled
        streams = model.streams
        self.incidence_z = streams.get("governance.county_incidence").standard_normal(n)
        self.wrong_z = streams.get("governance.county_wrong_exits").standard_normal(n)
        self.missed_z = streams.get("governance.county_missed").standard_normal(n)
        self.village_incidence_z = streams.get("governance.village_incidence").standard_normal(n)
        # counties alike in the noise model of denoised_rate: kind and planned exit year (0 for the
        # counties that are not poor)
        self.cell = np.unique(gov.plan_year, return_inverse=True)[1].astype(np.int64)
        # counties alike in everything the rationing of their budgets depends on — region, kind,
        # planned exit year and deep-poverty tilt
        plan_year = gov.plan_year
        alike = (geo.county_region.astype(np.int64) * 2 + gov.deep) * (int(plan_year.max()) + 1) + plan_year
        _, first, self.rationing_cell = np.unique(alike, return_index=True, return_inverse=True)
        self.rationing_cell_region = geo.county_region[first].astype(np.int64)

    @property
    def denoising(self) -> bool:
        """Whether the county rates are denoised: switched on, and the poor areas sampled coarser than 1 : 1."""
        return self.denoise_rates and self.model.poor_area_scale > 1.0

    @property
    def rationing_by_cell(self) -> bool:
        """Whether alike counties ration their budgets together: switched on, and the households outside
        the poor areas sampled coarser than 1 : 1."""
        return self.ration_alike and self.model.scale > 1.0

    def rationing(self, county: np.ndarray, budget: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """How candidates living in ``county`` (one per candidate) share the per-county ``budget``
        (national yuan): a group per candidate, the budget per group and the region of each group
        (where unspent money pools) — the rationing cells when :attr:`rationing_by_cell`, else each
        county on its own."""
        if self.rationing_by_cell:
            budget = np.bincount(self.rationing_cell, budget, self.rationing_cell_region.size)
            return self.rationing_cell[county], budget, self.rationing_cell_region
        return county, budget, self.model.geography.county_region

    def split_rates(self, numerator: np.ndarray, over: np.ndarray) -> Halves | None:
        """A county rate measured on each half of the household agents (even and odd index), from
        which :meth:`denoised_rate` learns how noisy a county's sampled rate is. ``numerator``: the
        households counted (a mask); ``over``: the households it is a share of (a mask), or people
        by county (fixed). None where the poor areas are sampled 1:1, without sampling noise."""
        if not self.denoising:
            return None
        num = self._halves(numerator)
        den = self._halves(over) if over.dtype == bool else (over / 2.0, over / 2.0)
        a, b = (np.divide(x, d, out=np.full(len(x), np.nan), where=d > 0) for x, d in zip(num, den, strict=True))
        return a, b

    def _halves(self, mask: np.ndarray) -> Halves:
        hh, n = self.model.households, self.model.geography.n_counties
        idx = np.flatnonzero(mask)
        odd = (idx & 1).astype(bool)
        weight, county = hh.people_weight_of(idx), hh.county[idx]
        return np.bincount(county[~odd], weight[~odd], n), np.bincount(county[odd], weight[odd], n)

    def denoised_rate(
        self,
        sampled: np.ndarray,
        people: np.ndarray,
        counties: np.ndarray,
        z: np.ndarray,
        covariate: np.ndarray | None = None,
        halves: Halves | None = None,
        checked: np.ndarray | None = None,
    ) -> np.ndarray:
        """A county rate (registered incidence, wrong-exit, missed-identification or poor-village
        incidence) freed of agent-sampling noise, for the ``counties`` selected; other counties keep
        ``sampled``.

        A county's sampled rate comes from its few household agents; at 1 : 1000 a county's
        incidence moves by about a percentage point when one agent exits, and a county with no
        exited agent shows no wrong exit at all, so counties would pass the exit criteria by
        chance, more often the coarser the scale. The rate is modelled in three levels, each
        sampled rate a Poisson count over the county's effective sample n = P / ((w − 1)·κ·φ) (w
        households per agent, P the county's ``people`` the rate is a share of, κ people per
        household weighted by size, φ how much noisier agent sampling is than Poisson, per region
        and kind of county: the mean squared difference between the rates on the two halves of
        the agents, ``halves`` (:meth:`split_rates`), over four, over the Poisson variance, at least
        1; 1 without them — about 1 in poor counties and 2–3 for the poor villages of other counties):

        1. per region and kind of county (poor or not), a smooth g of ``covariate`` (weighted least
           squares; the pooled rate without one);
        2. per *cell* — kind of county and, for poor counties, the planned exit year, which ranks
           their depth of poverty and sets the exit pressure they were under (under strong pressure
           the counties planning to exit in 2016 carry several times the wrong-exit rate of the
           others; at the committed calibration the cohorts' rates at the end of 2016 are alike,
           2.3–2.7% at 1 : 1), each cell split in two by ``checked`` where given — a factor on g: the cell's observed
           over expected count (O + 1) / (E + 1), the posterior mean under an exponential prior of
           mean one, so that a cell with no event at a very coarse scale keeps its region's rate.
           ``checked`` marks the counties a mechanism of this year's review has acted on, so that
           their rates are not alike those of the other counties of their cell: the review passes
           the counties the province checked (``Governance.provincial_check``) for the wrong-exit rate.
           The check re-registers about half the earlier false exits of the counties applying for
           exit, and only those can exit: at the end of 2016, at 1 : 1, the applicants of the 2016
           cohort show 1.9% wrong exits, the rest of the cohort 3.4% (people-weighted). Pooled with
           the others, the applicants' rates were drawn towards the cohort's 2.6% and too few passed
           (39 counties by 2016 at 1 : 10, 27 at the baseline's design, against 55 at 1 : 1);
        3. per county, a gamma-distributed rate about the cell's smooth m, its shape α the spread left
           after the sampling variance (DerSimonian and Laird's moment estimator, 1986, per kind of
           county over the regions, over the counties with people, each weighted by its sampling
           precision n / m), drawn
           from its posterior (shape α + n·sampled, rate α / m + n) at the quantile Φ(``z``), ``z``
           fixed per county.

        At scale 1, or with the layer switched off, this is the sampled rate, and at any scale the
        spread across counties is the estimated signal's, not the sample's."""
        m = self.model
        geo = m.geography
        w = float(m.poor_area_scale)  # every rate judged is read off the agents of the poor areas
        if not self.denoising:
            return sampled
        n_eff = np.maximum(people, 0.0) / ((w - 1.0) * self.kappa())
        kind = geo.county_region.astype(np.int64) * 2 + geo.county_poor  # region and kind of county
        smooth = np.full(geo.n_counties, np.nan)
        for k in range(6):
            group = counties & (kind == k)
            if group.sum() >= 3:
                smooth[group] = _weighted_fit(sampled, n_eff, covariate, group)
        sel = np.isfinite(smooth)
        if not sel.any():
            return sampled
        # level 2: a factor per cell on the smooth (observed over expected counts); the counties a
        # mechanism of this year's review acted on (``checked``) form cells of their own
        cell = self.cell if checked is None else self.cell * 2 + checked.astype(np.int64)
        smooth = np.where(sel, np.clip(smooth, 1e-6, 1.0), 0.0)
        observed = np.bincount(cell[sel], (n_eff * sampled)[sel], cell.max() + 1)
        expected = np.bincount(cell[sel], (n_eff * smooth)[sel], cell.max() + 1)
        smooth[sel] *= ((observed + 1.0) / (expected + 1.0))[cell[sel]]
        smooth = np.clip(smooth[sel], 1e-6, 1.0)
        # level 3: the county's rate about its cell's smooth
        y, n = sampled[sel], n_eff[sel]
        seen = n > 0
        # how much noisier than Poisson agent sampling is, per region and kind of county, from the two
        # halves of the agents; never less than Poisson: below it the split-half estimate only
        # reflects its own small-count bias (at a coarse scale many counties hold an agent or two, and
        # two empty halves look noiseless)
        group = kind[sel]
        if halves is not None:
            a, b = halves[0][sel], halves[1][sel]
            ok = seen & np.isfinite(a) & np.isfinite(b)
            half_var = np.bincount(group[ok], ((a - b) ** 2 / 4.0)[ok], 6)
            poisson = np.bincount(group[ok], (smooth / np.where(seen, n, 1.0))[ok], 6)
            phi = np.divide(half_var, poisson, out=np.ones(6), where=poisson > 0)
            n = n / np.maximum(phi[group], 1.0)
        # the spread left after the sampling variance: the squared residuals weighted by their sampling
        # precision n / m (DerSimonian and Laird's moment estimator, so that counties seen through one or
        # two agents do not swamp it), one per kind of county over the regions (at 1 : 10 the three
        # regions' are alike; read off a coarse sample region by region it is noisy enough to vanish in
        # one region and double in another)
        poor = geo.county_poor[sel].astype(np.int64)
        excess = np.bincount(poor[seen], ((y - smooth) ** 2 * n / smooth - 1.0)[seen], 2)
        information = np.bincount(poor[seen], (smooth * n)[seen], 2)
        cv2 = np.divide(excess, information, out=np.zeros(2), where=information > 0)
        alpha = 1.0 / np.maximum(cv2[poor], 1e-12)
        out = sampled.copy()
        out[sel] = special.gammaincinv(alpha + n * y, special.ndtr(z[sel])) / (alpha / smooth + n)
        return np.clip(out, 0.0, 1.0)

    def kappa(self) -> float:
        """People per household weighted by size (E[size²] / E[size]) over all households."""
        size = self.model.households.size.astype(np.float64)
        return float((size * size).sum() / max(size.sum(), 1.0))


def _weighted_fit(y: np.ndarray, weight: np.ndarray, covariate: np.ndarray | None, sel: np.ndarray) -> np.ndarray:
    """Fitted values over ``sel`` of the ``weight``-weighted least-squares line of ``y`` on
    ``covariate`` (the weighted mean without one, or when the weights leave too few points), at
    least a tenth of the weighted mean."""
    wt, yy = weight[sel], y[sel]
    if wt.sum() <= 0:
        return np.full(int(sel.sum()), yy.mean())
    mean = float((wt * yy).sum() / wt.sum())
    if covariate is None or (wt > 0).sum() < 3:
        return np.full(int(sel.sum()), mean)
    x = np.column_stack([np.ones(int(sel.sum())), covariate[sel]])
    root = np.sqrt(wt)
    coef, *_ = np.linalg.lstsq(x * root[:, None], yy * root, rcond=None)
    # a rate is positive: a line fitted over a skewed covariate may cross zero at its ends
    return np.maximum(x @ coef, 0.1 * mean)
