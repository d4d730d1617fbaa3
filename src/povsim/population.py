"""The synthetic population of rural households at the end of 2014.

Two groups of households are built, each by region:

* **registered** (建档立卡): 29.48M households and 89.62M people ([progress-2017] §2 开展建档立卡), split by region
  like the NBS 2013 poor the registry quotas were set from; most are income-poor, some are
  not (the registry was built from quotas and 两不愁三保障, not income alone).
* **non-registered**: the 8.07M income-poor people the registry missed ([cheng-2017] ch. 5 §3(2)) and
  the near-poor above the line who can fall into poverty.

Incomes are set so that the income-poor among all simulated households are the 2014 survey
headcount (70.17M) with its regional split, while the registry holds 89.62M: the two are
different measures and both are reported. Each agent stands for an integer number of real
households (``scale`` outside the poor areas, ``poor_area_scale`` in them: the sampling design);
results are always in national units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from povsim.allocation import apportion
from povsim.counties import Geography, build_geography
from povsim.households import NO_YEAR, NOT_REGISTERED, REGISTERED, Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration
from povsim.streams import RandomStreams, binomial_from_uniform

POPULATION = Declaration(
    "population",
    owns=(
        "weight",
        "region",
        "county",
        "village",
        "size",
        "disabled",
        "land",
        "cause_illness",
        "cause_capital",
        "cause_skills",
        "cause_labour",
        "guarantee.channel",
        "guarantee.year",
    ),
    doc="builds the table; owns the columns no yearly phase writes, and the guarantee record (made with the model, "
    "kept by the programmes that fix a guarantee)",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""

START_YEAR = 2014
MAX_SIZE = 8


def poverty_line(params: ParameterSet, year: int) -> float:
    """The poverty line in current yuan per person per year.

    Documented values are used where they exist (NBS); later years are uprated by
    ``economy.poverty_line.uprating`` a year (an assumption: the parameter's source).
    """
    first = min(int(y) for y in params["economy.poverty_line.documented"])
    if year < first:
        raise ValueError(f"no poverty line before {first}")
    return params.at(year)["economy.poverty_line.documented"]


def _integer_weights(total: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` integer weights, differing by at most one, that sum exactly to ``total``."""
    base = total // n
    weight = np.full(n, base, np.int64)
    weight[rng.permutation(n)[: total - base * n]] += 1
    return weight


def _sizes(shares: list[float], weight: np.ndarray, people: int, rng: np.random.Generator) -> np.ndarray:
    """Household sizes drawn from ``shares`` and nudged (±1 member) to hit ``people``."""
    cdf = np.cumsum(shares)
    size = (np.searchsorted(cdf / cdf[-1], rng.random(weight.shape[0]), side="right") + 1).astype(np.int64)
    size = np.minimum(size, MAX_SIZE)
    mean_w = float(weight.mean())
    for _ in range(20):
        gap = people - int((weight * size).sum())
        k = round(gap / mean_w)
        if k == 0:
            break
        step = 1 if k > 0 else -1
        eligible = np.flatnonzero((size < MAX_SIZE) if step > 0 else (size > 1))
        pick = rng.choice(eligible, size=min(abs(k), eligible.shape[0]), replace=False)
        size[pick] += step
    return size


def _solve_income_shift(
    market: np.ndarray, fixed: np.ndarray, size: np.ndarray, people_w: np.ndarray, line: float, target_poor: float
) -> float:
    """The log-shift s so that people with (market·e^s + fixed)/size < line sum to target."""
    if people_w.sum() == 0:
        return 0.0

    def poor_people(s: float) -> float:
        return float(people_w[(market * np.exp(s) + fixed) / size < line].sum())

    lo, hi = -8.0, 8.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if poor_people(mid) > target_poor:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def build_population(
    params: ParameterSet, scale: float, streams: RandomStreams, poor_area_scale: float | None = None
) -> tuple[Households, Geography, InitialTargets]:
    """Build the end-2014 households and geography.

    Households are sampled by stratum (:data:`POOR_COUNTY`, :data:`POOR_VILLAGE`,
    :data:`OTHER_AREA`): each (registered, region) block's real households are split over the
    strata at their expected shares, and each stratum's are represented by agents of (almost)
    equal weight.

    Args:
        params: resolved parameters.
        scale: real households per agent outside the poor areas (1 = every household is an agent).
        streams: the run's random streams; the population uses its own streams.
        poor_area_scale: real households per agent in the poor counties and in the poor villages
            of other counties (default: ``scale``, the same everywhere).

    Returns:
        The household table (market incomes at their earning potential, to be scaled by
        :func:`fit_initial_incomes`), the county/village geography, and the targets.
    """
    rng = streams.get("population")
    if poor_area_scale is None:
        poor_area_scale = scale
    geo = build_geography(params, streams.get("geography"))
    pop = "population."

    reg_share = params.region(pop + "registry_2014.region_share")
    survey_share = params.region(pop + "survey_2014.region_share")
    size_shares = params[pop + "household_size_shares"]
    mean_size = float(np.dot(np.arange(1, len(size_shares) + 1), size_shares))

    reg_hh = apportion(int(params[pop + "registry_2014.households"]), reg_share)
    reg_people = apportion(int(params[pop + "registry_2014.people"]), reg_share)
    unreg_poor = params[pop + "unregistered_poor_people"] * survey_share
    survey_poor = params[pop + "survey_2014.poor_people"] * survey_share
    unreg_people = apportion(
        round(params[pop + "unregistered_poor_people"] + params[pop + "near_poor_people"]), survey_share
    )
    unreg_hh = np.round(unreg_people / mean_size).astype(np.int64)

    # group blocks: (registered?, region, households, people, target income-poor people)
    blocks = []
    for r in range(3):
        blocks.append((True, r, reg_hh[r], reg_people[r], survey_poor[r] - unreg_poor[r]))
    for r in range(3):
        blocks.append((False, r, unreg_hh[r], unreg_people[r], unreg_poor[r]))

    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("weight", "size", "region", "registered", "stratum")}
    group_index = []
    strata = {(registered, r): _strata(params, geo, registered, r) for registered in (True, False) for r in range(3)}
    for g, (registered, r, hh, people, _target) in enumerate(blocks):
        if hh <= 0:
            continue
        # the block's real households split over the strata at their expected shares, each
        # stratum sampled at its own rate
        counts = apportion(int(hh), np.array([share for share, _, _ in strata[registered, r]]))
        weights, stratum = [], []
        for s, k in enumerate(counts):
            if k > 0:
                n_s = max(1, round(int(k) / (poor_area_scale if s < OTHER_AREA else scale)))
                weights.append(_integer_weights(int(k), n_s, rng))
                stratum.append(np.full(n_s, s, np.int8))
        weight = np.concatenate(weights)
        n = weight.shape[0]
        size = _sizes(size_shares, weight, int(people), rng)
        cols["weight"].append(weight)
        cols["size"].append(size)
        cols["region"].append(np.full(n, r, np.int8))
        cols["registered"].append(np.full(n, registered))
        cols["stratum"].append(np.concatenate(stratum))
        group_index.append(np.full(n, g, np.int16))
    weight = np.concatenate(cols["weight"])
    size = np.concatenate(cols["size"])
    region = np.concatenate(cols["region"])
    registered = np.concatenate(cols["registered"])
    stratum = np.concatenate(cols["stratum"])
    group = np.concatenate(group_index)
    n = weight.shape[0]

    def draw(p: np.ndarray | float) -> np.ndarray:
        return rng.random(n) < p

    # Member counts are kept as int8 and widened to int64 only inside expressions (the
    # arithmetic and the draws are those of int64 columns); a national 1:1 build holds ~52M
    # rows, so every full-length int64 or float64 left alive costs 0.4 GB.
    i64 = np.int64

    # Causes of poverty (致贫原因), several per registered household ([cheng-2017] ch. 5 §2(2)).
    causes = {
        c: registered & draw(params.region(pop + f"causes.{c}")[region])
        for c in ("illness", "capital", "skills", "labour")
    }
    chronic = causes["illness"] | (~registered & draw(params[pop + "causes.illness_unregistered"]))

    # Members: elderly, children, working age; about half of the registered poor cannot work
    # ([cheng-2017] app. 1, Nanjiang case).
    p_elderly = np.where(
        causes["labour"], params[pop + "members.elderly_share_labour_cause"], params[pop + "members.elderly_share"]
    )
    elderly = binomial_from_uniform(rng.random(n), size, p_elderly)
    del p_elderly
    children = binomial_from_uniform(rng.random(n), size - elderly, params[pop + "members.child_share"])
    children = np.where(children + elderly >= size, np.maximum(size - elderly - 1, 0), children).astype(np.int8)
    adults = (size - elderly - children).astype(np.int8)
    disabled = binomial_from_uniform(rng.random(n), adults, params[pop + "members.disabled_share"])
    able = adults - disabled
    del adults
    ill_adult = chronic & (able > 0) & ((elderly == 0) | draw(0.6))
    ill = (chronic & ((elderly > 0) | (able > 0))).astype(np.int8)
    del chronic
    workers = (able - ill_adult).astype(np.int8)
    del able, ill_adult
    # lack of labour (缺劳力): at most one worker
    workers = np.where(causes["labour"], np.minimum(workers, draw(0.5).astype(np.int8)), workers)

    skill_shares = np.cumsum(params[pop + "skills.shares"])
    skills = np.searchsorted(skill_shares / skill_shares[-1], rng.random(n), side="right").astype(np.int8)
    skills[causes["skills"]] = 0

    land = rng.lognormal(np.log(params[pop + "land.median_mu_per_person"]), params[pop + "land.sigma"], n)
    land *= size

    # Counties and villages
    county, village = _place(params, geo, region, registered, stratum, strata, rng)
    del stratum

    # Hazard-zone (一方水土养活不了一方人) registered households, filled to the 9.81M people of
    # the relocation plan ([plan-13th-fyp] box 1), those in poor counties first.
    hazard = np.zeros(n, bool)
    hz_people = params[pop + "hazard_zone.people"] * params.region(pop + "hazard_zone.region_share")
    for r in range(3):
        idx = np.flatnonzero(registered & (region == r))
        if idx.size == 0 or hz_people[r] <= 0:
            continue
        order = idx[np.lexsort((rng.random(idx.size), ~geo.county_poor[county[idx]]))]
        del idx
        take = np.cumsum(weight[order] * size[order]) <= hz_people[r]
        hazard[order[take]] = True
        del order, take

    def share(key: str) -> np.ndarray:
        return np.where(registered, params[pop + f"{key}_registered"], params[pop + f"{key}_unregistered"])

    housing_safe = ~draw(share("housing.unsafe_share"))
    water_safe = ~draw(share("water.unsafe_share"))
    insured = ~draw(params[pop + "insurance.uninsured_share"])
    out_of_school = ((children > 0) & draw(params[pop + "members.out_of_school_share"])).astype(np.int8)
    migrants = binomial_from_uniform(rng.random(n), workers, params[pop + "migration.initial_share"])

    # Earning potential by source (yuan/yr), then scaled per group so that the income-poor
    # match the 2014 survey headcount by region.
    eco = "economy.income."
    factor = np.exp(params[eco + "initial_sigma"] * rng.standard_normal(n))
    cc = params[eco + "capital_constraint"]
    farm = params[eco + "farm_net_per_mu"] * np.minimum(
        land, params[eco + "mu_per_farm_labourer"] * ((workers.astype(i64) - migrants) + 0.5 * elderly)
    )
    farm *= np.where(causes["capital"], 0.5 + cc / 2, 1.0)
    farm *= factor
    business = workers.astype(i64) * params[eco + "business_per_worker"] * np.where(causes["capital"], cc, 1.0)
    business *= factor
    transfers = (
        elderly.astype(i64) * params[eco + "pension_per_elderly"] + size * params[eco + "other_transfers_per_person"]
    ).astype(np.float64)
    prop = (size * params[eco + "property_per_person"]).astype(np.float64)
    skill_factor = 1.0 + params[eco + "skill_premium"] * skills.astype(i64)
    remittance = params[eco + "migrant_remittance"] * skill_factor
    remittance *= factor
    local_earnings = params[eco + "local_earnings_per_worker"] * skill_factor
    local_earnings *= factor
    del skill_factor, factor

    hh = Households(
        weight=weight.astype(np.int32),
        region=region.astype(np.int8),
        county=county.astype(np.int16 if geo.n_counties <= np.iinfo(np.int16).max else np.int32),
        village=village.astype(np.int32),
        size=size.astype(np.int8),
        children=children,
        workers=workers,
        elderly=elderly,
        ill=ill,
        disabled=disabled,
        out_of_school=out_of_school,
        migrants=migrants,
        skills=skills,
        land=land.astype(np.float32),
        hazard_zone=hazard,
        housing_safe=housing_safe,
        water_safe=water_safe,
        insured=insured,
        cause_illness=causes["illness"],
        cause_capital=causes["capital"],
        cause_skills=causes["skills"],
        cause_labour=causes["labour"],
        farm=farm,
        local_earnings=local_earnings,
        remittance=remittance,
        business=business,
        transfers=transfers,
        property=prop,
        income=np.zeros(n),
        poor=np.zeros(n, bool),
        poor_prev=np.zeros(n, bool),
        status=np.where(registered, REGISTERED, NOT_REGISTERED).astype(np.int8),
        registered_year=np.where(registered, START_YEAR, NO_YEAR).astype(np.int16),
        exit_year=np.zeros(n, np.int16),
        relapses=np.zeros(n, np.int8),
        relapse_year=np.zeros(n, np.int16),
    )
    del weight, size, county, village, land
    hh.set_income_from_sources()
    hh.check()
    targets = InitialTargets(group=group, poor_people=np.array([b[4] for b in blocks], dtype=np.float64))
    return hh, geo, targets


