"""Compiled per-pixel kernels of anti-aliasing (numba): the hashed-filter pass of ``aa-x1`` and FXAA.

Both work on float32 HxWx3 RGB (C-contiguous, interleaved) and a float32 luma plane, parallel over rows,
with clamped (edge-replicating) borders, so no padded copy of the frame is made. Plain convolutions stay
in OpenCV (the box sums of the structure tensor); what is per-pixel logic lives here.

The hashed pass skips every pixel whose luma differs from each of its 4 neighbours by less than a threshold:
a box-filtered edge changes only the pixels it passes through, next to a step of the aliased image, and
copying the rest (most of a frame) is what keeps the pass cheap. The hash's box sums are completed only
there.
"""

from __future__ import annotations

import math

import llvmlite.binding as llvm
import numpy as np
from numba import njit, prange

from acutance.raisr.kernels import _atan2  # the hashed filters' fast float32 atan2: the same angles as RAISR

# As in ``acutance.filters.anime4k``: the strip loops read and write several planes that LLVM must prove apart
# at run time; past its default of 128 such checks it leaves a loop scalar. Raising the limit (process-wide;
# it only lets more loops vectorise, results are unchanged) must happen before the kernels compile.
llvm.set_option("", "-vectorize-memory-check-threshold=4096")


STRIP = 32  # output rows per parallel task: the strip's luma, tensor and box sums stay in cache


@njit(cache=True, fastmath=True)
def _strip_tensor(rgb, weights, y0, y1, radius):  # pragma: no cover
    """What output rows y0..y1 need: ``(luma, vertical)``.

    luma: float32 (y1 - y0 + 2 radius + 2, W + 2), rows from y0 - radius - 1 on, one column repeated on each
    side (the test of ``_contrast``); vertical: float32 (3, y1 - y0, W + 2 radius), the sums over the
    (2 radius + 1)-row window of gx*gx, gx*gy, gy*gy, columns repeated by ``radius`` on each side, so that
    ``_window`` completes the box sum at any pixel. Gradients are central differences of the luma
    (``raisr.hashing``'s: half the difference of the two neighbours); borders repeat the edge row / column
    of the luma and of the products (OpenCV's BORDER_REPLICATE). The inner loops run along x without
    branches, so they vectorise, and every sum is taken in the same order wherever the strip starts (tiles
    give the same hash as the whole image).
    """
    height, width = rgb.shape[:2]
    n_out = y1 - y0
    rows = n_out + 2 * radius  # product rows needed
    top = y0 - radius - 1  # image row of luma row 0
    w0, w1, w2 = weights[0], weights[1], weights[2]
    luma = np.empty((rows + 2, width + 2), np.float32)
    for i in range(rows + 2):
        source = rgb[min(max(top + i, 0), height - 1)]
        line = luma[i]
        for x in range(width):
            line[x + 1] = w0 * source[x, 0] + w1 * source[x, 1] + w2 * source[x, 2]
        line[0] = line[1]
        line[width + 1] = line[width]
    half = np.float32(0.5)
    pad = radius
    products = np.empty((3, rows, width + 2 * pad), np.float32)
    for i in range(rows):
        yy = min(max(top + 1 + i, 0), height - 1)  # the (clamped) image row of this product row
        centre = luma[yy - top]
        up = luma[max(yy - 1, 0) - top]
        down = luma[min(yy + 1, height - 1) - top]
        pxx, pxy, pyy = products[0, i], products[1, i], products[2, i]
        for x in range(width):
            gx = half * (centre[x + 2] - centre[x])
            gy = half * (down[x + 1] - up[x + 1])
            pxx[x + pad] = gx * gx
            pxy[x + pad] = gx * gy
            pyy[x + pad] = gy * gy
        for ch in range(3):
            line = products[ch, i]
            for x in range(pad):
                line[x] = line[pad]
                line[width + pad + x] = line[width + pad - 1]
    window = 2 * radius + 1
    vertical = np.empty((3, n_out, width + 2 * pad), np.float32)
    for ch in range(3):
        for o in range(n_out):
            column = vertical[ch, o]
            column[:] = products[ch, o]
            for i in range(1, window):
                line = products[ch, o + i]
                for x in range(width + 2 * pad):
                    column[x] += line[x]
    return luma, vertical


@njit(inline="always", fastmath=True)
def _contrast(luma, o, x, radius):  # pragma: no cover
    """The largest luma step from output pixel (o, x) of the strip to one of its 4 neighbours."""
    row = o + radius + 1
    c = luma[row, x + 1]
    return max(max(abs(luma[row - 1, x + 1] - c), abs(luma[row + 1, x + 1] - c)),
               max(abs(luma[row, x] - c), abs(luma[row, x + 2] - c)))


