"""The compiled inner loop of NIQE (:mod:`acutance.metrics.niqe`), apart so that importing the metric does not
import numba: the web page asks whether NIQE is available without scoring anything."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _accumulate(moments, series, value):
    # Branch-free, so that the loop vectorises.
    negative = min(value, 0.0)
    positive = value - negative
    moments[series, 0] += negative * negative
    moments[series, 1] += 1.0 if negative < 0.0 else 0.0
    moments[series, 2] += positive * positive
    moments[series, 3] += 1.0 if positive > 0.0 else 0.0
    moments[series, 4] += positive - negative


@njit(cache=True)  # serial: safe when the web server scores two results at once
def patch_moments(plane, size):  # pragma: no cover - compiled
    """(N, 5, 5) moments of every size x size patch (column-major patch order): the MSCN values, then their
    products with the left, upper, upper-left and upper-right neighbours (MATLAB circshift by [0 1], [1 0],
    [1 1], [1 -1]), wrapped around inside the patch."""
    rows = plane.shape[0] // size
    cols = plane.shape[1] // size
    out = np.zeros((rows * cols, 5, 5))
    for index in range(rows * cols):
        top = (index % rows) * size
        left = (index // rows) * size
        block = plane[top : top + size, left : left + size]
        moments = np.zeros((5, 5))
        for y in range(size):
            row = block[y]
            above = block[(y - 1) % size]
            for x in range(size):
                value = row[x]
                back = x - 1 if x > 0 else size - 1
                forward = x + 1 if x < size - 1 else 0
                _accumulate(moments, 0, value)
                _accumulate(moments, 1, value * row[back])
                _accumulate(moments, 2, value * above[x])
                _accumulate(moments, 3, value * above[back])
                _accumulate(moments, 4, value * above[forward])
        out[index] = moments
    return out
