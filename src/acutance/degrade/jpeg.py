"""Real JPEG compression through an actual encoder (libjpeg via OpenCV), not a differentiable imitation."""

from __future__ import annotations

import cv2
import numpy as np

from acutance.errors import OptionError


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode the float32 RGB image as a baseline JPEG (4:2:0 chroma) at ``quality`` 1..100 and decode it.

    The input is clipped and rounded to 8 bit first, as any real file would be.
    """
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise OptionError(f"JPEG quality must be an integer in 1..100, got {quality!r}")
    pixels = np.clip(np.rint(image * np.float32(255.0)), 0, 255).astype(np.uint8)
    bgr = np.ascontiguousarray(pixels[:, :, ::-1])
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OptionError(f"JPEG encoding failed for an image of shape {image.shape}")
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return decoded[:, :, ::-1].astype(np.float32) * np.float32(1.0 / 255.0)
