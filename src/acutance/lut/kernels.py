"""Numba kernels of look-up-table SR: 4-simplex interpolation of 17^4 tables, rotation ensemble, and the adjoint.

A table ``T`` of shape ``(17**4, s*s)`` holds the outputs of a 4-input function sampled every 16 levels.
For one 4-pixel sample ``v = (a, b, c, d)`` (0..255), MSB ``v // 16`` picks the hypercube cell and LSB
``f = v % 16`` the position in it; 4-simplex interpolation sorts the LSBs in decreasing order and walks from
the cell's low corner to its high corner one axis at a time, so only 5 of the 16 corners are read, with
weights ``16 - f1, f1 - f2, f2 - f3, f3 - f4, f4`` (divided by 16). Ties give zero weights, so the walk
chosen for equal LSBs does not matter and results are exact for integer inputs.

Rotation ensemble without copies: the table sees the image rotated by ``r * 90`` degrees (``np.rot90``) and
its output is rotated back. Both are index maps here, so every kernel loops over the original pixels:
a pattern offset ``(di, dj)`` of the rotated frame is ``rot(di, dj)`` in the original frame, and output
sub-pixel ``(u, v)`` of an ``s x s`` block lands at ``g^r(u, v)`` with ``g(u, v) = (v, s-1-u)``.
Borders are padded by clamping (``edge``) or mirroring without the edge pixel (``reflect``); both commute
with rotation, so padding the rotated image at its end equals padding the original on the matching side.
"""

from __future__ import annotations

import numba as nb
import numpy as np

LEVELS = 17  # 4-bit sampling of 8-bit values: 0, 16, ..., 256
STEP = 16

# Sampling patterns in the rotated frame: (di, dj) of the 4 inputs a, b, c, d (MuLUT's S, D, Y shapes).
PATTERNS: dict[str, tuple[tuple[int, int], ...]] = {
    "s": ((0, 0), (0, 1), (1, 0), (1, 1)),
    "d": ((0, 0), (0, 2), (2, 0), (2, 2)),
    "y": ((0, 0), (1, 1), (1, 2), (2, 1)),
}
PAD_MODES = ("edge", "reflect")


def rotated_offsets(pattern: str) -> np.ndarray:
    """int64 (4 rotations, 4 inputs, 2): the pattern's offsets in the original frame for each rotation."""
    out = np.empty((4, 4, 2), np.int64)
    for k, (di, dj) in enumerate(PATTERNS[pattern]):
        a, b = di, dj
        for r in range(4):
            out[r, k] = (a, b)
            a, b = b, -a  # one more np.rot90 of the input: offset (di, dj) -> (dj, -di)
    return out


def column_maps(scale: int) -> np.ndarray:
    """int64 (4, s*s): for rotation r, table column u*s+v lands at original sub-pixel ``g^r(u, v)``."""
    out = np.empty((4, scale * scale), np.int64)
    for u in range(scale):
        for v in range(scale):
            a, b = u, v
            for r in range(4):
                out[r, u * scale + v] = a * scale + b
                a, b = b, scale - 1 - a
    return out


PAD = 2  # every pattern reaches at most 2 pixels from its anchor, on any side once rotated


def split_levels(img: np.ndarray, padding: str) -> tuple[np.ndarray, np.ndarray]:
    """Pad a float HxW image in [0, 255] by ``PAD`` and split it into cell index (MSB) and offset (LSB).

    Done once per stage in numpy, so the kernels read two small arrays instead of dividing per sample.
    numpy's ``reflect`` mirrors without repeating the edge pixel, as SR-LUT's test code pads.
    """
    padded = np.pad(np.asarray(img, np.float32), PAD, mode=padding)
    msb = np.minimum(np.floor(padded / STEP), LEVELS - 2).astype(np.int32)
    lsb = (padded - msb * np.float32(STEP)).astype(np.float32)
    return msb, lsb


