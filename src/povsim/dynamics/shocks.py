"""Shocks: serious illness (medical costs, lost work, chronic illness), disasters correlated
within a county, and job loss for migrant workers ([cheng-2017] ch. 3 §3, §3(3); ch. 6 §3(2))."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from povsim.counties import Geography
from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration
from povsim.streams import RandomStreams, binomial_from_uniform

SHOCKS = Declaration(
    "shocks",
    owns=("ill",),
    modifies=("workers", "migrants"),
    reads=("children", "county", "disabled", "elderly", "hazard_zone", "size", "weight"),
    doc="illness and lost jobs change who works; disasters and medical costs are drawn",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""


class SparseColumn:
    """A float64 value per household that is zero except at a few ``rows`` (sorted, unique):
    e.g. medical costs, which only the ill have (about one household in ten).

    Args:
        n: number of households.
        rows: the households with a value, ascending.
        values: their values.
    """

    def __init__(self, n: int, rows: np.ndarray, values: np.ndarray):
        self.n = n
        self.rows = rows
        self.values = values

    def dense(self) -> np.ndarray:
        """The full column (zero elsewhere)."""
        out = np.zeros(self.n)
        out[self.rows] = self.values
        return out

    def at(self, idx: np.ndarray) -> np.ndarray:
        """The values of households ``idx`` (zero where there is none)."""
        pos = np.searchsorted(self.rows, idx)
        np.minimum(pos, max(self.rows.size - 1, 0), out=pos)
        out = np.zeros(idx.shape)
        if self.rows.size:
            found = self.rows[pos] == idx
            out[found] = self.values[pos[found]]
        return out

    def subtract_from(self, out: np.ndarray) -> None:
        """``out -= self.dense()``, in place, touching only the rows with a value."""
        out[self.rows] -= self.values


@dataclass
class Shocks:
    """This year's shocks, one value per household (and per county for disasters)."""

    ill: np.ndarray  # bool, a serious illness episode
    medical_cost: SparseColumn  # yuan, before reimbursement (the ill only)
    lost_work_share: float  # share of farm and local earnings lost by the ill
    farm_loss: SparseColumn  # share of farm income lost to disaster (households of hit counties)
    job_losers: np.ndarray  # int8, migrants who lost their job and came home
    county_severity: np.ndarray  # per county, 0 where no disaster

    @property
    def lost_work(self) -> np.ndarray:
        """Share of farm and local earnings lost (``lost_work_share`` for the ill, else 0)."""
        return np.where(self.ill, self.lost_work_share, 0.0)


def draw_shocks(hh: Households, geo: Geography, params: ParameterSet, streams: RandomStreams, year: int) -> Shocks:
    """Draw the year's shocks and apply their lasting effects (chronic illness, returns).

    Full-length temporaries are reused in place (a national run holds ~52M rows); the
    arithmetic is elementwise the same as the plain expressions in the comments.
    """
    n = hh.n
    s = "shocks."

    # Illness: p = base + per_elderly * elderly + per_chronic * ill, at most 0.95
    p_ill = params[s + "illness.prob_per_elderly"] * hh.elderly
    p_ill += params[s + "illness.base_prob"]
    p_ill += params[s + "illness.prob_per_chronic"] * hh.ill
    np.minimum(p_ill, 0.95, out=p_ill)
    ill = streams.uniform("illness", year, n) < p_ill
    del p_ill
    # cost = exp(mu + sigma * z) for the ill, else 0 (kept for the ill only)
    sigma = params[s + "illness.cost_sigma"]
    mu = np.log(params[s + "illness.cost_mean"]) - 0.5 * sigma**2
    ill_rows = np.flatnonzero(ill)
    cost = streams.get("illness_cost", year).standard_normal(n)[ill_rows]
    cost *= sigma
    cost += mu
    np.exp(cost, out=cost)

    # Lasting effect: an episode may leave a chronically ill member; a worker if there is
    # one (in proportion to the adults at risk), otherwise an elderly or inactive member.
    chronic = ill & (streams.uniform("illness_chronic", year, n) < params[s + "illness.chronic_prob"])
    u_who = streams.uniform("illness_who", year, n)
    u_who *= hh.size - hh.children  # the adults at risk, as float64
    worker_falls = chronic & (hh.workers > 0) & (u_who < hh.workers)
    del u_who
    room = hh.size - hh.workers - hh.children - hh.ill
    other_falls = chronic & ~worker_falls & (room > 0)
    del room, chronic
    hh.workers -= worker_falls
    hh.ill += worker_falls | other_falls
    del worker_falls, other_falls
    np.minimum(hh.migrants, hh.workers, out=hh.migrants)
    recovered = (
        (hh.ill > 0) & ~ill & (streams.uniform("illness_recovery", year, n) < params[s + "illness.recovery_prob"])
    )
    back_to_work = recovered & (hh.size - hh.children - hh.workers - hh.elderly - hh.disabled > 0)
    hh.ill -= recovered
    hh.workers += back_to_work
    del recovered, back_to_work

    # Disasters, shared within a county
    c = "shocks.disaster."
    hit = streams.uniform("disaster_county", year, geo.n_counties) < params.region(c + "county_prob")[geo.county_region]
    m, k = params[c + "severity_mean"], params[c + "severity_concentration"]
    severity = np.where(hit, streams.get("disaster_severity", year).beta(m * k, (1 - m) * k, geo.n_counties), 0.0)
    # farm_loss = min(severity[county] * spread * (multiplier in hazard zones), 0.95)
    hs = params[c + "household_sigma"]
    # (zero outside hit counties: kept for the households of hit counties only)
    hit_rows = np.flatnonzero(hit[hh.county])
    spread = streams.get("disaster_household", year).standard_normal(n)[hit_rows]
    spread *= hs
    spread -= 0.5 * hs**2
    np.exp(spread, out=spread)
    loss = severity[hh.county[hit_rows]]
    loss *= spread
    del spread
    np.multiply(loss, params[c + "hazard_zone_multiplier"], out=loss, where=hh.hazard_zone[hit_rows])
    np.minimum(loss, 0.95, out=loss)
    farm_loss = SparseColumn(n, hit_rows, loss)

    # Job loss for migrants
    job_losers = binomial_from_uniform(streams.uniform("job_loss", year, n), hh.migrants, params[s + "job_loss.prob"])
    job_losers = job_losers.astype(np.int8, copy=False)
    hh.migrants -= job_losers

    medical_cost = SparseColumn(n, ill_rows, cost)
    return Shocks(ill, medical_cost, params[s + "illness.lost_work_share"], farm_loss, job_losers, severity)
