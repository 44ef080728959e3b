"""Frequency features of a frame, the pre-encode chooser's input: cheap (one luma plane, a few filters).

All are computed on BT.601 luma in 0..255 (MATLAB ``rgb2ycbcr``, the metrics' convention):

* ``log_lap_var``: log10(1 + variance of the 3x3 Laplacian), the classic focus / blur measure;
* ``log_si``: log10(1 + SI), SI being ITU-T P.910's spatial information (std of the Sobel magnitude);
* ``dct_mid``, ``dct_high``: the share of AC energy of 8x8 block DCTs (the codec's own transform) in the
  middle (4 <= u+v <= 7) and high (u+v >= 8) bands: how much fine detail an encoder has to spend bits on;
* ``log_ac``: log10(1 + mean AC energy per block), the overall texture level.

TI (P.910's temporal information) is computed by :func:`temporal_information` for the benchmark's tables but is
not a chooser input: the level of a scene is fixed at its first frame, before any motion in it is seen.
"""

from __future__ import annotations

import cv2
import numpy as np

from acutance.color.ycbcr import rgb_to_y

FEATURE_NAMES = ("log_lap_var", "log_si", "dct_mid", "dct_high", "log_ac")
_BLOCK = 8


def _dct_matrix(n: int = _BLOCK) -> np.ndarray:
    k = np.arange(n)
    basis = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)  # orthonormal DCT-II


_DCT = _dct_matrix()
_FREQ = np.add.outer(np.arange(_BLOCK), np.arange(_BLOCK))  # u + v per coefficient


def luma255(rgb: np.ndarray) -> np.ndarray:
    return (rgb_to_y(rgb) * 255.0).astype(np.float32)


def spatial_information(y: np.ndarray) -> float:
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.std(np.sqrt(gx * gx + gy * gy)))


def temporal_information(y: np.ndarray, previous: np.ndarray) -> float:
    return float(np.std(y - previous))


def band_energies(y: np.ndarray) -> tuple[float, float, float]:
    """(mid share, high share, mean AC energy per block) of the 8x8 block DCTs of ``y``."""
    h, w = (y.shape[0] // _BLOCK) * _BLOCK, (y.shape[1] // _BLOCK) * _BLOCK
    if h == 0 or w == 0:
        return 0.0, 0.0, 0.0
    blocks = y[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).transpose(0, 2, 1, 3)
    coeffs = _DCT @ blocks @ _DCT.T  # every block at once
    energy = (coeffs.astype(np.float64) ** 2).reshape(-1, _BLOCK, _BLOCK).sum(axis=0)
    ac = energy.sum() - energy[0, 0]
    if ac <= 0:
        return 0.0, 0.0, 0.0
    mid = energy[(_FREQ >= 4) & (_FREQ <= 7)].sum() / ac
    high = energy[_FREQ >= 8].sum() / ac
    return float(mid), float(high), float(ac / (blocks.shape[0] * blocks.shape[1]))


def frame_features(rgb: np.ndarray) -> np.ndarray:
    """The chooser's inputs for one float32 HxWx3 RGB frame, in :data:`FEATURE_NAMES` order (float64)."""
    y = luma255(rgb)
    lap = cv2.Laplacian(y, cv2.CV_32F, ksize=1)
    mid, high, ac = band_energies(y)
    return np.array(
        [np.log10(1.0 + float(lap.var())), np.log10(1.0 + spatial_information(y)), mid, high, np.log10(1.0 + ac)]
    )
