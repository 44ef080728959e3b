"""Apply a model to an image: scale checks, tiling, alpha beside the colour, clipping to [0, 1]."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError, OptionError
from acutance.models.descriptor import Enhancer
from acutance.pipeline.tiling import run_tiled
from acutance.resize import imresize

if TYPE_CHECKING:
    from acutance.io import Image


def resolve_scale(model: Enhancer, scale: float | tuple[float, float] | None) -> float | tuple[float, float]:
    """The scale to run ``model`` at: ``scale`` if the model supports it, its default if None.

    A ``(scale_y, scale_x)`` pair (an exact output size, ``acutance upscale --size``) is for models that take
    any factor (``scales=None``: interpolators, lerf); it is returned as a pair of floats.
    """
    info = model.info
    if isinstance(scale, tuple):
        if info.task != "upscale" or info.scales is not None:
            raise ModelError(
                f"model {info.name!r} takes only its own factor(s); per-axis scales (an exact output size) need a "
                "model that takes any scale, e.g. bicubic, lanczos, nearest or lerf"
            )
        if len(scale) != 2 or not all(s > 0 for s in scale):
            raise OptionError(f"per-axis scales must be two positive numbers, got {scale}")
        return float(scale[0]), float(scale[1])
    if scale is None:
        scale = info.scales[0] if info.scales else info.default_scale
    if info.task != "upscale" and scale != 1:
        raise OptionError(f"model {info.name!r} ({info.task}) keeps the size; it takes no scale other than 1")
    if not info.supports_scale(scale):
        supported = ", ".join(f"x{s}" for s in info.scales or ())
        raise ModelError(f"model {info.name!r} supports {supported}, not x{scale:g}")
    return float(scale)


def enhance(
    rgb: np.ndarray,
    model: Enhancer,
    scale: float | None = None,
    *,
    tile: int | None = None,
    overlap: int = 16,
    on_tile: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Run ``model`` on float32 HxWx3 RGB in [0, 1]; returns float32 RGB in [0, 1] of the scaled size.

    scale: None picks the model's first supported (or default) factor.
    tile: tile size in input pixels; None takes the model's advice, 0 turns tiling off. Tiling needs an
        integer scale; other scales run on the whole image.
    """
    check_rgb(rgb)
    scale = resolve_scale(model, scale)
    tile = model.info.tile if tile is None else tile
    if tile and not isinstance(scale, tuple) and float(scale).is_integer():
        out = run_tiled(
            lambda part: model(part, scale),
            rgb,
            scale=int(scale),
            tile=tile,
            overlap=min(overlap, tile // 2),
            context=model.info.context,
            on_tile=on_tile,
        )
    else:
        out = model(rgb, scale)
    return np.clip(out, 0.0, 1.0, out=np.asarray(out, dtype=np.float32))


def enhance_image(image: "Image", model: Enhancer, scale: float | None = None, **options) -> "Image":
    """``enhance`` on an ``acutance.io.Image``: alpha is resized separately (MATLAB bicubic, clipped)."""
    scale = resolve_scale(model, scale)
    rgb = enhance(image.rgb, model, scale, **options)
    alpha = image.alpha
    if alpha is not None and rgb.shape[:2] != alpha.shape:
        alpha = np.clip(imresize(alpha, size=rgb.shape[:2], method="bicubic"), 0.0, 1.0)
    return image.replace(rgb, alpha)
