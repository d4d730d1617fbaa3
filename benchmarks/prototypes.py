"""Prototype rewrites of povsim's hottest helpers, timed against the current code at 1:1 sizes.

The figures behind the recommendations of ``docs/performance.md``. Each prototype is checked
against the function it would replace (same output, or the stated tolerance) and timed on
synthetic inputs the size of the national 1:1 run (51.7M household agents; ~30M candidates
for a programme's rationing). Nothing here is used by povsim.

* ``fit_within`` (``src/povsim/allocation.py``), the budget/capacity rationing behind every
  programme: the current ``np.lexsort`` over all candidates, (a) the same in numpy but skipping
  the groups whose budget covers all their candidates and drawing the marginal lottery only for
  marginal candidates, (b) a numba kernel: a stable counting sort by county, then a stable sort
  of each binding county's candidates only, counties in parallel.
* rationing against one priority order per year (numba): every poorest-first programme ranks
  candidates by last year's income per person, so one stable argsort of all households a year
  serves all of them and each call becomes one pass in that order.
* ``binomial_from_uniform`` (``src/povsim/streams.py``): the current numpy recurrence (~8 full
  passes of float64 temporaries) against a numba kernel doing the same recurrence per row.
* the ~30 ``np.bincount(region, people * mask)`` calls of ``PovertyModel._collect`` against one
  ``np.bincount`` of a combined (region, status, poor, flow) code.
* the marginal lottery of the rationing: today a full uniform stream per call, of which at most
  one value per county is used; ``PCG64.advance`` gives the same values for those rows alone.
* random draws: numpy PCG64 uniforms and normals for every household (povsim's streams) against
  a counter-based generator (a hash of stream key and household index, numba, 2 threads), which
  keeps common random numbers while drawing only for the households that need a draw.
* one year of household dynamics (``dynamics/``: demography, economy, shocks, migration, living
  conditions) as povsim runs it (numpy, one pass per operation) against the same rules in two
  fused numba kernels with counter-based draws, on households resampled from a 1:1000 population.
* ``_solve_income_shift`` (``src/povsim/population.py``): 60 bisection passes over the block
  against one sort of the households' critical shifts.

numba is not a povsim dependency; without it the numba rows are skipped. Install it in a
separate environment to reproduce them (``pip install numba``).

Usage (from the repository root)::

    python benchmarks/prototypes.py               # 1:1 sizes: 51.7M agents, 30M candidates (~6 GiB peak)
    python benchmarks/prototypes.py --quick       # 1/10 of that
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import command_line, peak_rss_bytes, print_machine, table

try:
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - optional
    numba = None

from povsim.allocation import fit_within
from povsim.population import _solve_income_shift
from povsim.streams import binomial_from_uniform


def best_of(fn, repeat: int = 2):
    """(minimum seconds over ``repeat`` calls, last result); the first call also warms caches."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


# -- fit_within --------------------------------------------------------------------------------
def fit_within_numpy(idx, priority, amount, group, limit, u):
    """``fit_within`` with two exact shortcuts: groups whose candidates all fit are taken without
    sorting, and the marginal lottery is evaluated only at each group's marginal candidate."""
    if idx.size == 0:
        return idx
    total = np.bincount(group, amount, limit.size)
    binding = total > limit * (1.0 - 1e-12)  # a group under its limit by more than rounding takes everyone
    if not binding.any():
        return idx
    in_binding = binding[group]
    sub = np.flatnonzero(in_binding)
    if limit.size == 1:
        sub = _prefix(sub, priority, amount, limit[0])
    order = sub[np.lexsort((priority[sub], group[sub]))]
    g = group[order]
    a = amount[order]
    cum = np.cumsum(a)
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    spent = cum - np.repeat(cum[starts] - a[starts], np.diff(np.r_[starts, g.size]))
    cap = limit[g]
    inside = spent <= cap
    first = np.zeros(g.size, bool)
    first[starts] = True
    marginal = np.flatnonzero(~inside & (np.r_[True, inside[:-1]] | first))
    lucky = marginal[u[order[marginal]] * a[marginal] < cap[marginal] - (spent[marginal] - a[marginal])]
    inside[lucky] = True
    out = np.concatenate([idx[~in_binding], idx[order[inside]]])
    out.sort()
    return out


def _prefix(sub, priority, amount, limit, sample=20_000, margin=1.25):
    """For one group, the candidates that can matter: those with priority up to a cutoff whose
    total already exceeds the limit (the marginal candidate is then among them; every candidate
    left out ranks after all kept ones, so the stable order of the kept ones is unchanged)."""
    if sub.size <= 4 * sample:
        return sub
    pick = sub[np.linspace(0, sub.size - 1, sample).astype(np.int64)]
    order = np.argsort(priority[pick])
    share = np.cumsum(amount[pick][order]) / amount[pick].sum()
    need = min(limit * margin / float(amount[sub].sum()), 1.0)
    k = int(np.searchsorted(share, need))
    if k >= sample - 1:
        return sub
    cutoff = priority[pick][order][k]
    keep = sub[priority[sub] <= cutoff]
    return keep if amount[keep].sum() > limit else sub


