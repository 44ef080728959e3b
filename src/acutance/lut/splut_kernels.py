"""numba kernels of the SPLUT runtime (``acutance.lut.splut``): the first LUT on 4-bit levels, the series
stages on the quantised sums of channel pairs, and the transfer's GELU network evaluation.

Index layout (the paper's, as the authors' transfer code builds the tables): a table has ``L**4`` rows
(``L = 16`` levels per entry), row ``((a * L + b) * L + c) * L + d`` for the four entries ``a, b, c, d``:

- first stage ("122", a 2x2 window of one 4-bit channel): ``a = v[i, j], b = v[i, j+1], c = v[i+1, j],
  d = v[i+1, j+1]``;
- later stages, one table per group of 4 channels ``c0 .. c0+3`` of the previous stage's output ``X``: two
  maps ``Y_k = X[c0+k] + X[c0+2+k]`` shifted by one pixel (``k = 0, 1``), quantised to ``q = floor(clip(Y,
  -8, 7.99)) + 8``; "221" reads ``a = q_0[i, j], b = q_0[i+1, j], c = q_1[i, j], d = q_1[i+1, j]`` (the shift
  and the pair run down the rows), "212" the same along the columns.

Outside the image, rows and columns are mirrored without repeating the edge (numpy's ``reflect``), as the
authors' padding does.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

LEVELS = 16
KERNELS = {"221": 0, "212": 1}


@njit(inline="always")
def _reflect(r: int, n: int) -> int:
    if r < 0:
        return 1 if n > 1 else 0
    if r >= n:
        return n - 2 if n > 1 else 0
    return r


@njit(inline="always")
def _level(y: float) -> int:
    if y < -8.0:
        y = -8.0
    elif y > 7.99:
        y = 7.99
    return int(math.floor(y)) + 8


# The kernels take a batch of planes (the 3 colour channels) and run one table at a time over all of them:
# a table (16**4 rows of 16 int16 = 2 MB) then stays in the core's cache instead of competing with the
# others of its stage.


@njit(parallel=True, cache=True)
def first_stage(levels, table, step, inputs, out):  # pragma: no cover (numba)
    """levels: (n, h+1, w+1) uint8 4-bit levels (mirrored by one on the bottom and right); table: (L**4, C);
    inputs: (16,) float32, the value the network saw for each level; out (n, h, w, C) float32 =
    table * step + inputs[levels[i, j]]."""
    n, h, w, channels = out.shape
    for r in prange(n * h):
        p, i = r // h, r % h
        for j in range(w):
            a = np.int64(levels[p, i, j])
            row = ((a * 16 + levels[p, i, j + 1]) * 16 + levels[p, i + 1, j]) * 16 + levels[p, i + 1, j + 1]
            base = inputs[levels[p, i, j]]
            for c in range(channels):
                out[p, i, j, c] = np.float32(table[row, c]) * step + base


@njit(parallel=True, cache=True)
def add_group(x, table, kind, c0, acc, assign):  # pragma: no cover (numba)
    """acc (n, h, w, Cout) += (or = when ``assign``: the first group) the rows of ``table`` (L**4, Cout)
    looked up by one group: channels ``c0 .. c0+3`` of ``x`` (n, h, w, C), kernel ``kind`` (0: 221, down the
    rows; 1: 212, along the columns). The table's step is applied once, by ``finish_stage`` (int16 rows sum
    exactly in float32)."""
    n, h, w, _ = x.shape
    outputs = table.shape[1]
    for r in prange(n * h):
        p, i = r // h, r % h
        up, down = _reflect(i - 1, h), _reflect(i + 1, h)
        for j in range(w):
            if kind == 0:
                a = _level(x[p, i, j, c0] + x[p, up, j, c0 + 2])
                b = _level(x[p, down, j, c0] + x[p, i, j, c0 + 2])
                c = _level(x[p, i, j, c0 + 1] + x[p, up, j, c0 + 3])
                d = _level(x[p, down, j, c0 + 1] + x[p, i, j, c0 + 3])
            else:
                left, right = _reflect(j - 1, w), _reflect(j + 1, w)
                a = _level(x[p, i, j, c0] + x[p, i, left, c0 + 2])
                b = _level(x[p, i, right, c0] + x[p, i, j, c0 + 2])
                c = _level(x[p, i, j, c0 + 1] + x[p, i, left, c0 + 3])
                d = _level(x[p, i, right, c0 + 1] + x[p, i, j, c0 + 3])
            row = ((np.int64(a) * 16 + b) * 16 + c) * 16 + d
            if assign:
                for k in range(outputs):
                    acc[p, i, j, k] = np.float32(table[row, k])
            else:
                for k in range(outputs):
                    acc[p, i, j, k] += np.float32(table[row, k])


@njit(parallel=True, cache=True)
def finish_stage(acc, step, groups, x, levels, inputs, residual):  # pragma: no cover (numba)
    """acc (n, h, w, Cout) = acc * step / groups + ``x`` (a middle stage, ``residual``) or + the level's input
    (the last stage), in place."""
    n, h, w, outputs = acc.shape
    inv = step / np.float32(groups)
    for r in prange(n * h):
        p, i = r // h, r % h
        for j in range(w):
            base = inputs[levels[p, i, j]]
            for k in range(outputs):
                acc[p, i, j, k] = acc[p, i, j, k] * inv + (x[p, i, j, k] if residual else base)


@njit(parallel=True, cache=True)
def combine(msb, lsb, scale, out):  # pragma: no cover (numba)
    """out (n, s*h, s*w) = clip(msb + lsb, 0, 1), pixel-shuffled from (n, h, w, s*s) (channel dy * s + dx)."""
    n, h, w, _ = msb.shape
    for r in prange(n * h):
        p, i = r // h, r % h
        for j in range(w):
            for dy in range(scale):
                for dx in range(scale):
                    k = dy * scale + dx
                    value = msb[p, i, j, k] + lsb[p, i, j, k]
                    out[p, i * scale + dy, j * scale + dx] = min(max(value, np.float32(0.0)), np.float32(1.0))


@numba.vectorize(["float64(float64)"], cache=True)
def gelu(x):  # pragma: no cover (numba)
    """torch.nn.GELU's exact form, 0.5 x (1 + erf(x / sqrt 2))."""
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))
