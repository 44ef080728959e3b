"""The stabiliser's per-pixel work at output size, fused into one compiled pass (numba).

For each output pixel: the low-resolution flow and blend weight are interpolated bilinearly (pixel centres
aligned as OpenCV's resize does), the previous residual is sampled bilinearly at the displaced position (edges
replicated, as ``cv2.remap`` with ``BORDER_REPLICATE``), blended with the current residual, and the base added
back and clipped. One pass instead of about ten whole-image OpenCV/numpy operations.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _axis(position: float, size: int):
    """Integer neighbours and fraction of a continuous coordinate, clamped to [0, size - 1]."""
    if position < 0.0:
        position = 0.0
    top = size - 1.0
    if position > top:
        position = top
    low = int(position)
    high = low + 1 if low + 1 < size else low
    return low, high, position - low


@njit(parallel=True, cache=True, fastmath=True)
def blend(
    enhanced: np.ndarray,  # float32 HxWx3
    base: np.ndarray,  # float32 HxWx3 (zeros in "output" mode)
    previous: np.ndarray,  # float32 HxWx3: the previous blended residual
    flow: np.ndarray,  # float32 hxwx2: current pixel came from previous pixel + flow (input pixels)
    weight: np.ndarray,  # float32 hxw: blend weight in [0, alpha]
    residual_out: np.ndarray,  # float32 HxWx3: the new blended residual
    out: np.ndarray,  # float32 HxWx3: base + residual, clipped to [0, 1]
) -> None:
    height, width = enhanced.shape[0], enhanced.shape[1]
    small_h, small_w = weight.shape
    sy, sx = height / small_h, width / small_w
    # the low-resolution neighbours of every output column, computed once
    cols0 = np.empty(width, np.int64)
    cols1 = np.empty(width, np.int64)
    colf = np.empty(width, np.float32)
    for x in range(width):
        cols0[x], cols1[x], colf[x] = _axis((x + 0.5) / sx - 0.5, small_w)
    for y in prange(height):
        ly0, ly1, fy = _axis((y + 0.5) / sy - 0.5, small_h)
        fy = np.float32(fy)
        for x in range(width):
            lx0, lx1, fx = cols0[x], cols1[x], colf[x]
            a = (1 - fy) * (1 - fx)
            b = (1 - fy) * fx
            c = fy * (1 - fx)
            d = fy * fx
            dx = a * flow[ly0, lx0, 0] + b * flow[ly0, lx1, 0] + c * flow[ly1, lx0, 0] + d * flow[ly1, lx1, 0]
            dy = a * flow[ly0, lx0, 1] + b * flow[ly0, lx1, 1] + c * flow[ly1, lx0, 1] + d * flow[ly1, lx1, 1]
            w = a * weight[ly0, lx0] + b * weight[ly0, lx1] + c * weight[ly1, lx0] + d * weight[ly1, lx1]
            py0, py1, gy = _axis(y + dy * sy, height)
            px0, px1, gx = _axis(x + dx * sx, width)
            gy = np.float32(gy)
            gx = np.float32(gx)
            for ch in range(3):
                warped = (1 - gy) * ((1 - gx) * previous[py0, px0, ch] + gx * previous[py0, px1, ch]) + gy * (
                    (1 - gx) * previous[py1, px0, ch] + gx * previous[py1, px1, ch]
                )
                current = enhanced[y, x, ch] - base[y, x, ch]
                mixed = current + w * (warped - current)
                residual_out[y, x, ch] = mixed
                value = base[y, x, ch] + mixed
                out[y, x, ch] = min(max(value, np.float32(0)), np.float32(1))