if numba is not None:

    @njit(cache=True)
    def _group_positions(group, n_groups):
        counts = np.zeros(n_groups + 1, np.int64)
        for i in range(group.size):
            counts[group[i] + 1] += 1
        for g in range(n_groups):
            counts[g + 1] += counts[g]
        pos = np.empty(group.size, np.int64)
        fill = counts[:-1].copy()
        for i in range(group.size):
            g = group[i]
            pos[fill[g]] = i
            fill[g] += 1
        return counts, pos

    @njit(parallel=True, cache=True)
    def _fit_groups(priority, amount, limit, u, starts, pos, take):
        for g in prange(limit.size):
            lo, hi = starts[g], starts[g + 1]
            if hi == lo:
                continue
            members = pos[lo:hi]
            total = 0.0
            for i in members:
                total += amount[i]
            if total <= limit[g] * (1.0 - 1e-12):
                for i in members:
                    take[i] = True
                continue
            order = members[np.argsort(priority[members], kind="mergesort")]
            spent = 0.0
            for i in order:
                spent += amount[i]
                if spent <= limit[g]:
                    take[i] = True
                else:
                    if u[i] * amount[i] < limit[g] - (spent - amount[i]):
                        take[i] = True
                    break

    def fit_within_numba(idx, priority, amount, group, limit, u):
        """The same contract, per group in a numba kernel: stable counting sort by group, then a
        stable sort of each binding group's candidates, groups in parallel (one group: the numpy
        version, whose prefix selection does what the parallel kernel cannot)."""
        if idx.size == 0:
            return idx
        if limit.size == 1:
            return fit_within_numpy(idx, priority, amount, group, limit, u)
        starts, pos = _group_positions(group, limit.size)
        take = np.zeros(idx.size, np.bool_)
        _fit_groups(priority, amount, limit, u, starts, pos, take)
        return idx[take]


if numba is not None:

    @njit(cache=True)
    def _walk_in_order(order, candidate, amount, group, limit, u, take):
        spent = np.zeros(limit.size)
        done = np.zeros(limit.size, np.bool_)
        for i in order:
            if not candidate[i]:
                continue
            g = group[i]
            if done[g]:
                continue
            spent[g] += amount[i]
            if spent[g] <= limit[g]:
                take[i] = True
            else:
                if u[i] * amount[i] < limit[g] - (spent[g] - amount[i]):
                    take[i] = True
                done[g] = True

    def fit_within_ordered(order, candidate, amount, group, limit, u):
        """Rationing against a priority order computed once a year for all households (a stable
        argsort of income per person, the key of every poorest-first programme): one pass in that
        order with a running spend per group. Arrays are per household (length n)."""
        take = np.zeros(candidate.size, np.bool_)
        _walk_in_order(order, candidate, amount, group, limit, u, take)
        return np.flatnonzero(take)


def rationing_inputs(m: int, n_groups: int, national: bool, rng: np.random.Generator):
    """Candidates like a programme's: poorest-first priorities (income per person, with ties),
    costs times weights, county groups, budgets binding in about 60% of counties."""
    idx = np.sort(rng.choice(int(m * 1.7), m, replace=False))
    priority = np.round(rng.lognormal(7.5, 0.6, m), 2)
    priority[rng.random(m) < 0.09] = 250.0  # a block of exact ties, as in the real runs
    amount = np.where(rng.random(m) < 0.5, 3000.0, 5000.0)
    if national:
        group = np.zeros(m, np.int64)
        limit = np.array([amount.sum() * 0.3])
    else:
        group = np.minimum((rng.pareto(1.5, m) * 150).astype(np.int64), n_groups - 1)
        group = rng.permutation(n_groups)[group]
        total = np.bincount(group, amount, n_groups)
        limit = total * np.where(rng.random(n_groups) < 0.6, rng.uniform(0.2, 0.9, n_groups), 1.5)
    u = rng.random(m)
    return idx, priority, amount, group, limit, u


# -- binomial ----------------------------------------------------------------------------------
if numba is not None:

    @njit(parallel=True, cache=True)
    def _binomial_kernel(u, n, p, out):
        for i in prange(u.size):
            ni = np.int64(n[i])
            pi = min(max(p[i], 0.0), 1.0 - 1e-12)
            pmf = (1.0 - pi) ** np.float64(ni)
            cdf = pmf
            ratio = pi / (1.0 - pi)
            k = 0
            while k < ni and u[i] > cdf:
                pmf = pmf * (ni - k) / (k + 1) * ratio
                cdf = cdf + pmf
                k += 1
            out[i] = k

    @njit(parallel=True, cache=True)
    def _binomial_table_kernel(u, n, cdf, out):
        for i in prange(u.size):
            ni = np.int64(n[i])
            k = 0
            while k < ni and u[i] > cdf[ni, k]:
                k += 1
            out[i] = k

    def binomial_table(u, n, p: float):
        """For a scalar p: the cdf of Binomial(m, p) for m = 0..8, built with the same scalar
        operations as the recurrence, then one comparison walk per row."""
        out = np.empty(u.size, np.int8)
        _binomial_table_kernel(u, n, _cdf_table(p), out)
        return out

    def binomial_numba(u, n, p):
        p_arr = np.broadcast_to(np.asarray(p, np.float64), u.shape)
        out = np.empty(u.size, np.int8)
        _binomial_kernel(u, n, p_arr, out)
        return out


