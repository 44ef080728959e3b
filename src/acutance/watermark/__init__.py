"""Invisible watermarking: ``embed(rgb, payload, key, strength)`` and ``detect(rgb, key)``.

The classical method (``core``): a key-seeded spread-spectrum tile in the luma's mid band, repeated over the
image (crops and geometry are undone from its lattice), BCH + CRC coded (``payload``). Pure functions under
the image contract; video frames add up in ``detect_many``. See docs/watermark.md.
"""

from __future__ import annotations

import numpy as np

from acutance.watermark.core import AMPLITUDE, MIN_SIZE, Detection, detect_many, false_positive_rate
from acutance.watermark.core import detect as _detect
from acutance.watermark.core import embed as _embed
from acutance.watermark.payload import CAPACITY_BYTES, SHORT

__all__ = [
    "AMPLITUDE", "CAPACITY_BYTES", "MIN_SIZE", "ROBUST_BYTES", "Detection", "as_payload", "detect", "detect_many",
    "embed", "false_positive_rate",
]

ROBUST_BYTES = SHORT.capacity  # payloads up to this long get the stronger code


def as_payload(payload: bytes | str) -> bytes:
    """Text is stored as UTF-8; bytes as they are."""
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def embed(rgb: np.ndarray, payload: bytes | str, key: str | int, strength: float = 1.0) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] marked with ``payload`` under ``key``; see ``core.embed``."""
    return _embed(rgb, as_payload(payload), key, strength)


def detect(rgb: np.ndarray, key: str | int) -> Detection:
    """The mark of ``key`` in float32 HxWx3 RGB: ``found``, ``payload``, ``p_value``, ``confidence``, ``bits``."""
    return _detect(rgb, key)
