"""BT.601 studio-range YCbCr exactly as MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb`` on double input.

All values are on the [0, 1] scale: Y lies in [16/255, 235/255], Cb and Cr in [16/255, 240/255].
Nothing is rounded; metrics that want MATLAB's 0-255 Y multiply by 255.
"""

from __future__ import annotations

import numpy as np

# MATLAB's rgb2ycbcr matrix, for RGB in [0, 1] and YCbCr in [0, 255].
_RGB_TO_YCBCR = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=np.float64
)
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
# MATLAB's rgb2gray weights (the luminance row of rgb2ntsc's inverse, as MATLAB rounds it).
_GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103], dtype=np.float64)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """float HxWx3 RGB in [0, 1] -> float32 HxWx3 YCbCr in [0, 1] (MATLAB ``rgb2ycbcr`` / 255)."""
    ycc = (np.asarray(rgb, dtype=np.float64) @ _RGB_TO_YCBCR.T + _OFFSET) / 255.0
    return ycc.astype(np.float32)


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """float HxWx3 YCbCr in [0, 1] -> float32 HxWx3 RGB (MATLAB ``ycbcr2rgb``; not clipped)."""
    rgb = (np.asarray(ycbcr, dtype=np.float64) * 255.0 - _OFFSET) @ _YCBCR_TO_RGB.T
    return rgb.astype(np.float32)


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """float HxWx3 RGB in [0, 1] -> float64 HxW luma Y in [16/255, 235/255], as ``rgb2ycbcr(:,:,1)``.

    float64 because metrics accumulate squared errors on it.
    """
    return (np.asarray(rgb, dtype=np.float64) @ _RGB_TO_YCBCR[0] + _OFFSET[0]) / 255.0


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """float HxWx3 RGB in [0, 1] -> float64 HxW luminance, as MATLAB ``rgb2gray`` on double input."""
    return np.asarray(rgb, dtype=np.float64) @ _GRAY