def _cdf_table(p: float, top: int = 9) -> np.ndarray:
    """cdf[m, j] = P(Binomial(m, p) <= j) for m < top, by the recurrence of binomial_from_uniform."""
    cdf = np.ones((top, top))
    q = min(max(float(p), 0.0), 1.0 - 1e-12)
    ratio = q / (1.0 - q)
    for m in range(top):
        pmf = (1.0 - q) ** float(m)
        c = pmf
        for j in range(m):
            cdf[m, j] = c
            pmf = pmf * (m - j) / (j + 1) * ratio
            c = c + pmf
    return cdf


# -- region sums -------------------------------------------------------------------------------
def region_sums_now(region, people, households, status, poor, flows):
    """The pattern of ``PovertyModel._collect``: one weighted bincount per measure."""
    registered = status == 1
    out = [
        np.bincount(region, people * m, 3)
        for m in (poor, registered, registered & poor, ~registered & poor, status == 2, registered & ~poor)
    ]
    out.append(np.bincount(region, households * registered, 3))
    for f in flows:
        out.append(np.bincount(region, people * f, 3))
        out.append(np.bincount(region, households * f, 3))
    return out


def region_sums_code(region, people, households, status, poor, flows):
    """All stock measures from one bincount of code = region·6 + status·2 + poor; flows (each
    household makes at most one registry move a year) from one bincount of region·8 + move."""
    code = region.astype(np.int16) * 6 + status * 2 + poor
    cells = np.bincount(code, people, 18).reshape(3, 3, 2)
    cells_hh = np.bincount(code, households, 18).reshape(3, 3, 2)
    move = np.zeros(region.size, np.int8)
    for k, f in enumerate(flows, start=1):
        move[f] = k
    mcode = region.astype(np.int16) * 8 + move
    flows_p = np.bincount(mcode, people, 24).reshape(3, 8)
    flows_h = np.bincount(mcode, households, 24).reshape(3, 8)
    return cells, cells_hh, flows_p, flows_h


