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


def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """The stable ascending order of float ``keys`` (``np.argsort(keys, kind="stable")``).

    numpy's default sort (SIMD on this hardware) is several times faster than its stable sort
    on tens of millions of floats but orders equal keys arbitrarily; runs of equal keys are
    then put in index order, which gives exactly the stable order. With NaNs (which never
    compare equal) it falls back to the stable sort.
    """
    order = np.argsort(keys, kind="quicksort")
    if order.size < 2:
        return order
    ranked = keys[order]
    if np.isnan(ranked[-1]):  # NaNs sort last
        return np.argsort(keys, kind="stable")
    equal = ranked[1:] == ranked[:-1]
    del ranked
    if equal.any():
        # positions in a run of equal keys, and which run each belongs to
        in_tie = np.zeros(order.size, bool)
        in_tie[:-1] = equal
        in_tie[1:] |= equal
        pos = np.flatnonzero(in_tie)
        del in_tie
        new_run = np.ones(pos.size, bool)
        new_run[1:] = ~((np.diff(pos) == 1) & equal[pos[1:] - 1])
        # sort the tied rows by (run, index) through one unique integer key per row
        key = np.cumsum(new_run, dtype=np.int64)
        key *= order.size
        key += order[pos]
        key.sort()
        order[pos] = key % order.size
    return order


Uniforms = np.ndarray | Callable[[np.ndarray], np.ndarray]
"""The candidates' uniform draws, or a function giving those of the candidates at positions."""


def fit_within(
    idx: np.ndarray,
    priority: np.ndarray,
    amount: np.ndarray,
    group: np.ndarray,
    limit: np.ndarray,
    u: Uniforms,
    pool: np.ndarray | None = None,
    u_pool: Uniforms | None = None,
) -> np.ndarray:
    """Take candidates ``idx`` in ``priority`` order (lowest first) within each group while the
    running sum of ``amount`` stays within the group's ``limit``.

    The candidate at which a group's limit runs out is taken with probability equal to the share
    of its amount the remainder covers (``u`` is its uniform draw), so that the total taken
    matches the limit in expectation even when candidates are coarse (an agent standing for
    thousands of households). ``u`` is the candidates' uniforms, or a function returning the
    uniforms of the candidates at given positions of ``idx`` (only the marginal candidates, at
    most one per group, need one).

    With ``pool`` (for each group, the pool it belongs to, e.g. its region) what the groups of a
    pool leave unused in expectation (a group's limit less its candidates' total, when they fall
    short; a negative limit counts as an overdraft) goes back to the pool and is offered once more
    to the pool's candidates not yet taken, in the same priority order (marginal ones drawn with
    ``u_pool``), so the expected total is the pool's total limit when there are candidates enough. Without it, the
    total taken depends on how candidates happen to be spread over groups: a group with too few
    leaves part of its limit unused while its neighbour runs short, which at a coarse scale (a
    few agents per county) leaves much more unused than at 1 : 1. Returns the chosen indices,
    sorted.
    """
    if idx.size == 0:
        return idx
    chosen = _fit_groups(priority, amount, group, limit, u)
    if pool is None:
        return np.sort(idx[chosen])
    if u_pool is None:
        raise ValueError("fit_within: a pool needs its own uniforms (u_pool)")
    # what each group uses in expectation: its limit, or all its candidates' amount when they fall
    # short (the marginal lottery spends the limit only on average, and pooling the realised
    # remainders would carry its overshoots into the pool's total); a negative limit uses nothing,
    # so its overdraft is taken from the pool
    demand = np.bincount(group, amount, limit.size)
    used = np.clip(np.minimum(limit, demand), 0.0, None)
    left = np.maximum(np.bincount(pool, limit - used, int(pool.max()) + 1), 0.0)
    rest = np.ones(idx.size, bool)
    rest[chosen] = False
    rest = np.flatnonzero(rest)
    if rest.size and left.sum() > 0:
        more = _fit_groups(
            priority[rest],
            amount[rest],
            pool[group[rest]],
            left,
            (lambda positions: u_pool(rest[positions])) if callable(u_pool) else u_pool[rest],
        )
        chosen = np.concatenate((chosen, rest[more]))
    return np.sort(idx[chosen])


def _fit_groups(
    priority: np.ndarray, amount: np.ndarray, group: np.ndarray, limit: np.ndarray, u: Uniforms
) -> np.ndarray:
    """The positions :func:`fit_within` takes, without pooling (unsorted)."""
    if limit.size == 1:
        # one group (a national limit): the stable sort by priority is the (group, priority)
        # order, and the running sum is the group's (less the zero that came before it)
        order = stable_argsort(priority)
        a = amount[order]
        spent = np.cumsum(a)
        g = np.zeros(1, np.int8)
        starts = np.zeros(1, np.int64)
        inside = spent <= limit[0]
    else:
        # the (group, priority) order: by priority, then stably by group (a radix sort for
        # small integer groups) — the order of np.lexsort((priority, group)), faster
        order = stable_argsort(priority)
        order = order[np.argsort(group[order], kind="stable")]
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
    return np.concatenate((order[inside], order[marg[lucky]]))
