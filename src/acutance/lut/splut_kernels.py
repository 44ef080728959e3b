"""numba kernels of the SPLUT runtime (``acutance.lut.splut``): one fused kernel for both branches, the first
LUT on 4-bit levels and the series stages on the quantised sums of channel pairs; and the transfer's GELU.

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
    """floor(clip(y, -8, 7.99)) + 8: the clipped sum plus 8 (in float64, exact for float32 sums) truncated."""
    if y < -8.0:
        y = -8.0
    elif y > 7.99:
        y = 7.99
    return int(y + 8.0)


# The fused kernel: one task per (plane, strip of output rows) runs both branches and every stage on the
# strip (plus the rows of context each stage needs), so the stages' channel maps live in small per-task
# buffers that stay in the core's cache instead of whole-image arrays streamed through memory once per
# group; the int16 rows of all a stage's groups are summed in a local accumulator, scaled once, and the
# last stage writes the pixel-shuffled, clipped output directly.


@njit(cache=True)
def _stage_rows(h, n_stages, down_rows, strip_lo, strip_hi, lo, hi):  # pragma: no cover (numba)
    """Rows [lo[t], hi[t]) of stage t's output that the strip needs: a stage with a ``221`` group reads the
    rows above and below (mirrored indices stay inside the widened range)."""
    lo[n_stages], hi[n_stages] = strip_lo, strip_hi
    for t in range(n_stages - 1, -1, -1):
        reach = 1 if down_rows[t] else 0
        lo[t] = max(0, lo[t + 1] - reach)
        hi[t] = min(h, hi[t + 1] + reach)


@njit(parallel=True, cache=True)
def run_fused(padded, scale, channels, tables_msb, tables_lsb, steps, inputs, kinds, firsts, n_groups, strip,
              out):  # pragma: no cover (numba)
    """padded (n, h+1, w+1) uint8 8-bit values (mirrored by one on the bottom and right) -> out (n, s*h, s*w)
    float32 = clip(msb branch + lsb branch, 0, 1), pixel-shuffled.

    tables_*: tuples of the stage tables (groups, L**4, outputs); steps (2, stages + 1) float32; inputs (2, 16)
    float32 (each branch's base for a level); kinds / firsts (stages, max groups): each series stage's groups
    (kind 0: 221, 1: 212); n_groups (stages,)."""
    n, h, w = out.shape[0], padded.shape[1] - 1, padded.shape[2] - 1
    n_stages = n_groups.shape[0]
    outputs = scale * scale
    down_rows = np.zeros(n_stages, np.bool_)
    for t in range(n_stages):
        for g in range(n_groups[t]):
            if kinds[t, g] == 0:
                down_rows[t] = True
    strips = (h + strip - 1) // strip
    for task in prange(n * strips):
        p, s0 = task // strips, (task % strips) * strip
        lo, hi = np.empty(n_stages + 1, np.int64), np.empty(n_stages + 1, np.int64)
        _stage_rows(h, n_stages, down_rows, s0, min(h, s0 + strip), lo, hi)
        acc = np.empty(max(channels, outputs), np.float32)
        rows = np.empty((w, kinds.shape[1]), np.int64)
        for branch in range(2):
            tables = tables_msb if branch == 0 else tables_lsb
            shift, mask = (4, 15) if branch == 0 else (0, 15)
            table, step = tables[0], steps[branch, 0]
            x = np.empty((hi[0] - lo[0], w, channels), np.float32)
            for i in range(lo[0], hi[0]):
                for j in range(w):
                    a = np.int64((padded[p, i, j] >> shift) & mask)
                    b = np.int64((padded[p, i, j + 1] >> shift) & mask)
                    c = np.int64((padded[p, i + 1, j] >> shift) & mask)
                    d = np.int64((padded[p, i + 1, j + 1] >> shift) & mask)
                    row = ((a * 16 + b) * 16 + c) * 16 + d
                    base = inputs[branch, a]
                    for k in range(channels):
                        x[i - lo[0], j, k] = np.float32(table[0, row, k]) * step + base
            for t in range(n_stages):
                last = t == n_stages - 1
                table = tables[t + 1]
                n_out = outputs if last else channels
                inv = steps[branch, t + 1] / np.float32(n_groups[t])
                y = np.empty((hi[t + 1] - lo[t + 1], w, channels), np.float32) if not last else x
                for i in range(lo[t + 1], hi[t + 1]):
                    ii = i - lo[t]
                    up, down = _reflect(i - 1, h) - lo[t], _reflect(i + 1, h) - lo[t]
                    # the table rows of every group first, then their sums: the lookups no longer wait on
                    # the level arithmetic, so more of them are in flight at once
                    for j in range(w):
                        left, right = _reflect(j - 1, w), _reflect(j + 1, w)
                        for g in range(n_groups[t]):
                            c0 = firsts[t, g]
                            if kinds[t, g] == 0:
                                a = _level(x[ii, j, c0] + x[up, j, c0 + 2])
                                b = _level(x[down, j, c0] + x[ii, j, c0 + 2])
                                c = _level(x[ii, j, c0 + 1] + x[up, j, c0 + 3])
                                d = _level(x[down, j, c0 + 1] + x[ii, j, c0 + 3])
                            else:
                                a = _level(x[ii, j, c0] + x[ii, left, c0 + 2])
                                b = _level(x[ii, right, c0] + x[ii, j, c0 + 2])
                                c = _level(x[ii, j, c0 + 1] + x[ii, left, c0 + 3])
                                d = _level(x[ii, right, c0 + 1] + x[ii, j, c0 + 3])
                            rows[j, g] = ((np.int64(a) * 16 + b) * 16 + c) * 16 + d
                    for j in range(w):
                        for k in range(n_out):
                            acc[k] = 0.0
                        for g in range(n_groups[t]):
                            row = rows[j, g]
                            for k in range(n_out):
                                acc[k] += np.float32(table[g, row, k])
                        if not last:
                            for k in range(channels):
                                y[i - lo[t + 1], j, k] = acc[k] * inv + x[ii, j, k]
                        else:
                            base = inputs[branch, (padded[p, i, j] >> shift) & mask]
                            for dy in range(scale):
                                for dx in range(scale):
                                    value = acc[dy * scale + dx] * inv + base
                                    if branch == 0:
                                        out[p, i * scale + dy, j * scale + dx] = value
                                    else:
                                        value += out[p, i * scale + dy, j * scale + dx]
                                        out[p, i * scale + dy, j * scale + dx] = min(max(value, np.float32(0.0)),
                                                                                     np.float32(1.0))
                x = y


@numba.vectorize(["float64(float64)"], cache=True)
def gelu(x):  # pragma: no cover (numba)
    """torch.nn.GELU's exact form, 0.5 x (1 + erf(x / sqrt 2))."""
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))