# -- random numbers ----------------------------------------------------------------------------
if numba is not None:
    _GOLDEN = np.uint64(0x9E3779B97F4A7C15)
    _M1 = np.uint64(0xBF58476D1CE4E5B9)
    _M2 = np.uint64(0x94D049BB133111EB)

    @njit(inline="always")
    def _mix(x):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))

    @njit(parallel=True, cache=True)
    def counter_uniform(key, rows, out):
        """u[i] = hash(key, household rows[i]) in [0, 1): the same value for a household whatever
        else is drawn, so only the households at risk need a draw."""
        for j in prange(rows.size):
            x = _mix(key ^ (np.uint64(rows[j]) * _GOLDEN))
            out[j] = np.float64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)

    @njit(parallel=True, cache=True)
    def counter_normal(key, rows, out):
        """Standard normals by Box–Muller from two counter-based uniforms per household."""
        for j in prange(rows.size):
            r = np.uint64(rows[j]) * np.uint64(2)
            a = _mix(key ^ (r * _GOLDEN))
            b = _mix(key ^ ((r + np.uint64(1)) * _GOLDEN))
            u1 = (np.float64(a >> np.uint64(11)) + 1.0) * (1.0 / 9007199254740992.0)
            u2 = np.float64(b >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            out[j] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    @njit(inline="always")
    def _tail(q):
        num = (
            (
                ((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e00) * q
                - 2.549732539343734e00
            )
            * q
            + 4.374664141464968e00
        ) * q + 2.938163982698783e00
        den = (
            ((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e00) * q + 3.754408661907416e00
        ) * q + 1.0
        return num / den

    @njit(parallel=True, cache=True)
    def counter_normal_inverse(key, rows, out):
        """Standard normals by inverting the normal CDF (Acklam's rational approximation, relative
        error < 1.2e-9) at one counter-based uniform per household: no transcendental call in the
        central 95%."""
        for j in prange(rows.size):
            x = _mix(key ^ (np.uint64(rows[j]) * _GOLDEN))
            p = (np.float64(x >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)
            if p < 0.02425:
                out[j] = _tail(np.sqrt(-2.0 * np.log(p)))
            elif p > 1.0 - 0.02425:
                out[j] = -_tail(np.sqrt(-2.0 * np.log(1.0 - p)))
            else:
                q = p - 0.5
                r = q * q
                num = (
                    (
                        (
                            ((-3.969683028665376e01 * r + 2.209460984245205e02) * r - 2.759285104469687e02) * r
                            + 1.383577518672690e02
                        )
                        * r
                        - 3.066479806614716e01
                    )
                    * r
                    + 2.506628277459239e00
                ) * q
                den = (
                    (
                        ((-5.447609879822406e01 * r + 1.615858368580409e02) * r - 1.556989798598866e02) * r
                        + 6.680131188771972e01
                    )
                    * r
                    - 1.328068155288572e01
                ) * r + 1.0
                out[j] = num / den


# -- the household dynamics of one year as two fused kernels -----------------------------------
if numba is not None:

    @njit(inline="always")
    def _u(key, i):
        x = _mix(key ^ (np.uint64(i) * _GOLDEN))
        return np.float64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)

    @njit(inline="always")
    def _z(key, i):
        # inverse normal CDF (Acklam) at a counter-based uniform: only called where a normal is needed
        p = _u(key, i) + 0.5 / 9007199254740992.0
        if p < 0.02425:
            return _tail(np.sqrt(-2.0 * np.log(p)))
        if p > 1.0 - 0.02425:
            return -_tail(np.sqrt(-2.0 * np.log(1.0 - p)))
        q = p - 0.5
        r = q * q
        num = (
            (
                (
                    ((-3.969683028665376e01 * r + 2.209460984245205e02) * r - 2.759285104469687e02) * r
                    + 1.383577518672690e02
                )
                * r
                - 3.066479806614716e01
            )
            * r
            + 2.506628277459239e00
        ) * q
        den = (
            (((-5.447609879822406e01 * r + 1.615858368580409e02) * r - 1.556989798598866e02) * r + 6.680131188771972e01)
            * r
            - 1.328068155288572e01
        ) * r + 1.0
        return num / den

    @njit(inline="always")
    def _binom_t(u, m, table):
        # Binomial(m, p) for a scalar p by its cdf table (rows m = 0..8), as _binomial_table_kernel
        k = 0
        while k < m and u > table[m, k]:
            k += 1
        return k

    @njit(inline="always")
    def _binom(u, m, p):
        if m <= 0:
            return 0
        q = min(max(p, 0.0), 1.0 - 1e-12)
        pmf = (1.0 - q) ** np.float64(m)
        cdf = pmf
        ratio = q / (1.0 - q)
        k = 0
        while k < m and u > cdf:
            pmf = pmf * (m - k) / (k + 1) * ratio
            cdf = cdf + pmf
            k += 1
        return k

    @njit(parallel=True, cache=True)
    def year_kernel_a(
        keys,
        fp,
        tables,
        region_premium,
        region,
        severity,
        size,
        children,
        workers,
        elderly,
        ill,
        disabled,
        migrants,
        out_of_school,
        county,
        hazard,
        farm,
        local,
        remit,
        business,
        transfers,
        prop,
        sh_ill,
        sh_cost,
        sh_farm_loss,
        sh_job_losers,
    ):
        """demography → economy → shocks for every household, one pass (povsim's rules of
        dynamics/demography.py, economy.py, shocks.py; draws from counter-based streams)."""
        for i in prange(size.size):
            # demography
            grown = _binom_t(_u(keys[0], i), children[i], tables[0])
            retired = _binom_t(_u(keys[1], i), workers[i], tables[1])
            died = _binom_t(_u(keys[2], i), elderly[i], tables[2])
            children[i] += died - grown
            workers[i] += grown - retired
            elderly[i] += retired - died
            migrants[i] = min(migrants[i], workers[i])
            out_of_school[i] = min(out_of_school[i], children[i])
            ill[i] = min(ill[i], size[i] - workers[i] - children[i])
            transfers[i] = max(transfers[i] + (retired - died) * fp[3], 0.0)
            # economy
            prem = region_premium[region[i]]
            shock = np.exp(fp[5] * _z(keys[3], i) - 0.5 * fp[5] * fp[5])
            farm[i] *= (1.0 + fp[6] + prem) * shock
            local[i] *= (1.0 + fp[7] + prem) * shock
            remit[i] *= (1.0 + fp[8] + prem) * shock
            business[i] *= (1.0 + fp[9] + prem) * shock
            transfers[i] *= 1.0 + fp[10] + prem
            prop[i] *= 1.0 + fp[11] + prem
            # illness
            p_ill = min(fp[12] + fp[13] * elderly[i] + fp[14] * ill[i], 0.95)
            is_ill = _u(keys[4], i) < p_ill
            sh_ill[i] = is_ill
            sh_cost[i] = np.exp(fp[15] + fp[16] * _z(keys[5], i)) if is_ill else 0.0
            if is_ill and _u(keys[6], i) < fp[17]:
                adults_old = np.float64(size[i] - children[i])
                if workers[i] > 0 and _u(keys[7], i) * adults_old < workers[i]:
                    workers[i] -= 1
                    ill[i] += 1
                elif size[i] - workers[i] - children[i] - ill[i] > 0:
                    ill[i] += 1
                migrants[i] = min(migrants[i], workers[i])
            if ill[i] > 0 and not is_ill and _u(keys[8], i) < fp[18]:
                ill[i] -= 1
                if size[i] - children[i] - workers[i] - elderly[i] - disabled[i] > 0:
                    workers[i] += 1
            # disasters shared within the county, and migrant job loss
            sev = severity[county[i]]
            if sev > 0.0:
                spread = np.exp(fp[19] * _z(keys[9], i) - 0.5 * fp[19] * fp[19])
                sh_farm_loss[i] = min(sev * spread * (fp[20] if hazard[i] else 1.0), 0.95)
            else:
                sh_farm_loss[i] = 0.0
            lost = _binom_t(_u(keys[10], i), migrants[i], tables[3])
            migrants[i] -= lost
            sh_job_losers[i] = lost

    @njit(parallel=True, cache=True)
    def year_kernel_b(
        keys,
        fp,
        tables,
        v_mig,
        v_wrk,
        c_share,
        weight,
        village,
        county,
        skills,
        workers,
        migrants,
        children,
        out_of_school,
        poor,
        housing_safe,
        water_safe,
        insured,
    ):
        """migration (peer shares from the village sums) → living conditions, one pass."""
        for i in prange(workers.size):
            w = np.float64(weight[i])
            mig, wrk = migrants[i] * w, workers[i] * w
            peers = (v_mig[village[i]] - mig + fp[0] * c_share[county[i]]) / (v_wrk[village[i]] - wrk + fp[0])
            returned = _binom_t(_u(keys[0], i), migrants[i], tables[4])
            p_leave = 1.0 / (1.0 + np.exp(-(fp[2] + fp[3] * skills[i] + fp[4] * peers)))
            leavers = _binom(_u(keys[1], i), workers[i] - migrants[i], p_leave)
            migrants[i] += leavers - returned
            if poor[i]:
                if children[i] > out_of_school[i] and _u(keys[2], i) < fp[5]:
                    out_of_school[i] += 1
            elif out_of_school[i] > 0 and _u(keys[3], i) < fp[6]:
                out_of_school[i] -= 1
            if not housing_safe[i] and not poor[i] and _u(keys[4], i) < fp[7]:
                housing_safe[i] = True
            if _u(keys[5], i) < fp[8]:
                water_safe[i] = True
            if _u(keys[6], i) < fp[9]:
                insured[i] = True


# -- initial income shift ----------------------------------------------------------------------
def income_shift_sorted(market, fixed, size, people_w, line, target):
    """The log-shift s with Σ people_w[(market·e^s + fixed)/size < line] ≈ target, from one sort of
    each household's critical shift s_i = log((line·size − fixed)/market) (poor iff s < s_i)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = np.log((line * size - fixed) / market)
    crit = np.where(market > 0, crit, np.where(fixed / size < line, np.inf, -np.inf))
    order = np.argsort(crit)
    s_sorted = crit[order]
    above = np.cumsum(people_w[order][::-1])[::-1]  # people with s_i >= s_sorted[k]

    def poor_people(s):
        return float(above[np.searchsorted(s_sorted, s, side="right")] if s < s_sorted[-1] else 0.0)

    lo, hi = -8.0, 8.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if poor_people(mid) > target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def numpy_pass_costs(n: int, rng: np.random.Generator, add) -> None:
    """What one numpy pass over ``n`` households costs: the unit of work of the current design."""
    a = rng.random(n)
    out = np.empty(n)
    a32 = a.astype(np.float32)
    o32 = np.empty(n, np.float32)
    region = rng.integers(0, 3, n).astype(np.int8)
    mask = a < 0.3
    what = "one numpy pass over all agents"
    for variant, fn in (
        ("float64 multiply into a new temporary", lambda: a * 2.0),
        ("float64 multiply in place (out=)", lambda: np.multiply(a, 2.0, out=out)),
        ("float32 multiply in place (out=)", lambda: np.multiply(a32, 2.0, out=o32)),
        ("exp float64 in place", lambda: np.exp(a, out=out)),
        ("exp float32 in place", lambda: np.exp(a32, out=o32)),
        ("bool mask gather a[mask] (30%)", lambda: a[mask]),
        ("np.bincount(region, weights, 3)", lambda: np.bincount(region, a, 3)),
        ("np.bincount(region, weights * mask, 3)", lambda: np.bincount(region, a * mask, 3)),
        ("np.flatnonzero(mask)", lambda: np.flatnonzero(mask)),
    ):
        t, _ = best_of(fn, repeat=3)
        add(what, variant, t, f"{1e9 * t / n:.2f} ns per agent", "")


def year_section(n: int, rng: np.random.Generator, add) -> None:
    """povsim's demography, economy, shocks, migration and living conditions on ``n`` households
    (rows drawn from a 1:1000 population, weight 1) against the two fused kernels."""
    import zlib
    from dataclasses import fields

    from povsim import PovertyModel
    from povsim.dynamics.conditions import update_conditions
    from povsim.dynamics.demography import age
    from povsim.dynamics.economy import grow_incomes, pension
    from povsim.dynamics.migration import migrate
    from povsim.dynamics.shocks import draw_shocks
    from povsim.households import Households

    small = PovertyModel(seed=1, scale=1000, end_year=2015)
    pick = rng.integers(0, small.households.n, n)
    hh = Households(**{f.name: getattr(small.households, f.name)[pick].copy() for f in fields(Households)})
    hh.weight[:] = 1
    p, streams, geo, y = small.params, small.streams, small.geography, 2015
    label = "household dynamics of one year"
    now = "now: numpy, age + grow_incomes + draw_shocks + migrate + update_conditions"
    t = time.perf_counter()
    age(hh, p, streams, y, pension(p, y, 2014))
    grow_incomes(hh, p, streams, y)
    draw_shocks(hh, geo, p, streams, y)
    migrate(hh, geo, p, streams, y)
    update_conditions(hh, p, streams, y)
    add(label, now, time.perf_counter() - t, f"{n:,} households", "")
    if numba is None:
        return

    keys = np.array([zlib.crc32(f"k{j}".encode()) * 2654435761 for j in range(11)], dtype=np.uint64)
    sh = "shocks."
    g = "economy.growth."
    sigma_c = p[sh + "illness.cost_sigma"]
    fp_a = np.array(
        [
            p["households.demography.child_to_adult"],
            p["households.demography.worker_to_elderly"],
            p["households.demography.elderly_death"],
            pension(p, y, 2014),
            0.0,
            p[g + "persistent_sigma"],
            p[g + "farm"],
            p[g + "local_wage"],
            p[g + "migrant_wage"],
            p[g + "business"],
            p[g + "transfers"],
            p[g + "property"],
            p[sh + "illness.base_prob"],
            p[sh + "illness.prob_per_elderly"],
            p[sh + "illness.prob_per_chronic"],
            np.log(p[sh + "illness.cost_mean"]) - 0.5 * sigma_c**2,
            sigma_c,
            p[sh + "illness.chronic_prob"],
            p[sh + "illness.recovery_prob"],
            p[sh + "disaster.household_sigma"],
            p[sh + "disaster.hazard_zone_multiplier"],
            p[sh + "job_loss.prob"],
        ]
    )
    d = "shocks.disaster."
    hit = rng.random(geo.n_counties) < p.region(d + "county_prob")[geo.county_region]
    m_, k_ = p[d + "severity_mean"], p[d + "severity_concentration"]
    severity = np.where(hit, rng.beta(m_ * k_, (1 - m_) * k_, geo.n_counties), 0.0)
    premium = p.region(g + "region_premium")
    sh_ill = np.zeros(n, np.bool_)
    sh_cost = np.zeros(n)
    sh_loss = np.zeros(n)
    sh_job = np.zeros(n, np.int8)
    m = "households.migration."
    fp_b = np.array(
        [
            p[m + "peer_prior_workers"],
            p[m + "return_prob"],
            p[m + "intercept"],
            p[m + "skill_effect"],
            p[m + "peer_effect"],
            p["households.schooling.dropout_prob"],
            p["households.schooling.return_prob"],
            p["households.housing.self_repair_prob"],
            p["households.water.improvement_prob"],
            p["households.insurance.enrolment_prob"],
        ]
    )

    tables = np.stack([_cdf_table(q) for q in (fp_a[0], fp_a[1], fp_a[2], fp_a[21], fp_b[1])])

    def run():
        year_kernel_a(
            keys,
            fp_a,
            tables,
            premium,
            hh.region,
            severity,
            hh.size,
            hh.children,
            hh.workers,
            hh.elderly,
            hh.ill,
            hh.disabled,
            hh.migrants,
            hh.out_of_school,
            hh.county,
            hh.hazard_zone,
            hh.farm,
            hh.local_earnings,
            hh.remittance,
            hh.business,
            hh.transfers,
            hh.property,
            sh_ill,
            sh_cost,
            sh_loss,
            sh_job,
        )
        w = hh.weight.astype(np.float64)
        mig, wrk = hh.migrants * w, hh.workers * w
        c_share = np.bincount(hh.county, mig, geo.n_counties) / np.maximum(
            np.bincount(hh.county, wrk, geo.n_counties), 1.0
        )
        v_mig = np.bincount(hh.village, mig, geo.n_villages)
        v_wrk = np.bincount(hh.village, wrk, geo.n_villages)
        year_kernel_b(
            keys,
            fp_b,
            tables,
            v_mig,
            v_wrk,
            c_share,
            hh.weight,
            hh.village,
            hh.county,
            hh.skills,
            hh.workers,
            hh.migrants,
            hh.children,
            hh.out_of_school,
            hh.poor,
            hh.housing_safe,
            hh.water_safe,
            hh.insured,
        )

    t_first = time.perf_counter()
    run()  # compiles on first use (cached afterwards)
    t_first = time.perf_counter() - t_first
    t_fused, _ = best_of(run)
    add(
        label,
        "numba: two fused kernels (same rules, counter-based draws), 2 threads",
        t_fused,
        f"first call incl. compile {t_first:.1f} s; ill share {sh_ill.mean():.3f}",
        "new draws",
        base=now,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1/10 of the 1:1 sizes")
    ap.add_argument("--agents", type=int, default=51_725_098, help="household agents (1:1 = 51,725,098)")
    ap.add_argument("--candidates", type=int, default=30_000_000, help="candidates in one rationing call")
    ap.add_argument(
        "--year-agents",
        type=int,
        default=12_931_274,
        help="households for the one-year dynamics comparison (default 1/4 of 1:1)",
    )
    args = ap.parse_args()
    n = args.agents // (10 if args.quick else 1)
    m = args.candidates // (10 if args.quick else 1)
    print_machine()
    print(
        f"numba: {numba.__version__ if numba else 'not installed (numba rows skipped)'}; agents {n:,}; candidates {m:,}"
    )
    if numba is not None:
        print(f"numba threads: {numba.get_num_threads()}")
    rng = np.random.default_rng(7)
    rows: list[dict] = []

    baselines: dict[str, float] = {}

    def add(what, variant, seconds, check, exact, base=None):
        if variant.startswith("now"):
            baselines[variant] = seconds
        ref = baselines.get(base) if base else None
        rows.append(
            {
                "what": what,
                "variant": variant,
                "s": seconds,
                "check": check,
                "exact": exact,
                "x": None if ref is None else ref / seconds,
            }
        )
        print(f"  {what}: {variant}: {seconds:.3f} s ({check})", flush=True)

    numpy_pass_costs(n, rng, add)

    # fit_within, county budgets and one national capacity
    for label, national in (("fit_within, county budgets", False), ("fit_within, national capacity", True)):
        args_fw = rationing_inputs(m, 2032, national, rng)
        t_now, ref = best_of(lambda a=args_fw: fit_within(*a), repeat=1)
        now = f"now: np.lexsort over all candidates ({'national' if national else 'counties'})"
        add(label, now, t_now, f"{ref.size:,} chosen", "")
        t_np, out = best_of(lambda a=args_fw: fit_within_numpy(*a), repeat=1)
        add(
            label,
            "numpy: skip non-binding groups, lottery at the margin",
            t_np,
            f"same as now: {np.array_equal(out, ref)}",
            "exact",
            base=now,
        )
        if numba is not None:
            fit_within_numba(*(x[:1000] if x.size == args_fw[0].size else x for x in args_fw))  # compile
            t_nb, out = best_of(lambda a=args_fw: fit_within_numba(*a))
            add(
                label,
                "numba: counting sort by group, per-group stable sort",
                t_nb,
                f"same as now: {np.array_equal(out, ref)}",
                "exact",
                base=now,
            )
        del args_fw, ref, out

    # rationing against one yearly order of all households
    if numba is not None:
        pri_all = np.round(rng.lognormal(7.5, 0.6, n), 2)
        grp_all = rng.integers(0, 2032, n)
        amt_all = np.where(rng.random(n) < 0.5, 3000.0, 5000.0)
        u_all = rng.random(n)
        cand = rng.random(n) < m / n
        idx = np.flatnonzero(cand)
        tot = np.bincount(grp_all[idx], amt_all[idx], 2032)
        lim = tot * np.where(rng.random(2032) < 0.6, rng.uniform(0.2, 0.9, 2032), 1.5)
        t_now, ref = best_of(
            lambda: fit_within(idx, pri_all[idx], amt_all[idx], grp_all[idx], lim, u_all[idx]), repeat=1
        )
        add(
            "fit_within, yearly order",
            "now: np.lexsort over all candidates (same inputs)",
            t_now,
            f"{idx.size:,} candidates",
            "",
        )
        t_sort, order = best_of(lambda: np.argsort(pri_all, kind="stable"), repeat=1)
        add("fit_within, yearly order", "the yearly stable argsort of all households (once a year)", t_sort, "", "")
        t_sort32, _ = best_of(lambda: np.argsort(pri_all.astype(np.float32)), repeat=1)
        add(
            "fit_within, yearly order",
            "the yearly argsort on float32 keys, unstable (once a year)",
            t_sort32,
            "",
            "ties broken differently",
        )
        fit_within_ordered(order[:100], cand, amt_all, grp_all, lim, u_all)
        t_walk, out = best_of(lambda: fit_within_ordered(order, cand, amt_all, grp_all, lim, u_all))
        add(
            "fit_within, yearly order",
            "numba: one pass in the yearly order (per call)",
            t_walk,
            f"same as now: {np.array_equal(out, ref)}",
            "exact",
            base="now: np.lexsort over all candidates (same inputs)",
        )
        del pri_all, grp_all, amt_all, u_all, cand, idx, order, ref, out

    # binomial_from_uniform over all agents (scalar p, counts 0..8)
    u = rng.random(n)
    counts = rng.integers(0, 5, n).astype(np.int8)
    t_now, ref = best_of(lambda: binomial_from_uniform(u, counts, 0.08), repeat=1)
    add("binomial_from_uniform", "now: numpy recurrence", t_now, f"mean {ref.mean():.4f}", "")
    if numba is not None:
        binomial_numba(u[:10], counts[:10], 0.08)
        t_nb, out = best_of(lambda: binomial_numba(u, counts, 0.08))
        add(
            "binomial_from_uniform",
            "numba kernel, same recurrence",
            t_nb,
            f"rows differing from now: {int((out != ref).sum())}",
            "exact",
            base="now: numpy recurrence",
        )
        binomial_table(u[:10], counts[:10], 0.08)
        t_tb, out = best_of(lambda: binomial_table(u, counts, 0.08))
        add(
            "binomial_from_uniform",
            "numba, cdf table for a scalar p",
            t_tb,
            f"rows differing from now: {int((out != ref).sum())}",
            "exact",
            base="now: numpy recurrence",
        )
    del ref

    # region sums of _collect
    region = rng.integers(0, 3, n).astype(np.int8)
    weight = np.ones(n, np.int32)
    size = rng.integers(1, 8, n).astype(np.int8)
    people = (weight.astype(np.int64) * size).astype(np.float64)
    households = weight.astype(np.float64)
    status = rng.integers(0, 3, n).astype(np.int8)
    poor = rng.random(n) < 0.1
    move = rng.integers(0, 12, n)
    flows = [move == k for k in range(1, 8)]
    t_now, ref = best_of(lambda: region_sums_now(region, people, households, status, poor, flows))
    add("region sums (_collect)", "now: weighted bincount per measure", t_now, f"{len(ref)} bincounts", "")
    t_code, cells = best_of(lambda: region_sums_code(region, people, households, status, poor, flows))
    ok = np.allclose(cells[0][:, :, 1].sum(axis=1), ref[0]) and np.allclose(cells[2][:, 1], ref[7])
    add(
        "region sums (_collect)",
        "one bincount of a combined code (+1 for flows)",
        t_code,
        f"same sums: {ok}",
        "exact (integer-valued sums)",
        base="now: weighted bincount per measure",
    )

    # random draws
    gen = np.random.Generator(np.random.PCG64(1))
    rows_m = np.sort(rng.choice(n, 2032, replace=False))  # at most one marginal candidate per county

    def lazy_marginal_draws():
        bits = np.random.PCG64(np.random.SeedSequence([1, 2, 3]))
        g = np.random.Generator(bits)
        out, pos = np.empty(rows_m.size), 0
        for k, r in enumerate(rows_m):
            bits.advance(int(r - pos))
            out[k] = g.random()
            pos = int(r) + 1
        return out

    t_full, full = best_of(lambda: np.random.Generator(np.random.PCG64(np.random.SeedSequence([1, 2, 3]))).random(n))
    add("marginal lottery draws", "now: a full uniform stream, indexed at the candidates", t_full, "", "")
    t_lazy, lazy = best_of(lazy_marginal_draws)
    add(
        "marginal lottery draws",
        "PCG64.advance to the 2,032 marginal rows only",
        t_lazy,
        f"identical values: {np.array_equal(lazy, full[rows_m])}",
        "exact",
        base="now: a full uniform stream, indexed at the candidates",
    )
    del full
    t_u, _ = best_of(lambda: gen.random(n))
    add("random draws", "now: PCG64 uniform for every agent", t_u, "", "")
    t_z, _ = best_of(lambda: gen.standard_normal(n))
    add("random draws", "now: PCG64 normal for every agent", t_z, "", "")
    t_e, _ = best_of(lambda: np.exp(0.3 * gen.standard_normal(n) - 0.045))
    add("random draws", "now: log-normal factor for every agent (normal, scale, exp)", t_e, "", "")
    if numba is not None:
        all_rows = np.arange(n, dtype=np.int64)
        buf = np.empty(n)
        counter_uniform(np.uint64(12345), all_rows[:10], buf[:10])
        counter_normal(np.uint64(12345), all_rows[:10], buf[:10])
        t_cu, _ = best_of(lambda: counter_uniform(np.uint64(12345), all_rows, buf))
        add(
            "random draws",
            "counter-based uniform, every agent (numba, 2 threads)",
            t_cu,
            f"mean {buf.mean():.4f}",
            "new draws",
            base="now: PCG64 uniform for every agent",
        )
        t_cz, _ = best_of(lambda: counter_normal(np.uint64(12345), all_rows, buf))
        add(
            "random draws",
            "counter-based normal (Box-Muller), every agent (numba, 2 threads)",
            t_cz,
            f"sd {buf.std():.4f}",
            "new draws",
            base="now: PCG64 normal for every agent",
        )
        counter_normal_inverse(np.uint64(12345), all_rows[:10], buf[:10])
        t_ci, _ = best_of(lambda: counter_normal_inverse(np.uint64(12345), all_rows, buf))
        add(
            "random draws",
            "counter-based normal (inverse CDF), every agent (numba, 2 threads)",
            t_ci,
            f"sd {buf.std():.4f}",
            "new draws",
            base="now: PCG64 normal for every agent",
        )
        ill = np.flatnonzero(rng.random(n) < 0.1)
        t_sub, _ = best_of(lambda: counter_normal_inverse(np.uint64(12345), ill, buf[: ill.size]))
        add(
            "random draws",
            "counter-based normal, only the 10% at risk",
            t_sub,
            "",
            "new draws",
            base="now: PCG64 normal for every agent",
        )
        del all_rows, buf, ill

    # one year of household dynamics, povsim's numpy functions against fused kernels
    year_section(args.year_agents // (10 if args.quick else 1), rng, add)

    # initial income shift for the largest block (~1/3 of agents)
    k = n // 3
    market = rng.lognormal(8.5, 0.8, k)
    fixed = rng.uniform(200, 2000, k)
    sz = rng.integers(1, 8, k).astype(np.int8)
    pw = sz.astype(np.int64)
    target = 0.25 * pw.sum()
    t_now, s_now = best_of(lambda: _solve_income_shift(market, fixed, sz, pw, 2800.0, target), repeat=1)
    add("initial income shift (1 block)", "now: 60 bisection passes", t_now, f"s = {s_now:.9f}", "")
    t_new, s_new = best_of(lambda: income_shift_sorted(market, fixed, sz, pw, 2800.0, target), repeat=1)
    add(
        "initial income shift (1 block)",
        "one sort of critical shifts + bisection on it",
        t_new,
        f"s = {s_new:.9f}",
        "same s to 1e-6",
        base="now: 60 bisection passes",
    )

    print(f"\nprototypes at {n:,} agents / {m:,} candidates (seconds, best of 1–2 calls)")
    print(
        table(
            rows,
            [
                ("what", "helper", "{}"),
                ("variant", "variant", "{}"),
                ("s", "seconds", "{:.3f}"),
                ("x", "speed-up vs now", "{:.1f}×"),
                ("exact", "results", "{}"),
                ("check", "check", "{}"),
            ],
        )
    )
    print(f"\npeak RSS {peak_rss_bytes() / 1024**3:.1f} GiB")
    print(f"reproduce: {command_line()}   (numba rows: run with an interpreter that has numba installed)")


if __name__ == "__main__":
    main()
