"""Shocks: serious illness (medical costs, lost work, chronic illness), disasters correlated
within a county, and job loss for migrant workers (000 lines 436, 454, 910)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from povsim.counties import Geography
from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.streams import RandomStreams, binomial_from_uniform


@dataclass
class Shocks:
    """This year's shocks, one value per household (and per county for disasters)."""

    ill: np.ndarray  # bool, a serious illness episode
    medical_cost: np.ndarray  # yuan, before reimbursement
    lost_work: np.ndarray  # share of farm and local earnings lost
    farm_loss: np.ndarray  # share of farm income lost to disaster
    job_losers: np.ndarray  # migrants who lost their job and came home
    county_severity: np.ndarray  # per county, 0 where no disaster


def draw_shocks(hh: Households, geo: Geography, params: ParameterSet, streams: RandomStreams, year: int) -> Shocks:
    """Draw the year's shocks and apply their lasting effects (chronic illness, returns)."""
    n = hh.n
    s = "shocks."

    # Illness
    p_ill = (
        params[s + "illness.base_prob"]
        + params[s + "illness.prob_per_elderly"] * hh.elderly
        + params[s + "illness.prob_per_chronic"] * hh.ill
    )
    ill = streams.uniform("illness", year, n) < np.minimum(p_ill, 0.95)
    sigma = params[s + "illness.cost_sigma"]
    mu = np.log(params[s + "illness.cost_mean"]) - 0.5 * sigma**2
    cost = np.where(ill, np.exp(mu + sigma * streams.get("illness_cost", year).standard_normal(n)), 0.0)
    lost_work = np.where(ill, params[s + "illness.lost_work_share"], 0.0)

    # Lasting effect: an episode may leave a chronically ill member; a worker if there is
    # one (in proportion to the adults at risk), otherwise an elderly or inactive member.
    u_chronic = streams.uniform("illness_chronic", year, n)
    chronic = ill & (u_chronic < params[s + "illness.chronic_prob"])
    adults_old = (hh.size - hh.children).astype(np.float64)
    worker_falls = chronic & (hh.workers > 0) & (streams.uniform("illness_who", year, n) * adults_old < hh.workers)
    room = hh.size - hh.workers - hh.children - hh.ill
    other_falls = chronic & ~worker_falls & (room > 0)
    hh.workers -= worker_falls.astype(np.int8)
    hh.ill += (worker_falls | other_falls).astype(np.int8)
    np.minimum(hh.migrants, hh.workers, out=hh.migrants)
    recovered = (
        (hh.ill > 0) & ~ill & (streams.uniform("illness_recovery", year, n) < params[s + "illness.recovery_prob"])
    )
    back_to_work = recovered & (hh.size - hh.children - hh.workers - hh.elderly - hh.disabled > 0)
    hh.ill -= recovered.astype(np.int8)
    hh.workers += back_to_work.astype(np.int8)

    # Disasters, shared within a county
    c = "shocks.disaster."
    hit = streams.uniform("disaster_county", year, geo.n_counties) < params.region(c + "county_prob")[geo.county_region]
    m, k = params[c + "severity_mean"], params[c + "severity_concentration"]
    severity = np.where(hit, streams.get("disaster_severity", year).beta(m * k, (1 - m) * k, geo.n_counties), 0.0)
    hs = params[c + "household_sigma"]
    spread = np.exp(hs * streams.get("disaster_household", year).standard_normal(n) - 0.5 * hs**2)
    mult = np.where(hh.hazard_zone, params[c + "hazard_zone_multiplier"], 1.0)
    farm_loss = np.minimum(severity[hh.county] * spread * mult, 0.95)

    # Job loss for migrants
    job_losers = binomial_from_uniform(streams.uniform("job_loss", year, n), hh.migrants, params[s + "job_loss.prob"])
    hh.migrants -= job_losers.astype(np.int8)

    return Shocks(ill, cost, lost_work, farm_loss, job_losers.astype(np.int8), severity)
