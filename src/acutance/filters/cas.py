"""AMD FidelityFX Contrast Adaptive Sharpening (CAS), vectorised in numpy.

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
"""

from __future__ import annotations

import math

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import OptionError
from acutance.resize import imresize


def _check_sharpness(sharpness: float) -> None:
    if not (math.isfinite(sharpness) and 0 <= sharpness <= 1):
        raise OptionError(f"CAS sharpness must be in [0, 1], got {sharpness}")


def contrast_adaptive_sharpen(rgb: np.ndarray, sharpness: float = 0.5) -> np.ndarray:
    """CAS on float32 HxWx3 RGB in [0, 1]; ``sharpness`` in [0, 1] (0 still sharpens a little)."""
    check_rgb(rgb)
    _check_sharpness(sharpness)
    height, width = rgb.shape[:2]
    padded = np.pad(rgb, ((1, 1), (1, 1), (0, 0)), mode="edge")

    def at(dy: int, dx: int) -> np.ndarray:  # the neighbour at offset (dy, dx), for every pixel at once
        return padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]

    north, west, east, south = at(-1, 0), at(0, -1), at(0, 1), at(1, 0)
    corners = (at(-1, -1), at(-1, 1), at(1, -1), at(1, 1))
    cross_min = np.minimum.reduce([north, west, rgb, east, south])
    cross_max = np.maximum.reduce([north, west, rgb, east, south])
    box_min = np.minimum(cross_min, np.minimum.reduce(corners))
    box_max = np.maximum(cross_max, np.maximum.reduce(corners))
    soft_min, soft_max = cross_min + box_min, cross_max + box_max  # both in [0, 2]

    ratio = np.divide(
        np.minimum(soft_min, 2.0 - soft_max), soft_max, out=np.zeros_like(soft_max), where=soft_max > 0
    )
    amp = np.sqrt(np.clip(ratio, 0.0, 1.0))
    weight = amp * np.float32(-1.0 / (8.0 - 3.0 * sharpness))  # in [-1/5, 0]: 1 + 4 w >= 0.2
    out = (weight * (north + west + east + south) + rgb) / (1.0 + 4.0 * weight)
    out = np.clip(out, box_min, box_max)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def cas_upscale(rgb: np.ndarray, scale: float, sharpness: float = 0.5) -> np.ndarray:
    """MATLAB bicubic upscale by ``scale``, then CAS at the output size.

    This approximates FidelityFX's scaling variant, which blends the CAS results of the 4 nearest input
    pixels per output pixel instead of resampling first; results are close but not identical.
    """
    check_rgb(rgb)
    _check_sharpness(sharpness)
    upscaled = np.clip(imresize(rgb, scale, method="bicubic"), 0.0, 1.0).astype(np.float32, copy=False)
    return contrast_adaptive_sharpen(upscaled, sharpness)
