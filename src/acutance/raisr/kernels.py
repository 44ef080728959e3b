"""Compiled per-pixel kernels of the hashed filters (numba): bucket keys and filter application.

Plain convolutions stay in OpenCV (gradients, Gaussian windows); what is per-pixel logic (eigen-analysis and
quantisation of the structure tensor, a different filter at every pixel) runs here, parallel over rows.
Every kernel takes C-contiguous float32 arrays and returns new arrays; ``numba`` caches the machine code on
disk, so only the very first call in a fresh install pays the compile time (a few seconds).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_EPS = 1e-12


@njit(inline="always", fastmath=True)
def _atan2(y, x):  # pragma: no cover
    """atan2 in float32 by octant reduction and a minimax polynomial (error < 1e-5 rad): 2-3x faster."""
    ax, ay = abs(x), abs(y)
    a = min(ax, ay) / (max(ax, ay) + np.float32(1e-30))
    s = a * a
    r = ((np.float32(-0.0464964749) * s + np.float32(0.15931422)) * s - np.float32(0.327622764)) * s * a + a
    if ay > ax:
        r = np.float32(1.57079637) - r
    if x < 0:
        r = np.float32(3.14159274) - r
    if y < 0:
        r = -r
    return r


@njit(parallel=True, cache=True, fastmath=True)
def bucket_keys(gxx, gxy, gyy, n_angle, strength_squared, coherence_low, coherence_high, period):  # pragma: no cover
    """Bucket of every pixel from the windowed structure tensor (float32 HxW each) -> int32 HxW.

    The features of ``hashing.structure_features``, compared without their square roots: strength
    sqrt(l1) >= t  <=>  l1 >= t^2 (``strength_squared``), coherence (sqrt(l1) - sqrt(l2)) / (sqrt(l1) + sqrt(l2))
    > t  <=>  l1 (1 - t)^2 > l2 (1 + t)^2 (``coherence_low``, ``coherence_high``); the angle from a fast
    float32 atan2 of the doubled-angle vector. A pixel within float rounding of a bin edge may land in the
    neighbouring bin (about 2 in 10^4 against the float64 reference); training and inference both hash
    here, so they agree exactly. Then ``key * period^2 + pixel type``.
    """
    height, width = gxx.shape
    n_strength = strength_squared.shape[0] + 1
    n_coherence = coherence_low.shape[0] + 1
    n_types = period * period
    to_bin = np.float32(n_angle / (2.0 * math.pi))
    half = np.float32(0.5)
    zero = np.float32(0.0)
    two_pi = np.float32(2.0 * math.pi)
    out = np.empty((height, width), np.int32)
    for y in prange(height):
        row_type = (y % period) * period
        for x in range(width):
            a = gxx[y, x]
            b = gxy[y, x]
            c = gyy[y, x]
            half_trace = half * (a + c)
            d = half * (a - c)
            root = math.sqrt(d * d + b * b)
            l1 = max(half_trace + root, zero)
            l2 = max(half_trace - root, zero)
            phi = _atan2(np.float32(2.0) * b, a - c)  # twice the dominant direction, in (-pi, pi]
            if phi < zero:
                phi += two_pi
            angle = min(int(phi * to_bin), n_angle - 1)
            s_bin = 0
            for t in range(strength_squared.shape[0]):
                s_bin += l1 >= strength_squared[t]
            c_bin = 0
            for t in range(coherence_low.shape[0]):
                c_bin += l1 * coherence_low[t] > l2 * coherence_high[t]
            key = (angle * n_strength + s_bin) * n_coherence + c_bin
            out[y, x] = key * n_types + row_type + x % period
    return out


@njit(parallel=True, cache=True, fastmath=True)
def filter_same(padded, buckets, filters, sums, k, base):  # pragma: no cover
    """out[y, x] = base[y, x] + <k x k patch at (y, x) minus its centre pixel, filters[buckets[y, x]]>.

    The patch is taken relative to its centre so a filter never shifts a flat area (the residual does not
    depend on the brightness or colour level). padded: float32 (H + k - 1) x (W + k - 1), the layer input
    mirrored by k // 2; filters: (n, k*k) float32; sums: (n,) float32, each filter's tap sum.
    """
    height, width = buckets.shape
    out = np.empty((height, width), np.float32)
    r = k // 2
    for y in prange(height):
        for x in range(width):
            b = buckets[y, x]
            f = filters[b]
            acc = np.float32(0.0)
            for i in range(k):
                row = padded[y + i]
                for j in range(k):
                    acc += row[x + j] * f[i * k + j]
            out[y, x] = base[y, x] + acc - padded[y + r, x + r] * sums[b]
    return out


@njit(parallel=True, cache=True, fastmath=True)
def filter_shuffle(padded, buckets, filters, k, scale, base):  # pragma: no cover
    """Filter-then-pixel-shuffle: every LR pixel writes its scale x scale block of the HR output.

    out[s*y + dy, s*x + dx] = base[...] + <k x k LR patch at (y, x) minus its centre, filters[b, dy*s + dx]>
    with b = buckets[y, x]; padded: the LR input mirrored by k // 2; filters: (n, s*s, k*k) float32; base: the
    HR bicubic plane.
    """
    height, width = buckets.shape
    out = np.empty_like(base)
    n_out = scale * scale
    kk = k * k
    r = k // 2
    for y in prange(height):
        patch = np.empty(kk, np.float32)
        for x in range(width):
            centre = padded[y + r, x + r]
            for i in range(k):
                for j in range(k):
                    patch[i * k + j] = padded[y + i, x + j] - centre
            bank = filters[buckets[y, x]]
            for o in range(n_out):
                f = bank[o]
                acc = np.float32(0.0)
                for m in range(kk):
                    acc += patch[m] * f[m]
                yy = y * scale + o // scale
                xx = x * scale + o % scale
                out[yy, xx] = base[yy, xx] + acc
    return out
