"""Automatic colour enhancement: an image-adaptive saturation and contrast adjustment, and the plain global
saturation boost it is compared with.

After the idea of "Color Image Enhancement with Saturation Adjustment Method" (in the user's notes): raise
saturation by an amount that depends on the image and on each pixel's own saturation, so dull images gain more
than vivid ones and nothing is pushed into clipping. In HSV (OpenCV): ``S' = S + k S (1 - S)`` leaves grey
(S = 0) and fully saturated pixels (S = 1) where they are and lifts the middle most; ``k`` grows as the image's
mean saturation falls below ``TARGET_SATURATION``. Contrast: the value channel is stretched between its 0.5 and
99.5 percentiles (the gain capped at ``MAX_STRETCH``), so a washed-out image regains its range and a full-range
one is untouched. A plain boost (``S' = min(1, gain S)``) clips saturated colours instead.
"""

from __future__ import annotations

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import OptionError

TARGET_SATURATION = 0.45
MAX_GAIN = 1.5  # k at a grey image
MAX_STRETCH = 1.5


def _hsv(rgb):
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)  # float32: H 0..360, S, V 0..1


def _rgb(hsv):
    import cv2

    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0, 1)


def auto_colour(rgb: np.ndarray, amount: float = 1.0) -> np.ndarray:
    """The adaptive saturation and contrast enhancement; ``amount`` 0 = unchanged, 1 = full."""
    check_rgb(rgb)
    if not 0 <= amount <= 2:
        raise OptionError(f"--amount must be in 0..2, got {amount}")
    hsv = _hsv(rgb)
    s, v = hsv[..., 1], hsv[..., 2]
    k = amount * MAX_GAIN * float(np.clip((TARGET_SATURATION - s.mean()) / TARGET_SATURATION, 0, 1))
    hsv[..., 1] = np.clip(s + k * s * (1 - s), 0, 1)
    lo, hi = np.percentile(v, (0.5, 99.5))
    gain = min(1.0 / max(hi - lo, 1e-6), MAX_STRETCH)
    low = lo if gain < MAX_STRETCH else max(0.0, (lo + hi) / 2 - 0.5 / gain)  # capped: centred on the range
    stretched = np.clip((v - low) * gain, 0, 1)
    hsv[..., 2] = v + min(amount, 1.0) * (stretched - v)
    return _rgb(hsv)


def saturation_boost(rgb: np.ndarray, gain: float = 1.3) -> np.ndarray:
    """The plain global boost: every pixel's HSV saturation times ``gain``, clipped."""
    check_rgb(rgb)
    if not gain > 0:
        raise OptionError(f"--gain must be > 0, got {gain}")
    hsv = _hsv(rgb)
    hsv[..., 1] = np.clip(hsv[..., 1] * gain, 0, 1)
    return _rgb(hsv)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness M (on 0-255 RGB): higher is more colourful."""
    r, g, b = (rgb[..., c].astype(np.float64) * 255 for c in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
