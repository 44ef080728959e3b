"""The two classical baselines of anti-aliasing: FXAA-style post-process AA, and a plain Gaussian blur.

No maintained Python library offers FXAA, so ``fxaa`` is ours (``kernels.fxaa``: FXAA 3.11 "quality" from its
published description, edge-directed blending along the edge's span). ``gaussian`` is the blur of matched
softness: its sigma is chosen so that its 10-90% edge width on slanted edges equals the anti-aliased
reference's (``measure.match_blur_sigma``; the value the shipped model was trained beside is in its meta).
"""

from __future__ import annotations

import cv2
import numpy as np

from acutance.contract import check_rgb
from acutance.errors import OptionError

# FXAA 3.11's defaults: edge threshold 1/6 of the local maximum luma, at least 1/12, sub-pixel 0.75
FXAA_DEFAULTS = {"edge_threshold": 0.166, "edge_threshold_min": 0.0833, "subpix": 0.75}


def fxaa(rgb: np.ndarray, edge_threshold: float = 0.166, edge_threshold_min: float = 0.0833,
         subpix: float = 0.75) -> np.ndarray:
    """FXAA-style anti-aliasing of float32 HxWx3 RGB in [0, 1] (same size; a convex blend of neighbours)."""
    from acutance.antialias import kernels
    from acutance.antialias.model import LUMA

    check_rgb(rgb)
    if not (0 < edge_threshold <= 1 and 0 <= edge_threshold_min <= 1 and 0 <= subpix <= 1):
        raise OptionError("FXAA thresholds and sub-pixel amount must lie in [0, 1]")
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    luma = np.ascontiguousarray(rgb @ LUMA)
    return kernels.fxaa(rgb, luma, np.float32(edge_threshold), np.float32(edge_threshold_min), np.float32(subpix),
                        kernels.FXAA_STEPS)


def blur_reach(sigma: float) -> int:
    """Pixels a Gaussian of ``sigma`` reads on each side (its kernel is cut at 3 sigma)."""
    return max(1, int(np.ceil(3.0 * sigma)))


def gaussian(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """A plain Gaussian blur (OpenCV, edge pixels repeated) of float32 HxWx3 RGB."""
    check_rgb(rgb)
    if not (np.isfinite(sigma) and 0 < sigma <= 10):
        raise OptionError(f"blur sigma must be in (0, 10], got {sigma}")
    size = 2 * blur_reach(sigma) + 1
    return cv2.GaussianBlur(np.ascontiguousarray(rgb, dtype=np.float32), (size, size), sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REPLICATE)