@dataclass
class InitialTargets:
    """Income-poor people each block of households must hold at the end of 2014.

    Blocks are (registered, region) and (non-registered, region): together they give the
    survey headcount by region, with the registry missing 8.07M income-poor ([cheng-2017] ch. 5 §3(2)).
    """

    group: np.ndarray  # int16, block of each household
    poor_people: np.ndarray  # float64, target per block


def fit_initial_incomes(
    hh: Households, targets: InitialTargets, market: np.ndarray, fixed: np.ndarray, line: float
) -> None:
    """Scale each block's market incomes so its realised 2014 income-poor people hit the target.

    Realised income is ``market * e^s + fixed`` (market incomes after the year's shocks;
    transfers and property net of medical costs), so one log-shift ``s`` per block is solved
    for, and the persistent market income levels are scaled by ``e^s`` in place.
    """
    people_w = hh.people_weight
    factor = np.ones(hh.n)
    for g in np.unique(targets.group):
        m = targets.group == g
        shift = _solve_income_shift(market[m], fixed[m], hh.size[m], people_w[m], line, float(targets.poor_people[g]))
        factor[m] = np.exp(shift)
    for level in (hh.farm, hh.local_earnings, hh.remittance, hh.business):
        level *= factor
    market *= factor


POOR_COUNTY, POOR_VILLAGE, OTHER_AREA = 0, 1, 2
"""The strata of the sampling design: households in a poor county; in a poor village of another
county; everywhere else. The first two (the poor areas, 贫困地区, whose incidence the exit rules
judge) are sampled at ``poor_area_scale``, the third at ``scale``."""


