"""How much memory a request needs, and the tile size that keeps it inside ``acutance.limits``.

Every entry point reaches a model through ``acutance.pipeline.enhance``, which calls ``plan`` first: the
output size is checked against ``max_output_pixels`` and the estimated working memory against
``max_memory`` before anything is allocated, and ``--tile auto`` (the default) picks the largest tile whose
working memory fits a share of the budget.

A model call's working memory is ``per_input * input pixels + per_output * output pixels`` bytes of the
tile it runs on (context included). The factors are per model family, measured: peak RSS of one untiled
call on a 512x512 input minus the peak after a warm-up; ``tests/test_pipeline_budget.py`` measures it the
same way and checks that the estimate stays above it (every shipped model in its slow lane).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from acutance import limits
from acutance.limits import LimitError

# (bytes per input pixel, bytes per output pixel) of one model call, by family (the loader's module).
# Measured peaks on 512x512 (bytes per input pixel): bicubic x2 82, x4 258, x8 900, x0.5 13; lerf x2 146,
# x4 427, x8 1594, x0.5 74; usm 25, cas 12, cas-x2 106, anime4k-x2 122; raisr-x2 252 (back-projection),
# x3 390, x4 674, raisr-fast-x2 149, BLADE 57; lut-x2 125, x3 251, x4 423; esr-max-c4-k5 254, -c8-k7 386,
# esr-tr-c4-k7 522, esr-cnn-c4-d4-s8 490.
# Each factor pair is rounded up over its family. Deep nets: see ``_deep_bytes``.
FAMILY_BYTES: dict[str, tuple[float, float]] = {
    "acutance.models.interpolation": (24, 16),
    "acutance.models.classical": (8, 32),
    "acutance.raisr": (80, 44),
    "acutance.lut.runtime": (24, 28),
    "acutance.lut.lerf": (80, 26),
    "acutance.edgesr": (32, 140),
    "acutance.watermark": (40, 0),  # embedding: measured 32 bytes per pixel (luma, mask, pattern, change)
}
UNKNOWN_FAMILY_BYTES = (12288.0, 3072.0)  # as a 64-feature RRDB net: nothing is known, assume the worst


def _deep_bytes(meta) -> tuple[float, float]:
    """A deep net's factors from its description (features at low resolution, convolutions at high).

    SRVGG compact nets are measured: compact-x4 and real-x4 (32 features) peak at 1072 bytes per input
    pixel in one call and about 1575 in a tiled run (onnxruntime's arena keeps its buffers), compact-x2 at
    326; 10 bytes per feature per input pixel and 80 per output pixel cover both. The other architectures
    (RRDB/ESRGAN: dense blocks of 64 + 4 x 32 channels and 64-feature convolutions at high resolution;
    SwinIR) are not measured here: 192 bytes per feature per input pixel and 48 per output pixel, a
    deliberately high guess from their im2col buffers.
    """
    meta = meta or {}
    hyper = meta.get("hyper_parameters") or {}
    features = hyper.get("num_feat") or hyper.get("embed_dim") or hyper.get("features") or 64
    try:
        features = float(features)
    except (TypeError, ValueError):
        features = 64.0
    if meta.get("arch") == "SRVGGNetCompact":
        return 10 * features, 80.0
    if meta.get("arch") == "InvRescaleNet":
        # the inverse runs at the output's resolution: measured 135 (irn-x4) and 132 (irn-x2) bytes per
        # output pixel with 32 features; 8 per feature leaves room for onnxruntime's arena in tiled runs
        return 0.0, 8 * features
    return (192 * features, 48 * features) if meta else UNKNOWN_FAMILY_BYTES


# The whole-image buffers around the model calls: the float32 input with alpha (16 B per input pixel), the
# float32 output (12 B per output pixel), and when the result is written, the resized alpha (8 B) and the
# encoder's conversion (measured 34 B for an 8.3 MP PNG: a copy, the float64 rounding buffer, the integers).
INPUT_BYTES = 16
OUTPUT_BYTES = 12
ALPHA_BYTES = 8
WRITE_BYTES = 40

# Automatic tiles get at most this share of max_memory (the rest is for the whole-image buffers and the
# interpreter), and no more than this many input pixels a side unless the model advises otherwise.
AUTO_SHARE = 0.25
AUTO_MAX_TILE = 1024
# The smallest tile: at least this, and at least twice the model's context (a smaller tile spends most of
# its work on the context it then throws away).
MIN_TILE_FLOOR = 16


def family_bytes(info, meta=None) -> tuple[float, float]:
    """(bytes per input pixel, bytes per output pixel) of one call of the model described by ``info``.

    meta: the model file's own description (``OnnxEnhancer.meta``), which says a deep net's architecture.
    """
    module = str(getattr(info, "loader", "")).partition(":")[0]
    if module == "acutance.deep" or module.startswith("acutance.deep."):
        return _deep_bytes(meta)
    for prefix, factors in FAMILY_BYTES.items():
        if module == prefix or module.startswith(prefix + "."):
            return factors
    return UNKNOWN_FAMILY_BYTES


def call_bytes(info, in_pixels: float, scale_y: float, scale_x: float, meta=None) -> int:
    """Working memory of one model call on ``in_pixels`` input pixels at this scale."""
    per_in, per_out = family_bytes(info, meta)
    return int(math.ceil(in_pixels * (per_in + per_out * scale_y * scale_x)))


def min_tile(info) -> int:
    """The smallest tile (input pixels a side) the model's context allows."""
    return max(MIN_TILE_FLOOR, 2 * int(getattr(info, "context", 0)))


@dataclass(frozen=True)
class Plan:
    """What ``enhance`` will do: the output size, the tile (0: one call on the whole image), the estimate."""

    out_height: int
    out_width: int
    tile: int
    memory: int


def _fixed_bytes(in_px: int, out_px: int, final_px: int, *, writes: bool, alpha: bool) -> int:
    """Whole-image buffers: input, model output, a resized (``outscale``) output, alpha and encoding."""
    total = in_px * INPUT_BYTES + out_px * OUTPUT_BYTES
    if final_px != out_px:  # outscale: the resized result, and imresize's one-axis intermediate
        total += final_px * OUTPUT_BYTES + max(out_px, final_px) * OUTPUT_BYTES
    if alpha:
        total += final_px * ALPHA_BYTES
    if writes:
        total += final_px * WRITE_BYTES
    return total


def plan(
    info,
    height: int,
    width: int,
    scale: float | tuple[float, float],
    tile: int | str | None = "auto",
    *,
    final_size: tuple[int, int] | None = None,
    writes: bool = False,
    alpha: bool = False,
    meta=None,
) -> Plan:
    """Check a request against the limits in force and choose its tile; raises ``LimitError`` before work.

    scale: the model's factor, or ``(scale_y, scale_x)``; tiling needs an integer factor, so other scales
        run on the whole image (and are checked as such).
    tile: ``"auto"``/None (from the budget), 0 (whole image) or a size in input pixels (at least ``min_tile``).
    final_size: (height, width) after ``outscale``'s resize, when there is one.
    writes / alpha: whether the result is encoded afterwards / carries an alpha channel (their buffers count).
    meta: the model file's description, for deep nets (``family_bytes``).
    """
    budget = limits.current()
    scale_y, scale_x = scale if isinstance(scale, tuple) else (scale, scale)
    out_h, out_w = max(1, round(height * scale_y)), max(1, round(width * scale_x))
    # The output limit first: it is the cheapest check and names the real problem (an absurd factor/size).
    limits.check_output_pixels(out_w, out_h, "the model's output")
    final_h, final_w = final_size or (out_h, out_w)
    if final_size is not None:
        limits.check_output_pixels(final_w, final_h)
    in_px, out_px, final_px = height * width, out_h * out_w, final_h * final_w
    fixed = _fixed_bytes(in_px, out_px, final_px, writes=writes, alpha=alpha)
    # The tiled path's model output is part of the call's own estimate when it runs untiled.
    whole = fixed - out_px * OUTPUT_BYTES + call_bytes(info, in_px, scale_y, scale_x, meta)
    tileable = not isinstance(scale, tuple) and float(scale).is_integer()
    auto = tile is None or tile == "auto"
    if not auto:
        tile = int(tile)
        if tile < 0:
            raise LimitError(f"tile must be 0 (off), 'auto' or a size in pixels, got {tile}")
        if tile and tile < min_tile(info):
            raise LimitError(
                f"tile {tile} is too small for model {info.name!r}: its context is {info.context} pixels, so "
                f"tiles must be at least {min_tile(info)} (or 0 for none, or auto)"
            )
    if not tileable or tile == 0 or (not auto and height <= tile and width <= tile):
        limits.check_memory(whole, _what(info, height, width, out_h, out_w), advice=_advice(tileable, tile))
        return Plan(out_h, out_w, 0, whole)

    context = int(info.context)
    if auto:
        limit = budget.max_memory or limits.DEFAULT.max_memory
        share = min(limit * AUTO_SHARE, limit - fixed)
        if whole <= fixed + share:  # the whole image fits the share: no tiles at all
            return Plan(out_h, out_w, 0, whole)
        per_pixel = call_bytes(info, 1, scale_y, scale_x, meta)
        side = math.isqrt(max(0, int(share // per_pixel))) - 2 * context
        side = min(side // 8 * 8, int(getattr(info, "tile", 0)) or AUTO_MAX_TILE)
        tile = max(side, min_tile(info))  # if even the smallest tile is over the budget, the check says so
    tile_px = (min(tile, height) + 2 * context) * (min(tile, width) + 2 * context)
    estimate = fixed + call_bytes(info, min(tile_px, in_px), scale_y, scale_x, meta)
    smallest = fixed + call_bytes(info, (min_tile(info) + 2 * context) ** 2, scale_y, scale_x, meta)
    # Smaller tiles help only when the whole-image buffers leave room for one.
    advice = _advice(True, tile) if smallest <= (budget.max_memory or smallest) else ""
    limits.check_memory(estimate, _what(info, height, width, out_h, out_w), advice=advice)
    return Plan(out_h, out_w, tile, estimate)


def _what(info, height: int, width: int, out_h: int, out_w: int) -> str:
    return f"{info.name} on {width}x{height} -> {out_w}x{out_h}"


def _advice(tileable: bool, tile) -> str:
    if not tileable:
        return "this scale cannot be tiled (tiles need an integer factor); choose a smaller factor or"
    if tile == 0:
        return "use --tile auto or a tile size, or"
    return "use a smaller --tile, or"
