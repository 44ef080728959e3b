"""What real distribution does to an image, as seeded pure functions (float32 HxWx3 RGB in [0, 1] -> same).

The robustness benchmark and the tests run every method through these, so a claim like "survives JPEG 50"
means the same thing for ours and for imwatermark's. JPEG and WebP are real codecs (Pillow: libjpeg with 4:2:0
chroma, libwebp), not simulations.
"""

from __future__ import annotations

import io
from typing import Callable

import cv2
import numpy as np
from PIL import Image as PILImage

Attack = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _to_pil(rgb: np.ndarray) -> PILImage.Image:
    return PILImage.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))


def _from_pil(pil: PILImage.Image) -> np.ndarray:
    return np.asarray(pil.convert("RGB"), np.float32) / np.float32(255)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    _to_pil(rgb).save(buffer, "JPEG", quality=quality, subsampling=2)  # 4:2:0, what cameras and sites use
    return _from_pil(PILImage.open(buffer))


def webp(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    _to_pil(rgb).save(buffer, "WEBP", quality=quality)
    return _from_pil(PILImage.open(buffer))


def resize(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Area averaging when shrinking (what browsers and thumbnailers do), bicubic when enlarging."""
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return np.clip(cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=method), 0, 1)


def crop(rgb: np.ndarray, area: float, rng: np.random.Generator) -> np.ndarray:
    """A crop keeping ``area`` of the image (same aspect), at a random offset."""
    height, width = rgb.shape[:2]
    side = float(np.sqrt(area))
    ch, cw = int(round(height * side)), int(round(width * side))
    y, x = rng.integers(0, height - ch + 1), rng.integers(0, width - cw + 1)
    return np.ascontiguousarray(rgb[y : y + ch, x : x + cw])


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Rotation about the centre, same canvas (corners black), bilinear."""
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR)


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def noise(rgb: np.ndarray, sigma255: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(rgb + rng.normal(0, sigma255 / 255, rgb.shape).astype(np.float32), 0, 1)


def brightness(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb * np.float32(factor), 0, 1)


def screenshot(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A screenshot of a page showing the image: shown at 80%, captured, saved as JPEG 85, then trimmed."""
    return crop(jpeg(resize(rgb, 0.8), 85), 0.8, rng)


# The robustness table's attacks, in its order.
ATTACKS: dict[str, Attack] = {
    "none": lambda x, r: x,
    "jpeg90": lambda x, r: jpeg(x, 90),
    "jpeg75": lambda x, r: jpeg(x, 75),
    "jpeg50": lambda x, r: jpeg(x, 50),
    "webp75": lambda x, r: webp(x, 75),
    "resize0.5": lambda x, r: resize(x, 0.5),
    "resize0.75": lambda x, r: resize(x, 0.75),
    "resize1.5": lambda x, r: resize(x, 1.5),
    "crop50": lambda x, r: crop(x, 0.5, r),
    "rotate+5": lambda x, r: rotate(x, 5),
    "rotate-5": lambda x, r: rotate(x, -5),
    "blur1": lambda x, r: blur(x, 1.0),
    "noise5": lambda x, r: noise(x, 5, r),
    "bright+20": lambda x, r: brightness(x, 1.2),
    "bright-20": lambda x, r: brightness(x, 0.8),
    "screenshot": screenshot,
}
