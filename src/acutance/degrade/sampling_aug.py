"""SamplingAug: keep the patches a cheap linear upscale reconstructs worst (the informative ones).

A candidate HR patch is shrunk by the scale (area averaging) and enlarged back with bilinear interpolation;
the PSNR of that round trip is its score. Flat or smooth patches score high (a linear filter already handles
them and they teach a network little); textured, edgy patches score low and are kept.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from acutance.errors import OptionError


def reconstruction_psnr(patch: np.ndarray, scale: int) -> float:
    """PSNR (dB, peak 1) of ``patch`` against its area-down, bilinear-up round trip by ``scale``."""
    height, width = patch.shape[:2]
    if height < scale or width < scale:
        raise OptionError(f"patch of {height}x{width} is smaller than the scale {scale}")
    small = cv2.resize(patch, (width // scale, height // scale), interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).reshape(patch.shape)
    mse = float(np.mean((back - patch) ** 2, dtype=np.float64))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def candidate_count(per_image: int, top: float | None) -> int:
    """How many candidates to score so that keeping the ``top`` fraction leaves ``per_image`` patches."""
    if top is None:
        return per_image
    if not 0.0 < top <= 1.0:
        raise OptionError(f"--sampling-aug must be a fraction in (0, 1], got {top:g}")
    return max(per_image, math.ceil(per_image / top - 1e-9))


def select_informative(scores: list[float], keep: int) -> list[int]:
    """Indices of the ``keep`` lowest scores (worst reconstructed first; ties keep candidate order)."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
    return order[:keep]
