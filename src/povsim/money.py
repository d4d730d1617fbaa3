"""The money: funds by source and year, and their split to channels and counties.

Three kinds of funding reach the programmes, all scaled by the lever ``budget.scale``:

* the **pool**: the household-programme share of central and provincial special poverty
  funds plus a share of the pooled agricultural funds, split across the pool channels by
  ``budget.shares`` and across counties in proportion to their registered poor people;
* the **relocation financing** (~600bn for 2016–2020, [plan-13th-fyp] box 7), spread over the years like the
  relocation schedule (:func:`relocation_people`) and split across counties in proportion to the
  people on the relocation list still to move;
* **entitlements** (the 兜底 floor, health, safe housing): funded at ``budget.scale`` of need.

``budget.channel_scale`` multiplies one channel's money on top (a what-if on a single channel),
and what a pool channel or relocation leaves unspent in a year is carried into its next year's
funds (``budget.carry_over``).
"""

from __future__ import annotations

import numpy as np

from povsim.households import REGISTERED, Households
from povsim.parameters import ParameterSet
from povsim.state import Declaration

FUNDS = Declaration(
    "funds",
    reads=("county", "hazard_zone", "size", "status", "weight", "relocation.year_moved"),
    doc="the year's money reaches counties and is split across channels",
)
"""What the phase does to the household table (:mod:`povsim.state`)."""

POOL_CHANNELS = ("industry", "employment", "ecology", "education", "credit")
BUDGETED_CHANNELS = (*POOL_CHANNELS, "relocation")
"""Channels with a budget of their own each year (the rest are entitlements funded at need)."""


def funds_by_source(params: ParameterSet, year: int) -> dict[str, float]:
    """Funds in ``year`` by source (yuan), before the household-programme shares and the scale."""
    b = "budget."
    in_year = params.at(year)
    # the relocation financing follows the relocation schedule: the year's share of the plan's people
    planned = params["programs.relocation.planned_people"]
    relocation_share = relocation_people(params, year) / planned if planned > 0 else 0.0
    return {
        "central": in_year[b + "central_special_funds"],
        "provincial": in_year[b + "provincial_funds"],
        "pooled_agricultural": in_year[b + "pooled_agricultural_funds"],
        "relocation": params[b + "relocation_financing"] * relocation_share,
    }


def relocation_people(params: ParameterSet, year: int) -> float:
    """People the relocation plan moves in ``year``: the documented yearly figures
    (``programs.relocation.people_by_year``) and the rest of ``programs.relocation.planned_people``
    evenly over the remaining years of ``programs.relocation.years``; 0 outside them."""
    r = "programs.relocation."
    period = params[r + "years"]
    if not period["from"] <= year <= period["to"]:
        return 0.0
    years = range(period["from"], period["to"] + 1)
    documented = {int(y): float(v) for y, v in params[r + "people_by_year"].items() if int(y) in years}
    if year in documented:
        return documented[year]
    rest = [y for y in years if y not in documented]
    return max(params[r + "planned_people"] - sum(documented.values()), 0.0) / len(rest)


def pool_funds(params: ParameterSet, year: int) -> float:
    """Yuan available to the pool channels in ``year``, after ``budget.scale``."""
    f = funds_by_source(params, year)
    b = "budget."
    pool = (f["central"] + f["provincial"]) * params[b + "household_programme_share"] + f[
        "pooled_agricultural"
    ] * params[b + "pooled_share_to_households"]
    return pool * params[b + "scale"]


def county_budgets(
    params: ParameterSet,
    hh: Households,
    n_counties: int,
    year: int,
    weights: np.ndarray | float = 1.0,
    carried: dict[str, float] | None = None,
    relocation_list: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Each channel's budget per county (yuan), for the pool channels and relocation.

    Pool funds follow registered poor people (times ``weights`` per county: the deep-poverty
    tilt); relocation funds follow the people still to be relocated (``relocation_list``, a
    household mask; default the hazard-zone registered). ``carried`` adds what a channel left
    unspent last year (national yuan) to its funds, split the same way. A channel switched off
    gets nothing; its share is not redistributed.
    """
    carried = carried or {}
    registered = hh.status == REGISTERED
    reg_people = hh.people_by_county(registered, n_counties) * weights
    reg_share = reg_people / max(reg_people.sum(), 1.0)
    pool = pool_funds(params, year)
    shares = params["budget.shares"]
    scale = params["budget.channel_scale"]
    out = {}
    for channel in POOL_CHANNELS:
        enabled = params[f"programs.{channel}.enabled"]
        out[channel] = reg_share * ((pool * shares[channel] * scale[channel] + carried.get(channel, 0.0)) * enabled)
    to_move = registered & hh.hazard_zone if relocation_list is None else relocation_list
    hz = hh.people_by_county(to_move, n_counties)
    reloc = funds_by_source(params, year)["relocation"] * params["budget.scale"] * scale["relocation"]
    reloc = (reloc + carried.get("relocation", 0.0)) * params["programs.relocation.enabled"]
    out["relocation"] = hz / max(hz.sum(), 1.0) * reloc
    return out