@njit(inline="always", fastmath=True)
def _window(vertical, ch, o, x, window):  # pragma: no cover
    line = vertical[ch, o]
    total = line[x]
    for j in range(1, window):
        total += line[x + j]
    return total


@njit(parallel=True, cache=True, fastmath=True)
def tensor_sums(rgb, weights, radius):  # pragma: no cover  (compiled)
    """The hash's inputs at every pixel: (sums float32 3xHxW, the box means of gx*gx, gx*gy, gy*gy over the
    (2 radius + 1)^2 window; contrast float32 HxW, the ``_contrast`` test)."""
    height, width = rgb.shape[:2]
    sums = np.empty((3, height, width), np.float32)
    contrast = np.empty((height, width), np.float32)
    window = 2 * radius + 1
    scale = np.float32(1.0 / (window * window))
    for s in prange((height + STRIP - 1) // STRIP):
        y0 = s * STRIP
        y1 = min(height, y0 + STRIP)
        luma, vertical = _strip_tensor(rgb, weights, y0, y1, radius)
        for o in range(y1 - y0):
            for x in range(width):
                contrast[y0 + o, x] = _contrast(luma, o, x, radius)
                for ch in range(3):
                    sums[ch, y0 + o, x] = _window(vertical, ch, o, x, window) * scale
    return sums, contrast


@njit(inline="always", fastmath=True)
def _bucket(a, b, c, step, n_angle, strength_squared, coherence_low, coherence_high):  # pragma: no cover
    """``raisr.kernels.bucket_keys`` for one pixel (no pixel types): angle, strength and coherence bins of
    the tensor (a, b, c) = (gxx, gxy, gyy), compared without square roots.

    One difference: the angle bins are centred on the axes (bin 0 holds the directions within half a bin of
    0), where raisr's start there. A staircase's windowed tensor often has gxy exactly 0, an edge exactly
    along an axis; on a bin boundary its mirror image would land in the other bin (the 8-fold augmentation
    then trains a bin on edges inference never files there), at a bin centre it stays put. The augmentation's
    angle maps follow (``train.SYMMETRIES``). Another: the strength is sqrt(l1) over the pixel's largest
    luma step to a 4-neighbour (``step``), so it does not depend on the edge's contrast: a filter is linear,
    the same filter serves a faint and a strong edge, and the bins are spent on the shape (a lone straight
    edge, a corner, dense strokes) instead."""
    half = np.float32(0.5)
    half_trace = half * (a + c)
    d = half * (a - c)
    root = math.sqrt(d * d + b * b)
    l1 = max(half_trace + root, np.float32(0.0))
    l2 = max(half_trace - root, np.float32(0.0))
    # twice the dominant direction, in [-pi, pi]; bins centred on the axes (see ``_bucket``'s docstring)
    phi = _atan2(np.float32(2.0) * b, a - c)
    angle = int(math.floor(phi * np.float32(n_angle / (2.0 * math.pi)) + np.float32(0.5)))
    if angle < 0:
        angle += n_angle
    if angle >= n_angle:
        angle -= n_angle
    s_bin = 0
    step2 = step * step
    for t in range(strength_squared.shape[0]):
        s_bin += l1 >= strength_squared[t] * step2
    c_bin = 0
    for t in range(coherence_low.shape[0]):
        c_bin += l1 * coherence_low[t] > l2 * coherence_high[t]
    n_strength = strength_squared.shape[0] + 1
    n_coherence = coherence_low.shape[0] + 1
    return (angle * n_strength + s_bin) * n_coherence + c_bin


@njit(parallel=True, cache=True, fastmath=True)
def bucket_map(rgb, weights, radius, skip, n_angle, strength_squared, coherence_low, coherence_high):  # pragma: no cover
    """The bucket of every pixel (int32 HxW), -1 where its largest step to a 4-neighbour is below ``skip``."""
    height, width = rgb.shape[:2]
    out = np.empty((height, width), np.int32)
    window = 2 * radius + 1
    scale = np.float32(1.0 / (window * window))
    for s in prange((height + STRIP - 1) // STRIP):
        y0 = s * STRIP
        y1 = min(height, y0 + STRIP)
        luma, vertical = _strip_tensor(rgb, weights, y0, y1, radius)
        for o in range(y1 - y0):
            for x in range(width):
                step = _contrast(luma, o, x, radius)
                if step < skip:
                    out[y0 + o, x] = -1
                else:
                    out[y0 + o, x] = _bucket(_window(vertical, 0, o, x, window) * scale,
                                             _window(vertical, 1, o, x, window) * scale,
                                             _window(vertical, 2, o, x, window) * scale,
                                             step, n_angle, strength_squared, coherence_low, coherence_high)
    return out


@njit(parallel=True, cache=True, fastmath=True)
def hashed_filter(rgb, weights, radius, skip, n_angle, strength_squared, coherence_low, coherence_high,
                  filters, tap_sums, k):  # pragma: no cover  (compiled)
    """out = rgb, and where a step to a 4-neighbour is >= ``skip`` (the pixels an edge passes through): rgb + <k x k patch minus its centre, filter>, one
    filter per pixel (its bucket), the same for R, G and B (the filter is chosen by the luma and trained on
    every channel alike). filters: (n, k*k) float32; tap_sums: each filter's tap sum."""
    height, width = rgb.shape[:2]
    out = np.empty_like(rgb)
    r = k // 2
    window = 2 * radius + 1
    scale = np.float32(1.0 / (window * window))
    for s in prange((height + STRIP - 1) // STRIP):
        y0 = s * STRIP
        y1 = min(height, y0 + STRIP)
        luma, vertical = _strip_tensor(rgb, weights, y0, y1, radius)
        marks = np.empty(width, np.int64)
        steps = np.empty(width, np.float32)
        for o in range(y1 - y0):
            y = y0 + o
            out[y] = rgb[y]  # a plain copy; the pixels on edges are overwritten below
            up, mid, down = luma[o + radius], luma[o + radius + 1], luma[o + radius + 2]
            n = 0
            for x in range(width):  # ``_contrast`` without branches: the row's edge pixels, compacted
                c = mid[x + 1]
                step = max(max(abs(up[x + 1] - c), abs(down[x + 1] - c)), max(abs(mid[x] - c), abs(mid[x + 2] - c)))
                marks[n] = x
                steps[n] = step
                n += step >= skip
            for m in range(n):
                x = marks[m]
                c0, c1, c2 = rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2]
                key = _bucket(_window(vertical, 0, o, x, window) * scale, _window(vertical, 1, o, x, window) * scale,
                              _window(vertical, 2, o, x, window) * scale, steps[m], n_angle, strength_squared,
                              coherence_low, coherence_high)
                f = filters[key]
                acc0 = np.float32(0.0)
                acc1 = np.float32(0.0)
                acc2 = np.float32(0.0)
                inside = r <= x < width - r
                for i in range(k):
                    row = rgb[min(max(y + i - r, 0), height - 1)]
                    if inside:
                        for j in range(k):
                            w = f[i * k + j]
                            xx = x + j - r
                            acc0 += w * row[xx, 0]
                            acc1 += w * row[xx, 1]
                            acc2 += w * row[xx, 2]
                    else:
                        for j in range(k):
                            w = f[i * k + j]
                            xx = min(max(x + j - r, 0), width - 1)
                            acc0 += w * row[xx, 0]
                            acc1 += w * row[xx, 1]
                            acc2 += w * row[xx, 2]
                t = tap_sums[key]
                out[y, x, 0] = c0 + acc0 - c0 * t
                out[y, x, 1] = c1 + acc1 - c1 * t
                out[y, x, 2] = c2 + acc2 - c2 * t
    return out


# --- FXAA ---------------------------------------------------------------------------------------------------
# Timothy Lottes' FXAA 3.11 "quality" pixel shader, ported from its published description to a CPU loop:
# an early exit on low local contrast, the edge's orientation from 3x3 second differences, a search along
# the edge for its two ends, and a blend toward the neighbour across the edge by the position along the
# span (plus a sub-pixel term for isolated pixels). The search steps are those of quality preset 12.

_FXAA_STEPS = np.array([1.0, 1.5, 2.0, 2.0, 2.0, 2.0, 4.0, 8.0], np.float32)


@njit(cache=True, fastmath=True)
def _at(luma, y, x):  # pragma: no cover
    height, width = luma.shape
    return luma[min(max(y, 0), height - 1), min(max(x, 0), width - 1)]


@njit(cache=True, fastmath=True)
def _bilinear(luma, y, x):  # pragma: no cover
    y0 = int(math.floor(y))
    x0 = int(math.floor(x))
    fy = y - y0
    fx = x - x0
    top = _at(luma, y0, x0) * (1 - fx) + _at(luma, y0, x0 + 1) * fx
    bottom = _at(luma, y0 + 1, x0) * (1 - fx) + _at(luma, y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy


@njit(cache=True, fastmath=True)
def _fxaa_pixel(rgb, luma, row, col, edge_threshold, edge_threshold_min, subpix, steps, out):  # pragma: no cover
    height, width = luma.shape
    up = max(row - 1, 0)
    down = min(row + 1, height - 1)
    left = max(col - 1, 0)
    right = min(col + 1, width - 1)
    m = luma[row, col]
    n = luma[up, col]
    s = luma[down, col]
    w = luma[row, left]
    e = luma[row, right]
    range_max = max(max(max(n, s), max(w, e)), m)
    range_min = min(min(min(n, s), min(w, e)), m)
    contrast = range_max - range_min
    if contrast < max(edge_threshold_min, range_max * edge_threshold):
        for ch in range(3):
            out[row, col, ch] = rgb[row, col, ch]
        return
    nw = luma[up, left]
    ne = luma[up, right]
    sw = luma[down, left]
    se = luma[down, right]
    edge_h = (abs(nw + sw - 2 * w) + 2 * abs(n + s - 2 * m) + abs(ne + se - 2 * e))
    edge_v = (abs(nw + ne - 2 * n) + 2 * abs(w + e - 2 * m) + abs(sw + se - 2 * s))
    horizontal = edge_h >= edge_v  # the edge runs along col: blend across it, in row
    if horizontal:
        luma_neg, luma_pos = n, s
    else:
        luma_neg, luma_pos = w, e
    gradient_neg = abs(luma_neg - m)
    gradient_pos = abs(luma_pos - m)
    # sub-pixel aliasing: how far the centre is from its 3x3 low-pass
    average = (2 * (n + s + w + e) + (nw + ne + sw + se)) / 12
    sub = min(max(abs(average - m) / contrast, 0.0), 1.0)
    sub = (-2 * sub + 3) * sub * sub
    sub = sub * sub * subpix
    if gradient_neg >= gradient_pos:
        sign = -1.0
        other = luma_neg
        gradient = gradient_neg
    else:
        sign = 1.0
        other = luma_pos
        gradient = gradient_pos
    local = 0.5 * (other + m)  # luma on the edge itself, half a pixel toward ``other``
    scaled = 0.25 * gradient
    # walk along the edge, half a pixel off the centre toward ``other``
    if horizontal:
        py, px = row + 0.5 * sign, col + 0.0
        dy, dx = 0.0, 1.0
    else:
        py, px = row + 0.0, col + 0.5 * sign
        dy, dx = 1.0, 0.0
    dist_n = 0.0
    dist_p = 0.0
    end_n = 0.0
    end_p = 0.0
    done_n = False
    done_p = False
    for step in steps:
        if not done_n:
            dist_n += step
            end_n = _bilinear(luma, py - dy * dist_n, px - dx * dist_n) - local
            done_n = abs(end_n) >= scaled
        if not done_p:
            dist_p += step
            end_p = _bilinear(luma, py + dy * dist_p, px + dx * dist_p) - local
            done_p = abs(end_p) >= scaled
        if done_n and done_p:
            break
    centre_below = (m - local) < 0
    if dist_n < dist_p:
        good = (end_n < 0) != centre_below
        nearest = dist_n
    else:
        good = (end_p < 0) != centre_below
        nearest = dist_p
    offset = (0.5 - nearest / (dist_n + dist_p)) if good else 0.0
    offset = max(offset, sub)
    step_to = 1 if sign > 0 else -1
    ny = min(max(row + step_to, 0), height - 1) if horizontal else row
    nx = col if horizontal else min(max(col + step_to, 0), width - 1)
    for ch in range(3):
        out[row, col, ch] = rgb[row, col, ch] * (1 - offset) + rgb[ny, nx, ch] * offset


@njit(parallel=True, cache=True, fastmath=True)
def fxaa(rgb, luma, edge_threshold, edge_threshold_min, subpix, steps):  # pragma: no cover  (compiled)
    """FXAA of float32 HxWx3 ``rgb`` with its luma plane; thresholds as FXAA's (defaults 1/6, 1/12, 0.75)."""
    height, width = luma.shape
    out = np.empty_like(rgb)
    for row in prange(height):
        for col in range(width):
            _fxaa_pixel(rgb, luma, np.int64(row), np.int64(col), edge_threshold, edge_threshold_min, subpix, steps, out)
    return out


FXAA_STEPS = _FXAA_STEPS
