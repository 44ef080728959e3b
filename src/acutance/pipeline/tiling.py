"""Run an enhancer tile by tile, so memory stays bounded on huge images and no seams appear.

Each tile is processed with ``context`` extra input pixels on every side (the enhancer's receptive field),
and only its own region is kept, so a tile's output equals the whole-image output wherever the enhancer's
receptive field fits in the context. Neighbouring tiles also overlap by ``overlap`` input pixels and are
blended there with linear (feathered) weights, which hides any residual difference of enhancers with a
wider reach than ``context`` (deep nets).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from acutance.errors import ModelError, OptionError


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile start positions along one axis: stride ``tile - overlap``, the last tile flush with the end."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _ramp(length: int, rise: int, fall: int) -> np.ndarray:
    """1-D weights: linear rise over ``rise`` samples, 1 in the middle, linear fall over ``fall``."""
    weights = np.ones(length, dtype=np.float32)
    if rise:
        weights[:rise] = (np.arange(rise, dtype=np.float32) + 0.5) / rise
    if fall:
        weights[length - fall :] = np.minimum(
            weights[length - fall :], (np.arange(fall, dtype=np.float32)[::-1] + 0.5) / fall
        )
    return weights


def run_tiled(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    *,
    scale: int,
    tile: int,
    overlap: int = 16,
    context: int = 8,
    on_tile: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Apply ``fn`` (HxWxC -> (H*scale)x(W*scale)xC') to ``image`` tile by tile.

    scale: the integer factor ``fn`` applies (tiling needs whole output pixels per input pixel).
    tile: tile size in input pixels; 0, or an image no larger than one tile, runs ``fn`` once.
    overlap: input pixels shared by neighbouring tiles and feather-blended (less than ``tile``).
    context: extra input pixels given to ``fn`` around each tile and then cut off.
    on_tile: called as ``on_tile(done, total)`` after each tile (progress bars).
    Returns float32 of shape (H*scale, W*scale, C').
    """
    if int(scale) != scale or scale < 1:
        raise OptionError(f"tiling needs an integer scale >= 1, got {scale}")
    if tile < 0 or overlap < 0 or context < 0:
        raise OptionError("tile, overlap and context must be >= 0")
    scale = int(scale)
    height, width = image.shape[:2]
    if tile == 0 or (height <= tile and width <= tile):
        return np.asarray(fn(image), dtype=np.float32)
    if overlap >= tile:
        raise OptionError(f"tile overlap ({overlap}) must be smaller than the tile ({tile})")

    ys, xs = _starts(height, tile, overlap), _starts(width, tile, overlap)
    total, done = len(ys) * len(xs), 0
    out: np.ndarray | None = None
    weight_sum = np.zeros((height * scale, width * scale), dtype=np.float32)
    for y0 in ys:
        y1 = min(y0 + tile, height)
        cy0, cy1 = max(0, y0 - context), min(height, y1 + context)
        wy = _ramp((y1 - y0) * scale, overlap * scale if y0 > 0 else 0, overlap * scale if y1 < height else 0)
        for x0 in xs:
            x1 = min(x0 + tile, width)
            cx0, cx1 = max(0, x0 - context), min(width, x1 + context)
            result = np.asarray(fn(image[cy0:cy1, cx0:cx1]), dtype=np.float32)
            expected = ((cy1 - cy0) * scale, (cx1 - cx0) * scale)
            if result.shape[:2] != expected:
                raise ModelError(f"enhancer returned {result.shape[:2]} for a tile, expected {expected}")
            if result.ndim == 2:
                result = result[:, :, None]
            if out is None:
                out = np.zeros((height * scale, width * scale, result.shape[2]), dtype=np.float32)
            region = result[(y0 - cy0) * scale : (y1 - cy0) * scale, (x0 - cx0) * scale : (x1 - cx0) * scale]
            wx = _ramp((x1 - x0) * scale, overlap * scale if x0 > 0 else 0, overlap * scale if x1 < width else 0)
            weights = wy[:, None] * wx[None, :]
            out[y0 * scale : y1 * scale, x0 * scale : x1 * scale] += region * weights[:, :, None]
            weight_sum[y0 * scale : y1 * scale, x0 * scale : x1 * scale] += weights
            done += 1
            if on_tile:
                on_tile(done, total)
    assert out is not None
    out /= weight_sum[:, :, None]
    return out[:, :, 0] if image.ndim == 2 else out