@nb.njit(inline="always")
def _simplex(msb, lsb, y, x, offs, vidx, vw, fs, ss):
    """Fill the 5 corner rows ``vidx`` and weights ``vw`` (sum 16) of the sample anchored at padded (y, x).

    fs, ss: scratch (4,) float32 / int64. The LSBs are ordered by rank (count of larger ones, ties by
    position) from 6 comparisons without branches: data-dependent swaps mispredict on real images.
    """
    y0, x0 = y + offs[0, 0], x + offs[0, 1]
    y1, x1 = y + offs[1, 0], x + offs[1, 1]
    y2, x2 = y + offs[2, 0], x + offs[2, 1]
    y3, x3 = y + offs[3, 0], x + offs[3, 1]
    base = ((msb[y0, x0] * LEVELS + msb[y1, x1]) * LEVELS + msb[y2, x2]) * LEVELS + msb[y3, x3]
    f0, f1, f2, f3 = lsb[y0, x0], lsb[y1, x1], lsb[y2, x2], lsb[y3, x3]
    c01, c02, c03 = np.int64(f1 > f0), np.int64(f2 > f0), np.int64(f3 > f0)
    c12, c13, c23 = np.int64(f2 > f1), np.int64(f3 > f1), np.int64(f3 > f2)
    r0 = c01 + c02 + c03
    r1 = 1 - c01 + c12 + c13
    r2 = 2 - c02 - c12 + c23
    r3 = 3 - c03 - c13 - c23
    fs[r0], fs[r1], fs[r2], fs[r3] = f0, f1, f2, f3
    # strides of a, b, c, d in the flat index, in decreasing LSB order
    ss[r0], ss[r1], ss[r2], ss[r3] = LEVELS * LEVELS * LEVELS, LEVELS * LEVELS, LEVELS, 1
    vidx[0] = base
    vidx[1] = base + ss[0]
    vidx[2] = vidx[1] + ss[1]
    vidx[3] = vidx[2] + ss[2]
    vidx[4] = vidx[3] + ss[3]
    vw[0] = STEP - fs[0]
    vw[1] = fs[0] - fs[1]
    vw[2] = fs[1] - fs[2]
    vw[3] = fs[2] - fs[3]
    vw[4] = fs[3]


