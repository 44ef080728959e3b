"""Numba kernel of edge-SR: the per-pixel combination of the filter outputs, fused with the pixel shuffle.

``F`` (G*C*s*s, h, w) holds the head's filter outputs at LR; conv channel ``(g*C + c)*s*s + i*s + j`` is group
``g``, channel ``c``, HR phase ``(i, j)``. Each HR pixel ``(y*s + i, x*s + j)`` is written once:
max over c (eSR-MAX), or ``sum_c value_c softmax_c(score)`` with score ``key`` (eSR-TM), ``query * key``
(eSR-TR) or ``key * key`` (eSR-CNN); softmax with the maximum subtracted, as torch computes it.
Loops run along rows of one (channel, phase) plane at a time, so they vectorise.
"""

from __future__ import annotations

import numba as nb
import numpy as np

KIND_CODES = {"max": 0, "tm": 1, "tr": 2, "cnn": 3}


@nb.njit(inline="always")
def _scores(F, kind, ss, channels, c, p, y, score):
    key = F[(channels + c) * ss + p, y]
    if kind == 1:
        score[:] = key
    elif kind == 2:
        query = F[(2 * channels + c) * ss + p, y]
        for x in range(score.size):
            score[x] = key[x] * query[x]
    else:
        for x in range(score.size):
            score[x] = key[x] * key[x]


@nb.njit(parallel=True, cache=True, fastmath=True)
def combine(F, kind, channels, scale, gain, out):
    """out (h*s, w*s) float32 = gain * combination of ``F`` (see the module docstring)."""
    ss = scale * scale
    height, width = F.shape[1], F.shape[2]
    for y in nb.prange(height):
        top = np.empty(width, np.float32)
        total = np.empty(width, np.float32)
        acc = np.empty(width, np.float32)
        score = np.empty((channels, width), np.float32)
        for p in range(ss):
            i, j = p // scale, p % scale
            row = out[y * scale + i]
            if kind == 0:
                top[:] = F[p, y]
                for c in range(1, channels):
                    plane = F[c * ss + p, y]
                    for x in range(width):
                        top[x] = max(top[x], plane[x])
                for x in range(width):
                    row[x * scale + j] = gain * top[x]
                continue
            for c in range(channels):
                _scores(F, kind, ss, channels, c, p, y, score[c])
            top[:] = score[0]
            for c in range(1, channels):
                for x in range(width):
                    top[x] = max(top[x], score[c, x])
            total[:] = 0.0
            acc[:] = 0.0
            for c in range(channels):
                value = F[c * ss + p, y]
                for x in range(width):
                    e = np.exp(score[c, x] - top[x])
                    total[x] += e
                    acc[x] += e * value[x]
            for x in range(width):
                row[x * scale + j] = gain * acc[x] / total[x]
