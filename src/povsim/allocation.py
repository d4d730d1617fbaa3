"""Rationing by priority: who gets a place when money or places run out."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split the whole number ``total`` in proportion to non-negative ``weights`` into whole
    numbers that sum exactly to it (largest remainders first; all zero when there is nothing
    to split)."""
    weights = np.asarray(weights, dtype=np.float64)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(weights.shape, np.int64)
    raw = weights * (total / weights.sum())
    out = np.floor(raw).astype(np.int64)
    short = total - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:short]] += 1
    return out


def fit_within(
    idx: np.ndarray,
    priority: np.ndarray,
    amount: np.ndarray,
    group: np.ndarray,
    limit: np.ndarray,
    u: np.ndarray | Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Take candidates ``idx`` in ``priority`` order (lowest first) within each group while the
    running sum of ``amount`` stays within the group's ``limit``.

    The candidate at which a group's limit runs out is taken with probability equal to the share
    of its amount the remainder covers (``u`` is its uniform draw), so that the total taken
    matches the limit in expectation even when candidates are coarse (an agent standing for
    thousands of households). ``u`` is the candidates' uniforms, or a function returning the
    uniforms of the candidates at given positions of ``idx`` (only the marginal candidates, at
    most one per group, need one). Returns the chosen indices, sorted.
    """
    if idx.size == 0:
        return idx
    if limit.size == 1:
        # one group (a national limit): the stable sort by priority is the (group, priority)
        # order, and the running sum is the group's (less the zero that came before it)
        order = np.argsort(priority, kind="stable")
        a = amount[order]
        spent = np.cumsum(a)
        g = np.zeros(1, np.int8)
        starts = np.zeros(1, np.int64)
        inside = spent <= limit[0]
    else:
        order = np.lexsort((priority, group))
        g = group[order]
        a = amount[order]
        spent = np.cumsum(a)
        starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
        lengths = np.diff(np.r_[starts, g.size])
        # the running sum within each group: the running sum less what came before the group
        spent -= np.repeat(spent[starts] - a[starts], lengths)
        del lengths
        inside = spent <= limit[g]
    # the marginal candidate of a group: the first one outside, after one inside or first
    marginal = ~inside
    marginal[1:] &= inside[:-1]
    marginal[starts] = ~inside[starts]
    del starts
    marg = np.flatnonzero(marginal)
    del marginal
    cap = limit[0] if limit.size == 1 else limit[g[marg]]
    u_marg = u(order[marg]) if callable(u) else u[order[marg]]
    lucky = u_marg * a[marg] < cap - (spent[marg] - a[marg])
    del a, spent, g
    chosen = np.concatenate((order[inside], order[marg[lucky]]))
    del order, inside
    return np.sort(idx[chosen])
