"""Unsharp mask, FFmpeg ``unsharp`` / GIMP style: ``out = in + amount * (in - blur(in))``."""

from __future__ import annotations

import math

import cv2
import numpy as np

from acutance.contract import check_rgb
from acutance.errors import OptionError


def usm_reach(radius: float) -> int:
    """Pixels on each side that the blur of ``radius`` reads: the Gaussian is cut at 3 sigma."""
    return max(1, math.ceil(3.0 * radius))


def unsharp_mask(rgb: np.ndarray, amount: float = 0.5, radius: float = 1.0, threshold: float = 0.0) -> np.ndarray:
    """Sharpen float32 HxWx3 RGB in [0, 1] by adding back ``amount`` times its high-pass.

    radius: sigma of the Gaussian blur in pixels (kernel cut at 3 sigma, borders mirrored as
        OpenCV's BORDER_REFLECT_101).
    threshold: in [0, 1] units; a channel is sharpened only where ``|in - blur| > threshold`` (GIMP's
        threshold), which leaves noise and flat areas alone.
    amount 0 returns an exact copy. Result clipped to [0, 1].
    """
    check_rgb(rgb)
    if not (math.isfinite(amount) and amount >= 0):
        raise OptionError(f"USM amount must be >= 0, got {amount}")
    if not (math.isfinite(radius) and radius > 0):
        raise OptionError(f"USM radius must be > 0, got {radius}")
    if not (math.isfinite(threshold) and 0 <= threshold <= 1):
        raise OptionError(f"USM threshold must be in [0, 1], got {threshold}")
    if amount == 0:
        return rgb.copy()
    size = 2 * usm_reach(radius) + 1
    detail = rgb - cv2.GaussianBlur(rgb, (size, size), sigmaX=radius, sigmaY=radius)
    if threshold > 0:
        detail[np.abs(detail) <= threshold] = 0.0
    out = rgb + np.float32(amount) * detail
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)
