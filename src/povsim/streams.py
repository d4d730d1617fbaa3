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


def binomial_from_uniform(u: np.ndarray, n: np.ndarray, p: np.ndarray | float) -> np.ndarray:
    """Binomial(n, p) draws by inversion of one uniform per row.

    Unlike ``Generator.binomial``, which consumes a variable number of draws per row, this
    keeps the draw of each household tied to its own uniform, which common random numbers
    need. ``n`` is small (household members), so the loop runs over counts, not households.
    """
    n = np.asarray(n, dtype=np.int64)
    p = np.clip(np.broadcast_to(np.asarray(p, dtype=np.float64), n.shape), 0.0, 1.0 - 1e-12)
    k = np.zeros(n.shape, dtype=np.int64)
    pmf = np.power(1.0 - p, n)
    cdf = pmf.copy()
    ratio = p / (1.0 - p)
    top = int(n.max(initial=0))
    for j in range(top):
        step = u > cdf
        if not step.any():
            break
        k += step
        pmf = pmf * (n - j) / (j + 1) * ratio
        cdf = cdf + pmf
    return np.minimum(k, n)