@nb.njit(parallel=True, cache=True)
def lut_stage(msb, lsb, tables, offsets, colmap, scale, divisor, bias, residual, do_round, out):
    """One stage: ``out`` ((H*s)x(W*s) float32) = clip(sum over patterns and rotations / divisor + bias).

    msb, lsb: from ``split_levels`` (padded by ``PAD``); tables: (P, 17**4, s*s), any numeric dtype;
    offsets: (P, 4, 4, 2) from ``rotated_offsets``; colmap: (4, s*s) from ``column_maps``. ``divisor``
    includes the factor 16 of the simplex weights. residual adds the centre input pixel (1x stages);
    do_round rounds to 8-bit levels.
    """
    height, width = msb.shape[0] - 2 * PAD, msb.shape[1] - 2 * PAD
    n_pat = tables.shape[0]
    ncol = scale * scale
    for y in nb.prange(height):
        # one accumulator per rotation, in table-column order, so the inner loop is a contiguous
        # multiply-add the compiler vectorises; columns are permuted back once per pixel
        acc = np.empty((4, ncol), np.float32)
        tot = np.empty(ncol, np.float64)
        vidx = np.empty(5, np.int64)
        vw = np.empty(5, np.float32)
        fs = np.empty(4, np.float32)
        ss = np.empty(4, np.int64)
        for x in range(width):
            acc[:] = 0.0
            for p in range(n_pat):
                for r in range(4):
                    _simplex(msb, lsb, y + PAD, x + PAD, offsets[p, r], vidx, vw, fs, ss)
                    for t in range(5):
                        w = vw[t]
                        i = vidx[t]
                        for c in range(ncol):
                            acc[r, c] += w * np.float32(tables[p, i, c])
            tot[:] = 0.0
            for r in range(4):
                for c in range(ncol):
                    # float64 from here: the sums are exact integers for 8-bit inputs and int tables
                    tot[colmap[r, c]] += np.float64(acc[r, c])
            base = np.float64(msb[y + PAD, x + PAD] * STEP + lsb[y + PAD, x + PAD]) if residual else 0.0
            for c in range(ncol):
                value = tot[c] / divisor + bias + base
                if value < 0.0:
                    value = 0.0
                elif value > 255.0:
                    value = 255.0
                if do_round:
                    value = np.rint(value)  # half to even, as np.round in the published test code
                out[y * scale + c // scale, x * scale + c % scale] = value


@nb.njit(cache=True)
def lut_adjoint(msb, lsb, residuals, offsets, colmap, scale, divisor, grad):
    """Adjoint of ``lut_linear``: grad[p, row, col] += weight / divisor * residual at the output it feeds.

    residuals: (H*s)x(W*s); grad: (P, 17**4, s*s) float64, accumulated (one thread: it scatters).
    """
    height, width = msb.shape[0] - 2 * PAD, msb.shape[1] - 2 * PAD
    n_pat = grad.shape[0]
    ncol = scale * scale
    vidx = np.empty(5, np.int64)
    vw = np.empty(5, np.float32)
    fs = np.empty(4, np.float32)
    ss = np.empty(4, np.int64)
    res = np.empty((4, ncol), np.float64)
    for y in range(height):
        for x in range(width):
            for r in range(4):
                for c in range(ncol):
                    oc = colmap[r, c]
                    res[r, c] = residuals[y * scale + oc // scale, x * scale + oc % scale] / divisor
            for p in range(n_pat):
                for r in range(4):
                    _simplex(msb, lsb, y + PAD, x + PAD, offsets[p, r], vidx, vw, fs, ss)
                    for t in range(5):
                        w = vw[t]
                        i = vidx[t]
                        for c in range(ncol):
                            grad[p, i, c] += w * res[r, c]


@nb.njit(parallel=True, cache=True)
def lut_linear(msb, lsb, tables, offsets, colmap, scale, divisor, out):
    """``lut_stage`` without bias, clipping or rounding, in float64: the linear map the fitter inverts."""
    height, width = msb.shape[0] - 2 * PAD, msb.shape[1] - 2 * PAD
    n_pat = tables.shape[0]
    ncol = scale * scale
    for y in nb.prange(height):
        acc = np.empty(ncol, np.float64)
        vidx = np.empty(5, np.int64)
        vw = np.empty(5, np.float32)
        fs = np.empty(4, np.float32)
        ss = np.empty(4, np.int64)
        for x in range(width):
            acc[:] = 0.0
            for p in range(n_pat):
                for r in range(4):
                    _simplex(msb, lsb, y + PAD, x + PAD, offsets[p, r], vidx, vw, fs, ss)
                    for t in range(5):
                        w = vw[t]
                        i = vidx[t]
                        for c in range(ncol):
                            acc[colmap[r, c]] += w * tables[p, i, c]
            for c in range(ncol):
                out[y * scale + c // scale, x * scale + c % scale] = acc[c] / divisor


@nb.njit(cache=True)
def lut_diag(msb, lsb, offsets, colmap, scale, divisor, diag):
    """Diagonal of ``A^T A`` (up to entries shared by two rotations of one output): the CG preconditioner."""
    height, width = msb.shape[0] - 2 * PAD, msb.shape[1] - 2 * PAD
    n_pat = diag.shape[0]
    ncol = scale * scale
    vidx = np.empty(5, np.int64)
    vw = np.empty(5, np.float32)
    fs = np.empty(4, np.float32)
    ss = np.empty(4, np.int64)
    for y in range(height):
        for x in range(width):
            for p in range(n_pat):
                for r in range(4):
                    _simplex(msb, lsb, y + PAD, x + PAD, offsets[p, r], vidx, vw, fs, ss)
                    for t in range(5):
                        w = vw[t] / divisor
                        i = vidx[t]
                        for c in range(ncol):
                            diag[p, i, c] += w * w
