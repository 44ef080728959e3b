"""MATLAB-compatible ``imresize`` (numpy and numba), exact to float precision and fast.

MATLAB's algorithm, which every published SR number depends on:
- output pixel ``x`` (1-based) samples input position ``u = x / scale + 0.5 * (1 - 1 / scale)``;
- when shrinking with antialiasing, the kernel is stretched by ``1 / scale`` (and scaled by ``scale``);
- each output's weights are normalised to sum to 1; taps outside the image are mirrored with the edge
  pixel repeated (``symmetric`` padding, OpenCV's ``BORDER_REFLECT``);
- the dimension with the smaller scale is resized first (rows first on a tie); the order changes only
  float rounding, so this module picks the faster order instead (see below).

Each 1-D pass is a fixed-order sum over every output line's taps (numba, ``resize/kernels.py``), so an
output depends only on its own inputs: a crop resizes to exactly the whole image's values in its interior,
which tiled processing relies on. The pass order (the shrinking dimension first, where the next pass sees
fewer lines) changes only float rounding (~1e-7), not the result.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np

from acutance.errors import OptionError



def _cubic(x: np.ndarray) -> np.ndarray:
    # Keys' cubic with a = -0.5, as MATLAB's imresize (OpenCV's INTER_CUBIC uses a = -0.75).
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def _triangle(x: np.ndarray) -> np.ndarray:
    return (x + 1.0) * ((x >= -1) & (x < 0)) + (1.0 - x) * ((x >= 0) & (x <= 1))


def _box(x: np.ndarray) -> np.ndarray:
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def _lanczos(lobes: int) -> Callable[[np.ndarray], np.ndarray]:
    eps = np.finfo(np.float64).eps

    def kernel(x: np.ndarray) -> np.ndarray:
        # MATLAB adds eps to numerator and denominator so that x = 0 gives 1 without a special case.
        num = np.sin(np.pi * x) * np.sin(np.pi * x / lobes) + eps
        den = np.pi**2 * x * x / lobes + eps
        return num / den * (np.abs(x) < lobes)

    return kernel


# name -> (kernel, support width, antialias by default)
METHODS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float, bool]] = {
    "bicubic": (_cubic, 4.0, True),
    "bilinear": (_triangle, 2.0, True),
    "box": (_box, 1.0, True),
    "lanczos2": (_lanczos(2), 4.0, True),
    "lanczos3": (_lanczos(3), 6.0, True),
    "nearest": (_box, 1.0, False),
}


def output_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """MATLAB's output size for a scale factor: ``ceil(in * scale)`` per dimension."""
    # Round first so that e.g. 3 * (1/3) does not become 1.0000000000000002 and ceil to 2.
    return (int(math.ceil(round(height * scale, 9))), int(math.ceil(round(width * scale, 9))))


@lru_cache(maxsize=64)
def _weight_matrix(in_len: int, out_len: int, scale: float, method: str, antialias: bool) -> np.ndarray:
    """Dense (out_len, in_len) float32 matrix of one 1-D MATLAB resize (mirrored taps folded in)."""
    kernel, width, _ = METHODS[method]
    shrink_aa = scale < 1 and antialias
    if shrink_aa:
        width = width / scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based, may be out of range
    distance = u[:, None] - indices
    weights = scale * kernel(scale * distance) if shrink_aa else kernel(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric padding: 1..n, n..1 repeated.
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    columns = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_len)]
    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_len)[:, None], columns.shape)
    np.add.at(matrix, (rows, columns), weights)
    return matrix.astype(np.float32)


@lru_cache(maxsize=64)
def _taps(in_len: int, out_len: int, scale: float, method: str, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each output line's input lines and weights, (out_len, K) int64 and float32: the nonzero columns of the
    weight matrix in ascending order, zero-padded to the widest line."""
    matrix = _weight_matrix(in_len, out_len, scale, method, antialias)
    nonzero = matrix != 0
    count = nonzero.sum(axis=1)
    taps = int(count.max())
    order = np.argsort(~nonzero, axis=1, kind="stable")[:, :taps]  # nonzero columns first, in ascending order
    valid = np.arange(taps)[None, :] < count[:, None]
    indices = np.where(valid, order, 0).astype(np.int64)
    weights = np.where(valid, np.take_along_axis(matrix, order, axis=1), 0).astype(np.float32)
    return indices, weights


def _resize_rows(image: np.ndarray, out_len: int, scale: float, method: str, antialias: bool) -> np.ndarray:
    """Resize axis 0 of a float32 (H, W, C) array."""
    from acutance.resize.kernels import resize_rows

    indices, weights = _taps(image.shape[0], out_len, scale, method, antialias)
    flat = image.reshape(image.shape[0], -1)
    out = np.empty((out_len, flat.shape[1]), dtype=np.float32)
    resize_rows(flat, indices, weights, out)
    return out.reshape((out_len,) + image.shape[1:])


def _resize_columns(image: np.ndarray, out_len: int, scale: float, method: str, antialias: bool) -> np.ndarray:
    """Resize axis 1 of a float32 (H, W, C) array."""
    from acutance.resize.kernels import resize_columns

    indices, weights = _taps(image.shape[1], out_len, scale, method, antialias)
    out = np.empty((image.shape[0], out_len, image.shape[2]), dtype=np.float32)
    resize_columns(image, indices, weights, out)
    return out


def imresize(
    image: np.ndarray,
    scale: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    method: str = "bicubic",
    antialias: bool | None = None,
) -> np.ndarray:
    """Resize like MATLAB ``imresize(image, scale)`` or ``imresize(image, [rows cols])``.

    image: float32 HxW or HxWxC (any C); values are not clipped (bicubic and Lanczos overshoot, as in
        MATLAB on double input).
    scale: one factor for both dimensions; or give ``size=(height, width)`` instead.
    method: one of ``METHODS`` (bicubic, bilinear, box, lanczos2, lanczos3, nearest).
    antialias: stretch the kernel when shrinking; default as MATLAB (on, except for nearest).
    Returns float32 of the new size with the same number of channels.
    """
    if method not in METHODS:
        raise OptionError(f"unknown resize method {method!r}; choose one of {', '.join(METHODS)}")
    if (scale is None) == (size is None):
        raise OptionError("give exactly one of scale and size")
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise OptionError(f"expected an HxW or HxWxC image, got shape {image.shape}")
    squeeze = image.ndim == 2
    image = np.ascontiguousarray(image[:, :, None] if squeeze else image, dtype=np.float32)
    in_h, in_w = image.shape[:2]
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        if out_h <= 0 or out_w <= 0:
            raise OptionError(f"output size must be positive, got {size}")
        scales = (out_h / in_h, out_w / in_w)
    else:
        if not (scale > 0 and math.isfinite(scale)):
            raise OptionError(f"scale must be a positive number, got {scale}")
        out_h, out_w = output_size(in_h, in_w, scale)
        scales = (float(scale), float(scale))
    if antialias is None:
        antialias = METHODS[method][2]

    antialias = bool(antialias)
    out = image
    # Rows first when rows shrink (the width pass then sees fewer rows), else columns first.
    for axis in (0, 1) if scales[0] < 1 else (1, 0):
        if axis == 0 and (out.shape[0] != out_h or scales[0] != 1.0):
            out = _resize_rows(out, out_h, scales[0], method, antialias)
        elif axis == 1 and (out.shape[1] != out_w or scales[1] != 1.0):
            out = _resize_columns(out, out_w, scales[1], method, antialias)
    return out[:, :, 0] if squeeze else out
