"""AMD FidelityFX Contrast Adaptive Sharpening (CAS): one fused numba pass.

Method by AMD (FidelityFX CAS, MIT licence); this implementation is ours (Apache-2.0), written from the
published description. Per pixel and per channel, with the 3x3 neighbourhood ``a b c / d e f / g h i``:

* "soft" minimum and maximum, as FidelityFX's ``CAS_BETTER_DIAGONALS`` option computes them: the min of the
  cross (b, d, e, f, h) plus the min of the whole 3x3 box, likewise for the max (both in [0, 2]);
* ``amp = sqrt(clip(min(mn, 2 - mx) / mx, 0, 1))``: how far the neighbourhood is from clipping; flat or
  low-contrast areas get a large amp, strong edges a small one;
* ``w = amp * peak`` with ``peak = -1 / lerp(8, 5, sharpness)`` = ``-1 / (8 - 3 sharpness)``;
* ``out = (w (b + d + f + h) + e) / (1 + 4 w)``.

The formula alone can overshoot a little on some edges; FidelityFX only saturates to [0, 1]. Here the
result is also clipped to the pixel's own 3x3 [min, max] (per channel), so CAS never creates halos or new
extrema. Borders replicate the edge pixel (texture clamp). Reach: 1 pixel.

Speed: everything above is one numba kernel over the rows (``prange``), float32 throughout, reading each
row as a flat ``W * 3`` line so the inner loop vectorises; it uses numba's thread pool (``numba.
set_num_threads`` caps it). The first call in a fresh environment compiles the kernel (a few seconds) and
caches it beside this file (``cache=True``); later processes load the cache. Measured in
``benchmarks/results/filter_speed.md``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from acutance.contract import check_rgb
from acutance.errors import OptionError
from acutance.resize import imresize


def _check_sharpness(sharpness: float) -> None:
    if not (math.isfinite(sharpness) and 0 <= sharpness <= 1):
        raise OptionError(f"CAS sharpness must be in [0, 1], got {sharpness}")


@njit(fastmath=False, cache=True, inline="always")
def _cas_value(a, b, c, d, e, f, g, h, i, peak):  # noqa: PLR0913  (the 3x3 neighbourhood, row by row)
    zero, one, two, four = np.float32(0.0), np.float32(1.0), np.float32(2.0), np.float32(4.0)
    cross_min = min(min(min(b, d), min(e, f)), h)
    cross_max = max(max(max(b, d), max(e, f)), h)
    box_min = min(cross_min, min(min(a, c), min(g, i)))
    box_max = max(cross_max, max(max(a, c), max(g, i)))
    soft_min = cross_min + box_min
    soft_max = cross_max + box_max  # both in [0, 2]
    ratio = min(soft_min, two - soft_max) / soft_max if soft_max > zero else zero
    amp = np.sqrt(min(max(ratio, zero), one))
    weight = amp * peak  # in [-1/5, 0]: 1 + 4 w >= 0.2
    out = (weight * (((b + d) + f) + h) + e) / (one + four * weight)
    out = min(max(out, box_min), box_max)  # never outside the pixel's own 3x3 range
    return min(max(out, zero), one)


@njit(parallel=True, fastmath=False, cache=True)
def _cas_kernel(rgb, peak, out):  # pragma: no cover  (compiled)
    """``rgb`` and ``out`` as H x (W * 3) float32: the left/right neighbours are 3 apart."""
    height, length = rgb.shape
    for y in prange(height):
        up, row, down = rgb[max(y - 1, 0)], rgb[y], rgb[min(y + 1, height - 1)]
        line = out[y]
        for j in range(min(3, length)):  # first pixel: left neighbour clamped
            r = j + 3 if j + 3 < length else j
            line[j] = _cas_value(up[j], up[j], up[r], row[j], row[j], row[r], down[j], down[j], down[r], peak)
        for index in range(3, length - 3):
            # Unsigned indices: numba then skips its negative-index wraparound, which blocks vectorising.
            j, left, right = np.uint64(index), np.uint64(index - 3), np.uint64(index + 3)
            line[j] = _cas_value(
                up[left], up[j], up[right],
                row[left], row[j], row[right],
                down[left], down[j], down[right],
                peak,
            )  # fmt: skip
        for j in range(max(length - 3, 3), length):  # last pixel: right neighbour clamped
            line[j] = _cas_value(
                up[j - 3], up[j], up[j], row[j - 3], row[j], row[j], down[j - 3], down[j], down[j], peak
            )


def contrast_adaptive_sharpen(rgb: np.ndarray, sharpness: float = 0.5) -> np.ndarray:
    """CAS on float32 HxWx3 RGB in [0, 1]; ``sharpness`` in [0, 1] (0 still sharpens a little)."""
    check_rgb(rgb)
    _check_sharpness(sharpness)
    height, width = rgb.shape[:2]
    flat = np.ascontiguousarray(rgb).reshape(height, width * 3)
    out = np.empty_like(flat)
    _cas_kernel(flat, np.float32(-1.0 / (8.0 - 3.0 * sharpness)), out)
    return out.reshape(height, width, 3)


def _bicubic(rgb: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB bicubic resize clipped to [0, 1], in place when imresize returned a new array (it does
    unless the scale is 1): one 1080p copy less per frame."""
    upscaled = imresize(rgb, scale, method="bicubic")
    if np.shares_memory(upscaled, rgb):
        upscaled = upscaled.copy()
    return np.clip(upscaled, 0.0, 1.0, out=upscaled)


def cas_upscale(rgb: np.ndarray, scale: float, sharpness: float = 0.5) -> np.ndarray:
    """MATLAB bicubic upscale by ``scale``, then CAS at the output size.

    This approximates FidelityFX's scaling variant, which blends the CAS results of the 4 nearest input
    pixels per output pixel instead of resampling first; results are close but not identical.
    """
    check_rgb(rgb)
    _check_sharpness(sharpness)
    upscaled = _bicubic(rgb, scale)
    return contrast_adaptive_sharpen(upscaled, sharpness)
