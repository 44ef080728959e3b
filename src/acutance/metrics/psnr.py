"""Peak signal-to-noise ratio on the 0-255 scale, and the channel selection all fidelity metrics share.

Conventions (METHODS.md): images are float32 HxWx3 RGB in [0, 1]; metrics work in float64 on the 0-255
scale; ``y_channel`` is MATLAB ``rgb2ycbcr`` Y (not rounded), ``gray`` is MATLAB ``rgb2gray`` luminance,
neither means all three RGB channels; ``crop_border`` pixels are removed from every side first.

A single-channel image (float32 HxW) is its own luminance: MATLAB evaluation scripts apply ``rgb2ycbcr`` only
to 3-channel images, so ``y_channel`` and ``gray`` leave it as it is. The published Set14 figures depend on
this (``bridge`` is a grayscale file; scaling it to Y's 16-235 range would add 1.3 dB to that image).
"""

from __future__ import annotations

import math

import numpy as np

from acutance.color.ycbcr import rgb_to_gray, rgb_to_y
from acutance.contract import check_rgb
from acutance.errors import OptionError

PEAK = 255.0


def prepare_channels(
    ref: np.ndarray, dist: np.ndarray, *, crop_border: int = 0, y_channel: bool = False, gray: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Check a ref/dist pair and return both as float64 HxWxC on the 0-255 scale (C = 1 or 3).

    Raises ``OptionError`` for a shape mismatch, a bad ``crop_border``, or ``y_channel`` with ``gray``.
    """
    single = ref.ndim == 2
    for image, name in ((ref, "reference image"), (dist, "distorted image")):
        if single and image.ndim == 2 and image.dtype == np.float32:
            continue
        check_rgb(image, name)
    if ref.shape != dist.shape:
        raise OptionError(f"reference and distorted images differ in size: {ref.shape} vs {dist.shape}")
    if y_channel and gray:
        raise OptionError("choose at most one of y_channel and gray")
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise OptionError(f"crop_border must be a non-negative integer, got {crop_border!r}")
    height, width = ref.shape[:2]
    if 2 * crop_border >= min(height, width):
        raise OptionError(f"crop_border={crop_border} leaves nothing of a {height}x{width} image")
    if crop_border:
        ref = ref[crop_border:-crop_border, crop_border:-crop_border]
        dist = dist[crop_border:-crop_border, crop_border:-crop_border]
    if single:
        return ref[..., None].astype(np.float64) * PEAK, dist[..., None].astype(np.float64) * PEAK
    if y_channel:
        return rgb_to_y(ref)[..., None] * PEAK, rgb_to_y(dist)[..., None] * PEAK
    if gray:
        return rgb_to_gray(ref)[..., None] * PEAK, rgb_to_gray(dist)[..., None] * PEAK
    return ref.astype(np.float64) * PEAK, dist.astype(np.float64) * PEAK


def psnr(
    ref: np.ndarray, dist: np.ndarray, *, crop_border: int = 0, y_channel: bool = False, gray: bool = False
) -> float:
    """PSNR in dB with peak 255: ``10 log10(255^2 / MSE)``, MSE over all pixels and selected channels.

    Identical images give ``inf``. Matches ``skimage.metrics.peak_signal_noise_ratio`` on uint8 RGB.
    """
    a, b = prepare_channels(ref, dist, crop_border=crop_border, y_channel=y_channel, gray=gray)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(PEAK * PEAK / mse)
