"""Named random streams, so that scenarios share common random numbers.

Every mechanism draws from its own stream, keyed by (seed, mechanism name, year), and draws
one value per household agent whether or not the household is at risk. A household therefore
meets the same illness, disaster and job-loss draws in every scenario run with the same seed,
and adding a programme does not shift the draws of the others (the design of Starsim's
``ss.random``).
"""

from __future__ import annotations

import zlib

import numpy as np


class RandomStreams:
    """Factory of independent generators keyed by mechanism name and year."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def get(self, name: str, year: int = 0) -> np.random.Generator:
        """The generator for mechanism ``name`` in ``year``: the same for the same seed."""
        key = zlib.crc32(name.encode("utf-8"))
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, key, int(year)])))

    def uniform(self, name: str, year: int, n: int) -> np.ndarray:
        """``n`` uniforms on [0, 1) from stream ``name`` of ``year``, one per household."""
        return self.get(name, year).random(n, dtype=np.float64)

    def mean_one_lognormal(self, name: str, year: int, n: int, sigma: float) -> np.ndarray:
        """``n`` mean-one log-normal factors exp(σz − σ²/2), z standard normal from stream ``name``
        of ``year``: a multiplicative measurement error of log-sd ``sigma``."""
        z = self.get(name, year).standard_normal(n)
        z *= sigma
        z -= 0.5 * sigma**2
        return np.exp(z, out=z)

    def uniform_at(self, name: str, year: int, rows: np.ndarray) -> np.ndarray:
        """The values ``uniform(name, year, n)[rows]`` without drawing the whole stream.

        Each uniform consumes one 64-bit output of PCG64, so the stream is advanced to each
        row (sorted) and one value is drawn there: the same values for a few rows (e.g. the
        marginal candidate of each county in rationing) at a fraction of the cost.
        """
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(rows.shape, np.float64)
        if rows.size == 0:
            return out
        key = zlib.crc32(name.encode("utf-8"))
        bit_generator = np.random.PCG64(np.random.SeedSequence([self.seed, key, int(year)]))
        generator = np.random.Generator(bit_generator)
        order = np.argsort(rows, kind="stable")
        position, value = 0, 0.0
        for i in order:
            row = int(rows[i])
            if row < position:  # a repeated row: the value just drawn
                out[i] = value
                continue
            bit_generator.advance(row - position)
            value = generator.random()
            out[i] = value
            position = row + 1
        return out


def binomial_from_uniform(
    u: np.ndarray, n: np.ndarray, p: np.ndarray | float, *, overwrite_p: bool = False
) -> np.ndarray:
    """Binomial(n, p) draws by inversion of one uniform per row.

    Unlike ``Generator.binomial``, which consumes a variable number of draws per row, this
    keeps the draw of each household tied to its own uniform, which common random numbers
    need. ``n`` is small (household members), so the loop runs over counts, not households.

    Args:
        u: one uniform per row.
        n: trials per row (small non-negative integers).
        p: success probability, one for all rows or one per row.
        overwrite_p: a float64 ``p`` per row may be used as scratch space (saves a column).

    Returns:
        The draws, int8 when every ``n`` fits in int8 (household members), else int64.
    """
    n = np.asarray(n)
    top = int(n.max(initial=0))
    dtype = np.int8 if top <= np.iinfo(np.int8).max else np.int64
    if np.ndim(p) == 0 and top <= _TABLE_MAX_N and n.min(initial=0) >= 0:
        # One cdf row per possible count, so each row is a table look-up and a comparison
        # per member instead of the recurrence over every row (same values, see the table).
        table = _binomial_cdf_table(float(p), top)
        k = np.zeros(n.shape, dtype)
        for j in range(top):
            k += u > table[j].take(n)
        return k
    # the recurrence over all rows (a p per row), with temporaries reused in place
    scratch = overwrite_p and isinstance(p, np.ndarray) and p.dtype == np.float64 and p.shape == n.shape
    p = np.clip(np.broadcast_to(np.asarray(p, dtype=np.float64), n.shape), 0.0, 1.0 - 1e-12, out=p if scratch else None)
    k = np.zeros(n.shape, dtype=dtype)
    q = 1.0 - p
    pmf = np.power(q, n, dtype=np.float64)
    ratio = np.divide(p, q, out=p)
    cdf = q
    cdf[...] = pmf
    del p, q
    for j in range(top):
        step = u > cdf
        if not step.any():
            break
        k += step
        pmf *= n - j
        pmf /= j + 1
        pmf *= ratio
        cdf += pmf
    return np.minimum(k, n, dtype=dtype, casting="unsafe")


_TABLE_MAX_N = 64


def _binomial_cdf_table(p: float, top: int) -> np.ndarray:
    """``table[j, m]``: the cdf of Binomial(m, p) at j for m = 0..top, computed with exactly
    the array operations of the per-row recurrence of :func:`binomial_from_uniform` (so a
    look-up gives the same float64 value as the recurrence); ``inf`` where ``j >= m``, where
    the recurrence's count is capped at ``m``."""
    m = np.arange(top + 1, dtype=np.int64)
    q = np.clip(np.full(m.shape, p, dtype=np.float64), 0.0, 1.0 - 1e-12)
    pmf = np.power(1.0 - q, m)
    cdf = pmf.copy()
    ratio = q / (1.0 - q)
    table = np.full((max(top, 1), top + 1), np.inf)
    for j in range(top):
        table[j] = np.where(j < m, cdf, np.inf)
        pmf = pmf * (m - j) / (j + 1) * ratio
        cdf = cdf + pmf
    return table
