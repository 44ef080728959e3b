"""RAISR's filter selection: a structure-tensor hash of the cheaply upscaled luma.

For every pixel of the bicubic-upscaled Y (float32 HxW):
- gradients by central differences (``cv2.Sobel`` with ``ksize=1`` and ``scale=0.5``, i.e. the interior of
  ``np.gradient``; mirrored border). Central differences are used, not a 3x3 Sobel/Scharr, because the
  Gaussian window below already smooths, and they map exactly onto each other under 90-degree rotations;
- the structure tensor entries gx*gx, gx*gy, gy*gy averaged over a Gaussian window (``window`` x ``window``,
  ``sigma``; ``cv2.GaussianBlur``);
- its eigenvalues l1 >= l2 and the dominant eigenvector's angle in [0, pi) in closed form (vectorised);
- keys: angle in ``n_angle`` equal bins, strength sqrt(l1) and coherence
  (sqrt(l1) - sqrt(l2)) / (sqrt(l1) + sqrt(l2)) each cut by thresholds chosen as quantiles of training data
  (stored in the model), and the pixel type (y mod s, x mod s): the position in the upscaling grid.

bucket = ((angle * n_strength + strength) * n_coherence + coherence) * s^2 + pixel_type.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from acutance.errors import OptionError

_EPS = 1e-12


@dataclass(frozen=True)
class HashParams:
    """Everything the hash needs; stored in (and read back from) the model file."""

    scale: int
    strength_thresholds: tuple[float, ...]  # ascending; len = n_strength - 1
    coherence_thresholds: tuple[float, ...]  # ascending; len = n_coherence - 1
    n_angle: int = 24
    window: int = 9
    sigma: float = 2.0

    def __post_init__(self) -> None:
        if self.scale < 1 or self.n_angle < 1 or self.window < 1 or self.window % 2 == 0 or self.sigma <= 0:
            raise OptionError(f"invalid hash parameters: {self}")
        for name in ("strength_thresholds", "coherence_thresholds"):
            values = getattr(self, name)
            if any(b <= a for a, b in zip(values, values[1:])):
                raise OptionError(f"{name} must be strictly ascending, got {values}")

    @property
    def n_strength(self) -> int:
        return len(self.strength_thresholds) + 1

    @property
    def n_coherence(self) -> int:
        return len(self.coherence_thresholds) + 1

    @property
    def n_types(self) -> int:
        return self.scale * self.scale

    @property
    def n_buckets(self) -> int:
        return self.n_angle * self.n_strength * self.n_coherence * self.n_types


@dataclass(frozen=True)
class Features:
    """Per-pixel structure-tensor features (float32 HxW each)."""

    angle: np.ndarray  # dominant (gradient) direction in [0, pi)
    strength: np.ndarray  # sqrt(l1)
    coherence: np.ndarray  # in [0, 1]


def structure_tensor(y: np.ndarray, window: int = 9, sigma: float = 2.0) -> tuple[np.ndarray, ...]:
    """Gaussian-windowed gx*gx, gx*gy, gy*gy (float32 HxW each) of a float HxW image."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 2:
        raise OptionError(f"expected an HxW luma image, got shape {y.shape}")
    border = cv2.BORDER_REFLECT
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=border)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=border)
    blur = lambda a: cv2.GaussianBlur(a, (window, window), sigma, sigmaY=sigma, borderType=border)  # noqa: E731
    return blur(gx * gx), blur(gx * gy), blur(gy * gy)


def structure_features(y: np.ndarray, window: int = 9, sigma: float = 2.0) -> Features:
    """Angle, strength and coherence of the Gaussian-weighted structure tensor of a float HxW image."""
    gxx, gxy, gyy = (a.astype(np.float64) for a in structure_tensor(y, window, sigma))
    half_trace = 0.5 * (gxx + gyy)
    root = np.sqrt((0.5 * (gxx - gyy)) ** 2 + gxy * gxy)
    l1 = half_trace + root
    l2 = np.maximum(half_trace - root, 0.0)
    # Dominant eigenvector (cos t, sin t) with t = atan2(2 gxy, gxx - gyy) / 2; folded into [0, pi).
    angle = np.mod(0.5 * np.arctan2(2.0 * gxy, gxx - gyy), np.pi)
    s1, s2 = np.sqrt(np.maximum(l1, 0.0)), np.sqrt(l2)
    coherence = (s1 - s2) / (s1 + s2 + _EPS)
    return Features(angle.astype(np.float32), s1.astype(np.float32), coherence.astype(np.float32))


def quantise_features(features: Features, params: HashParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(angle, strength, coherence) bin indices, int32 HxW each."""
    angle = np.floor(features.angle.astype(np.float64) * (params.n_angle / np.pi)).astype(np.int32)
    np.clip(angle, 0, params.n_angle - 1, out=angle)
    strength = np.searchsorted(np.asarray(params.strength_thresholds, np.float32), features.strength, side="right")
    coherence = np.searchsorted(
        np.asarray(params.coherence_thresholds, np.float32), features.coherence, side="right"
    )
    return angle, strength.astype(np.int32), coherence.astype(np.int32)


def pixel_types(height: int, width: int, scale: int) -> np.ndarray:
    """(y mod s) * s + (x mod s): each pixel's position in the upscaling grid, int32 HxW."""
    rows = (np.arange(height, dtype=np.int32) % scale)[:, None] * scale
    cols = (np.arange(width, dtype=np.int32) % scale)[None, :]
    return rows + cols


def hash_image(y: np.ndarray, params: HashParams) -> np.ndarray:
    """The bucket index of every pixel of the luma ``y``: int32 HxW in [0, params.n_buckets).

    The compiled twin of ``quantise_features(structure_features(y))`` + ``pixel_types`` (see ``kernels``).
    """
    from acutance.raisr.kernels import bucket_keys

    gxx, gxy, gyy = structure_tensor(y, params.window, params.sigma)
    strength = np.asarray(params.strength_thresholds, np.float32)
    coherence = np.asarray(params.coherence_thresholds, np.float32)
    return bucket_keys(
        gxx, gxy, gyy, params.n_angle, strength * strength, (1 - coherence) ** 2, (1 + coherence) ** 2, params.scale
    )
