"""The one image contract inside the library: ``float32 HxWx3 RGB in [0, 1]``.

Conversions from files, uint8/uint16 arrays and grayscale happen at the edges (``acutance.io``);
algorithms call :func:`check_rgb` on entry and may then assume the contract.
"""

from __future__ import annotations

import numpy as np

from acutance.errors import OptionError


def check_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Return ``image`` unchanged if it is float32 HxWx3; raise ``OptionError`` otherwise."""
    if not isinstance(image, np.ndarray):
        raise OptionError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise OptionError(f"{name} must be HxWx3 RGB, got shape {image.shape}")
    if image.dtype != np.float32:
        raise OptionError(f"{name} must be float32 in [0, 1], got {image.dtype} (use acutance.io.to_float)")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise OptionError(f"{name} is empty: shape {image.shape}")
    return image


def to_float(array: np.ndarray) -> np.ndarray:
    """Integer or float array -> float32 in [0, 1]; uint8 and uint16 are scaled by their maximum."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535.0)
    if np.issubdtype(array.dtype, np.floating):
        return np.asarray(array, dtype=np.float32)
    raise OptionError(f"unsupported pixel type {array.dtype}: expected uint8, uint16 or float")


def to_uint(image: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """float in [0, 1] -> uint8 or uint16 with rounding to nearest (MATLAB's im2uint8 convention)."""
    if bit_depth not in (8, 16):
        raise OptionError(f"bit depth must be 8 or 16, got {bit_depth}")
    peak = 255.0 if bit_depth == 8 else 65535.0
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    # One float64 buffer, rounded and clipped in place: a 4K frame needs 200 MB here, not 600.
    scaled = np.multiply(image, peak, dtype=np.float64)
    np.rint(scaled, out=scaled)
    return np.clip(scaled, 0, peak, out=scaled).astype(dtype)
