"""OpenCV's Telea (fast marching) and Navier-Stokes inpainting, wrapped for contract images.

``cv2.inpaint`` takes 3-channel images only as 8-bit, so the image goes through 8 bits; only the filled pixels
are kept (``api.inpaint`` pastes them into the untouched input), so nothing outside the mask is quantised.
"""

from __future__ import annotations

import numpy as np

from acutance.contract import to_uint
from acutance.errors import OptionError


def inpaint_classical(rgb: np.ndarray, fill: np.ndarray, method: str, radius: float = 3.0) -> np.ndarray:
    """float32 HxWx3 with the ``fill`` pixels inpainted by ``telea`` or ``ns`` (radius in pixels)."""
    import cv2

    if not radius > 0:
        raise OptionError(f"the inpainting radius must be > 0, got {radius}")
    flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    out = cv2.inpaint(to_uint(rgb, 8), fill.astype(np.uint8), float(radius), flag)
    return out.astype(np.float32) / np.float32(255.0)
