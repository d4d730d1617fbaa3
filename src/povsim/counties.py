"""The county (县) and village (行政村) tables.

Counties hold households. What a county does each year — receive funds and split them across
channels (money.py), plan its exit, apply for 摘帽 and be evaluated (governance.py) — is a rule
vectorised over all counties at once, on arrays indexed like ``Households.county``; their yearly
state is the county table (``PovertyModel.governance.table()``, ``counties.csv``). Villages are an
index: each village belongs to one county and carries a poor-village (贫困村) flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from povsim.allocation import apportion
from povsim.parameters import ParameterSet

if TYPE_CHECKING:
    pass


@dataclass
class Geography:
    """County and village tables (real counts, whatever the scale)."""

    county_region: np.ndarray  # int8
    county_poor: np.ndarray  # bool, one of the 832 poor counties
    county_size: np.ndarray  # float64, relative rural population
    county_intensity: np.ndarray  # float64, relative depth of poverty (mean one): registered people per rural person
    village_county: np.ndarray  # int32
    village_poor: np.ndarray  # bool, registered poor village
    county_first_village: np.ndarray  # int64, villages of county c are first..first+n-1
    county_villages: np.ndarray  # int64
    county_poor_villages: np.ndarray  # int64, the first ones of a county's villages

    @property
    def n_counties(self) -> int:
        return int(self.county_region.shape[0])

    @property
    def n_villages(self) -> int:
        return int(self.village_county.shape[0])


def build_geography(params: ParameterSet, rng: np.random.Generator) -> Geography:
    """Lay out the poor and other counties by region, and their poor and other villages."""
    poor = params.region("geography.counties.poor").astype(int)
    other = params.region("geography.counties.other").astype(int)
    region = np.concatenate(
        [np.full(poor[r], r, np.int8) for r in range(3)] + [np.full(other[r], r, np.int8) for r in range(3)]
    )
    is_poor = np.concatenate([np.ones(poor.sum(), bool), np.zeros(other.sum(), bool)])
    n = region.shape[0]
    size = rng.lognormal(0.0, params["geography.counties.size_sigma"], n)
    sigma = params["geography.counties.intensity_sigma"]
    intensity = rng.lognormal(-0.5 * sigma**2, sigma, n)

    # 128k poor villages: a share inside the poor counties, the rest in the others,
    # spread in proportion to county size.
    n_poor_villages = int(params["geography.villages.poor"])
    share_in = params["geography.villages.poor_share_in_poor_counties"]
    inside = round(n_poor_villages * share_in)
    poor_villages = np.zeros(n, np.int64)
    for mask, total in ((is_poor, inside), (~is_poor, n_poor_villages - inside)):
        w = size * mask
        poor_villages += apportion(total, w)
    other_villages = np.full(n, int(params["geography.villages.other_per_county"]), np.int64)
    villages = poor_villages + other_villages
    first = np.concatenate([[0], np.cumsum(villages)[:-1]])
    village_county = np.repeat(np.arange(n, dtype=np.int32), villages)
    offset = np.arange(village_county.shape[0]) - first[village_county]
    village_poor = offset < poor_villages[village_county]
    return Geography(region, is_poor, size, intensity, village_county, village_poor, first, villages, poor_villages)
