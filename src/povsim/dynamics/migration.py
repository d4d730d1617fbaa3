"""Migration decisions: workers at home leave to work away with a probability that rises
with their schooling and with the share of their village's workers already away; migrants
return home at a constant rate."""

from __future__ import annotations

import numpy as np

from povsim.counties import Geography
from povsim.households import Households
from povsim.parameters import ParameterSet
from povsim.streams import RandomStreams, binomial_from_uniform


def peer_share(hh: Households, geo: Geography, prior_workers: float) -> np.ndarray:
    """Share of the other workers of each household's village who work away.

    Village shares are mixed with the county share (``prior_workers`` pseudo-workers), so
    that villages with few sampled households at coarse scales still have a sensible share.
    """
    w = hh.weight.astype(np.float64)
    mig = hh.migrants * w
    wrk = hh.workers * w
    county_share = np.bincount(hh.county, mig, geo.n_counties) / np.maximum(
        np.bincount(hh.county, wrk, geo.n_counties), 1.0
    )
    v_mig = np.bincount(hh.village, mig, geo.n_villages)[hh.village] - mig
    v_wrk = np.bincount(hh.village, wrk, geo.n_villages)[hh.village] - wrk
    mean_w = float(w.mean())
    prior = prior_workers * mean_w
    return (v_mig + prior * county_share[hh.county]) / (v_wrk + prior)


def migrate(hh: Households, geo: Geography, params: ParameterSet, streams: RandomStreams, year: int) -> np.ndarray:
    """Migrants return and workers at home leave, in place. Returns the new leavers."""
    m = "households.migration."
    n = hh.n
    returned = binomial_from_uniform(
        streams.uniform("migration_return", year, n), hh.migrants, params[m + "return_prob"]
    )
    peers = peer_share(hh, geo, params[m + "peer_prior_workers"])
    logit = params[m + "intercept"] + params[m + "skill_effect"] * hh.skills + params[m + "peer_effect"] * peers
    p_leave = 1.0 / (1.0 + np.exp(-logit))
    home = hh.workers - hh.migrants
    leavers = binomial_from_uniform(streams.uniform("migration_leave", year, n), home, p_leave)
    hh.migrants += (leavers - returned).astype(np.int8)
    return leavers
