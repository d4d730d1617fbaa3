"""The registry (建档立卡): yearly exits, relapse and entries.

At the annual update (31 December, 000 line 816):

* **exit** (退出): a registered household whose income per person is stably above the line
  (by ``registry.exit.income_margin``) and whose 两不愁三保障 holds (schooling, basic medical
  care, safe housing and water) is verified and leaves the registry with probability
  ``registry.exit.verification_prob`` (000 lines 2655–2657);
* **relapse** (返贫): an exited household whose income falls back below the line;
* **entry**: a non-registered income-poor household is identified and registered, and an
  exited household below the line is re-registered (004 line 28: systematically from 2017).

Each household makes at most one registry move a year, so
``registered(t) = registered(t-1) - exits(t) + entries(t)`` holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from povsim.households import EXITED, NOT_REGISTERED, REGISTERED, Households
from povsim.parameters import ParameterSet
from povsim.streams import RandomStreams


@dataclass
class RegistryFlows:
    """This year's registry moves, as household masks."""

    exits: np.ndarray
    relapses: np.ndarray
    new_registrations: np.ndarray
    reregistrations: np.ndarray

    @property
    def entries(self) -> np.ndarray:
        return self.new_registrations | self.reregistrations


def exit_eligible(
    hh: Households, params: ParameterSet, line: float, guaranteed: np.ndarray | None = None
) -> np.ndarray:
    """Registered households meeting the exit standard: income stably above the line and
    两不愁三保障.

    Args:
        guaranteed: households whose income is held at or above a standard by the floor
            (兜底); their income counts as stable once it reaches the line (政策性兜底脱贫).
    """
    stable = hh.income_pc >= line * (1.0 + params["registry.exit.income_margin"])
    if guaranteed is not None:
        stable |= guaranteed & (hh.income_pc >= line)
    return (hh.status == REGISTERED) & stable & hh.two_assurances_three_guarantees()


def update_registry(
    hh: Households,
    params: ParameterSet,
    streams: RandomStreams,
    year: int,
    line: float,
    guaranteed: np.ndarray | None = None,
) -> RegistryFlows:
    """Apply the year's exits, relapses and entries to the household table, in place."""
    n = hh.n
    r = "registry."
    status = hh.status.copy()
    exits = exit_eligible(hh, params, line, guaranteed) & (
        streams.uniform("exit_verification", year, n) < params[r + "exit.verification_prob"]
    )
    relapses = (status == EXITED) & hh.poor & ~hh.poor_prev
    p_rereg = (
        params[r + "relapse.reregistration_prob"]
        if year >= params[r + "relapse.reregistration_from_year"]
        else params[r + "relapse.reregistration_prob_before"]
    )
    rereg = (status == EXITED) & hh.poor & (streams.uniform("reregistration", year, n) < p_rereg)
    new = (
        (status == NOT_REGISTERED)
        & hh.poor
        & (streams.uniform("identification", year, n) < params[r + "entry.identification_prob"])
    )

    hh.status[exits] = EXITED
    hh.exit_year[exits] = year
    hh.status[rereg | new] = REGISTERED
    hh.registered_year[rereg | new] = year
    hh.relapses += relapses.astype(np.int8)
    hh.relapse_year[relapses] = year
    return RegistryFlows(exits, relapses, new, rereg)