def _county_weights(geo: Geography, registered: bool) -> np.ndarray:
    """Where a block's households live, relative, by county: registered households follow county
    size times the depth of poverty, so that counties differ in incidence at any scale; the others
    follow county size."""
    return geo.county_size * (geo.county_intensity if registered else 1.0)


def _poor_village_share(params: ParameterSet, geo: Geography, registered: bool) -> np.ndarray:
    """By county, the share of a block's households living in one of its poor villages: for the
    registered ``registered_share_in_poor_villages`` where the county has poor villages; for the
    others the poor villages' share of the county's villages."""
    n_poor, n_villages = geo.county_poor_villages, geo.county_villages
    if registered:
        share = params["geography.villages.registered_share_in_poor_villages"]
        return np.where(n_poor >= n_villages, 1.0, np.where(n_poor > 0, share, 0.0))
    return n_poor / n_villages


def _strata(
    params: ParameterSet, geo: Geography, registered: bool, r: int
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """The three strata of a (registered, region) block: for each, its expected share of the
    block's households, its candidate counties and their relative weights."""
    in_region = geo.county_region == r
    in_poor = params[
        "geography.counties.registered_share_in_poor_counties"
        if registered
        else "population.unregistered_poor_counties_share"
    ]
    poor = np.flatnonzero(in_region & geo.county_poor)
    other = np.flatnonzero(in_region & ~geo.county_poor)
    if poor.size == 0:
        in_poor = 0.0
    if other.size == 0:
        in_poor = 1.0
    w = _county_weights(geo, registered)
    q = _poor_village_share(params, geo, registered)
    w_other = w[other]
    in_pv = float((w_other * q[other]).sum() / w_other.sum()) if other.size else 0.0
    return [
        (in_poor, poor, w[poor]),
        ((1.0 - in_poor) * in_pv, other, w_other * q[other]),
        ((1.0 - in_poor) * (1.0 - in_pv), other, w_other * (1.0 - q[other])),
    ]


def _place(
    params: ParameterSet,
    geo: Geography,
    region: np.ndarray,
    registered: np.ndarray,
    stratum: np.ndarray,
    strata: dict[tuple[bool, int], list[tuple[float, np.ndarray, np.ndarray]]],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Assign each household to a county of its region and stratum, and to a village of that
    county: in a poor county, registered households live in a poor village with probability
    ``registered_share_in_poor_villages`` and otherwise in another village, the others in any
    village; in another county, a village of the household's stratum. ``strata``: the
    :func:`_strata` of each (registered, region) block."""
    n = region.shape[0]
    county = np.empty(n, np.int64)
    for r in range(3):
        for reg_flag in (True, False):
            for s, (_, cand, w) in enumerate(strata[reg_flag, r]):
                m = (region == r) & (registered == reg_flag) & (stratum == s)
                if not m.any():
                    continue
                cum = np.cumsum(w / w.sum())
                county[m] = cand[np.searchsorted(cum, rng.random(int(m.sum())) * (1 - 1e-12), side="right")]

    n_villages = geo.county_villages[county]
    n_poor = geo.county_poor_villages[county]
    u = rng.random(n)
    in_poor_village = np.where(
        stratum == POOR_COUNTY,
        registered & (n_poor > 0) & (rng.random(n) < params["geography.villages.registered_share_in_poor_villages"]),
        stratum == POOR_VILLAGE,
    )
    anywhere = (stratum == POOR_COUNTY) & ~registered
    offset = np.where(
        in_poor_village,
        (u * n_poor).astype(np.int64),
        np.where(anywhere, (u * n_villages).astype(np.int64), n_poor + (u * (n_villages - n_poor)).astype(np.int64)),
    )
    village = geo.county_first_village[county] + np.minimum(offset, n_villages - 1)
    return county, village
