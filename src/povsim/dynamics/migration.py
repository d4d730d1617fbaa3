"""Migration decisions: workers at home leave to work away with a probability that rises
with their schooling and with the share of their village's workers already away; migrants
return home at a constant rate."""

from __future__ import annotations

import numpy as np

from povsim.counties import Geography
from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration
from povsim.streams import RandomStreams, binomial_from_uniform

MIGRATION = Declaration(
    "migration",
    owns=("migrants",),
    reads=("county", "skills", "village", "weight", "workers"),
    doc="workers leave for work away and return",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""


def peer_share(hh: Households, geo: Geography, prior_workers: float) -> np.ndarray:
    """Share of the other workers of each household's village who work away.

    Village shares are mixed with the county share (``prior_workers`` pseudo-workers), so
    that villages with few sampled households at coarse scales still have a sensible share.
    """
    w = hh.weight.astype(np.float64)
    mean_w = float(w.mean())
    mig = hh.migrants * w
    wrk = np.multiply(hh.workers, w, out=w)
    county_share = np.bincount(hh.county, mig, geo.n_counties) / np.maximum(
        np.bincount(hh.county, wrk, geo.n_counties), 1.0
    )
    prior = prior_workers * mean_w
    # (v_mig + prior * county_share[county]) / (v_wrk + prior), with v_* the other workers
    # of the village, in place
    v_mig = np.bincount(hh.village, mig, geo.n_villages)[hh.village]
    v_mig -= mig
    del mig
    v_wrk = np.bincount(hh.village, wrk, geo.n_villages)[hh.village]
    v_wrk -= wrk
    del wrk, w
    share = county_share[hh.county]
    share *= prior
    share += v_mig
    del v_mig
    v_wrk += prior
    share /= v_wrk
    return share


def migrate(hh: Households, geo: Geography, params: ParameterSet, streams: RandomStreams, year: int) -> np.ndarray:
    """Migrants return and workers at home leave, in place. Returns the new leavers."""
    m = "households.migration."
    n = hh.n
    returned = binomial_from_uniform(
        streams.uniform("migration_return", year, n), hh.migrants, params[m + "return_prob"]
    )
    peers = peer_share(hh, geo, params[m + "peer_prior_workers"])
    # p_leave = 1 / (1 + exp(-(intercept + skill_effect * skills + peer_effect * peers))), in place
    p_leave = params[m + "skill_effect"] * hh.skills
    p_leave += params[m + "intercept"]
    peers *= params[m + "peer_effect"]
    p_leave += peers
    del peers
    np.negative(p_leave, out=p_leave)
    np.exp(p_leave, out=p_leave)
    p_leave += 1.0
    np.divide(1.0, p_leave, out=p_leave)
    home = hh.workers - hh.migrants
    leavers = binomial_from_uniform(streams.uniform("migration_leave", year, n), home, p_leave, overwrite_p=True)
    del p_leave
    hh.migrants += (leavers - returned).astype(np.int8)
    return leavers
