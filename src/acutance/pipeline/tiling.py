"""Run an enhancer tile by tile, so memory stays bounded on huge images and no seams appear.

Each tile is processed with (at least) ``context`` extra input pixels on every side (the enhancer's receptive
field) inside the image, and only its own region is kept, so a tile's output equals the whole-image output wherever the enhancer's
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
    align: int = 1,
) -> np.ndarray:
    """Apply ``fn`` (HxWxC -> (H*scale)x(W*scale)xC') to ``image`` tile by tile.

    scale: the integer factor ``fn`` applies (tiling needs whole output pixels per input pixel).
    tile: tile size in input pixels; 0, or an image no larger than one tile, runs ``fn`` once.
    overlap: input pixels shared by neighbouring tiles and feather-blended (less than ``tile``).
    context: extra input pixels given to ``fn`` around each tile and then cut off.
    align: windows start on multiples of this (enhancers with a coarser grid inside, e.g. BLADE's half-size
        layers, give the same output only on the same grid).
    on_tile: called as ``on_tile(0, total)`` before the first tile and ``on_tile(done, total)`` after each
        (progress bars; an exception raised there, e.g. a cancellation, stops the run between tiles).
    Returns float32 of shape (H*scale, W*scale, C').
    """
    if int(scale) != scale or scale < 1:
        raise OptionError(f"tiling needs an integer scale >= 1, got {scale}")
    if tile < 0 or overlap < 0 or context < 0 or align < 1:
        raise OptionError("tile, overlap and context must be >= 0, align >= 1")
    scale = int(scale)
    height, width = image.shape[:2]
    if tile == 0 or (height <= tile and width <= tile):
        return np.asarray(fn(image), dtype=np.float32)
    if overlap >= tile:
        raise OptionError(f"tile overlap ({overlap}) must be smaller than the tile ({tile})")

    def spans(length: int) -> list[tuple[int, int, int, int, np.ndarray]]:
        """(start, end, window start, window end, feather weights of the tile's output) along one axis.

        Every window (tile + context) has the same length: at the image's edges it is shifted inward rather
        than cut, so the enhancer sees one input shape (onnxruntime then reuses its buffers instead of
        growing its arena for each new shape) and every tile still has at least ``context`` on inner sides.
        """
        window = min(tile + 2 * context, length)
        grown = -(-(window + align - 1) // align) * align  # room for the start's rounding down to ``align``
        result = []
        for start in _starts(length, tile, overlap):
            end = min(start + tile, length)
            w0 = min(max(0, start - context), length - window) // align * align
            w1 = min(length, w0 + grown) if align > 1 else w0 + window
            rise, fall = overlap * scale if start > 0 else 0, overlap * scale if end < length else 0
            result.append((start, end, w0, w1, _ramp((end - start) * scale, rise, fall)))
        return result

    rows, cols = spans(height), spans(width)
    total, done = len(rows) * len(cols), 0
    if on_tile:
        on_tile(0, total)
    # The tiles form a full grid and each one's weights are the outer product of two ramps, so the sum of the
    # weights is the outer product of the per-axis sums: two vectors instead of a full-size array.
    sum_y = np.zeros(height * scale, dtype=np.float32)
    sum_x = np.zeros(width * scale, dtype=np.float32)
    for y0, y1, _, _, wy in rows:
        sum_y[y0 * scale : y1 * scale] += wy
    for x0, x1, _, _, wx in cols:
        sum_x[x0 * scale : x1 * scale] += wx
    out: np.ndarray | None = None
    for y0, y1, cy0, cy1, wy in rows:
        for x0, x1, cx0, cx1, wx in cols:
            result = np.asarray(fn(image[cy0:cy1, cx0:cx1]), dtype=np.float32)
            expected = ((cy1 - cy0) * scale, (cx1 - cx0) * scale)
            if result.shape[:2] != expected:
                raise ModelError(f"enhancer returned {result.shape[:2]} for a tile, expected {expected}")
            if result.ndim == 2:
                result = result[:, :, None]
            if out is None:
                out = np.zeros((height * scale, width * scale, result.shape[2]), dtype=np.float32)
            region = result[(y0 - cy0) * scale : (y1 - cy0) * scale, (x0 - cx0) * scale : (x1 - cx0) * scale]
            if not region.flags.writeable or np.shares_memory(region, image):  # e.g. its input handed back
                region = region.copy()
            region *= wy[:, None, None]  # in place, one axis at a time: no tile-sized temporaries
            region *= wx[None, :, None]
            out[y0 * scale : y1 * scale, x0 * scale : x1 * scale] += region
            del result, region  # before the next tile runs, so two tiles' outputs are never held at once
            done += 1
            if on_tile:
                on_tile(done, total)
    assert out is not None
    out /= sum_y[:, None, None]  # row by row, then column by column: no full-size temporary
    out /= sum_x[None, :, None]
    return out[:, :, 0] if image.ndim == 2 else out
