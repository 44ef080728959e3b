"""The unsharp mask Real-ESRGAN applies to HR targets before degrading them (radius 50, weight 0.5,
threshold 10 on the 0-255 scale), with a soft mask so that flat areas and noise are left alone.

Unlike ``acutance.filters.usm`` (GIMP's hard threshold per pixel), the sharpened image is blended in through
a blurred version of the threshold mask, which avoids halos where the mask switches on and off.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from acutance.contract import check_rgb
from acutance.errors import OptionError


def soft_unsharp_mask(image: np.ndarray, *, radius: int = 50, weight: float = 0.5, threshold: float = 10.0) -> np.ndarray:
    """Sharpen float32 HxWx3 RGB in [0, 1]: ``mask * clip(img + weight * (img - blur)) + (1 - mask) * img``.

    radius: Gaussian window side (made odd; sigma as OpenCV derives it from the window, 8 px for 51).
    threshold: a pixel's channel counts as detail where ``|img - blur| * 255 > threshold``; the 0/1 mask is
        blurred with the same Gaussian to give the blending weight.
    """
    check_rgb(image, "HR image")
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise OptionError(f"USM radius must be a positive integer, got {radius!r}")
    if not (math.isfinite(weight) and weight >= 0):
        raise OptionError(f"USM weight must be >= 0, got {weight!r}")
    if not (math.isfinite(threshold) and threshold >= 0):
        raise OptionError(f"USM threshold must be >= 0 (0-255 scale), got {threshold!r}")
    size = radius if radius % 2 else radius + 1
    blur = cv2.GaussianBlur(image, (size, size), 0)
    residual = image - blur
    mask = (np.abs(residual) * np.float32(255.0) > np.float32(threshold)).astype(np.float32)
    soft = cv2.GaussianBlur(mask, (size, size), 0)
    sharp = np.clip(image + np.float32(weight) * residual, 0.0, 1.0)
    return (soft * sharp + (1.0 - soft) * image).astype(np.float32, copy=False)
