"""Resizing modes of the degradation model: area, bilinear and bicubic (as PyTorch's ``F.interpolate``,
which Real-ESRGAN uses: half-pixel centres, no antialiasing, bicubic a = -0.75) and MATLAB bicubic.
"""

from __future__ import annotations

import cv2
import numpy as np

from acutance.errors import OptionError

RESIZE_MODES = ("area", "bilinear", "bicubic", "matlab_bicubic")
_OPENCV = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}


def resize(image: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """Resize an HxWxC float32 image to ``size = (height, width)``, up or down, with ``mode``.

    ``matlab_bicubic`` is MATLAB ``imresize`` (antialiased when shrinking, the SR test-set convention);
    the other modes do not antialias, which is part of the aliasing the model means to synthesise.
    """
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise OptionError(f"resize target must be at least 1x1, got {height}x{width}")
    if mode not in RESIZE_MODES:
        raise OptionError(f"unknown resize mode {mode!r}; choose one of {', '.join(RESIZE_MODES)}")
    if image.shape[:2] == (height, width):
        return image
    if mode == "matlab_bicubic":
        from acutance.resize import imresize

        return imresize(image, size=(height, width), method="bicubic")
    out = cv2.resize(image, (width, height), interpolation=_OPENCV[mode])
    return out.reshape(height, width, *image.shape[2:])
