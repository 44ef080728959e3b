"""Compiled inner loops of the degradation model (numba; machine code cached on first use)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def poisson_from_uniform(levels: np.ndarray, uniform: np.ndarray, cdf: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """Photon counts by inverse CDF: for pixel i the smallest n with ``cdf[levels[i], n] > uniform[i]``.

    ``guide[k, g]`` (the answer for u = g / G) is a lower bound for every u in cell g, so a short forward walk
    from it finds the answer.
    """
    out = np.empty(levels.size, dtype=np.float32)
    cells = guide.shape[1]
    for i in range(levels.size):
        level = levels[i]
        u = uniform[i]
        n = guide[level, int(u * cells)]
        while cdf[level, n] <= u:
            n += 1
        out[i] = n
    return out
