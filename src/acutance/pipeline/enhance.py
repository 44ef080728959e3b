"""Apply a model to an image: scale checks, the resource budget, tiling, alpha beside the colour, clipping.

Every entry point (CLI, Python API, web, batch, video) comes through ``enhance``/``enhance_image``, so the
checks of ``acutance.limits`` (scale, output pixels, working memory) happen here, before any allocation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError, OptionError
from acutance.limits import LimitError, check_scale_value
from acutance.models.descriptor import Enhancer
from acutance.pipeline.budget import Plan, plan
from acutance.pipeline.tiling import run_tiled

if TYPE_CHECKING:
    from acutance.io import Image


def resolve_scale(model: Enhancer, scale: float | tuple[float, float] | None) -> float | tuple[float, float]:
    """The scale to run ``model`` at: ``scale`` if the model supports it, its default if None.

    Only ``model.info`` is read (callers check a request before loading the model). A scale must be finite
    and positive; models that take any factor (``scales=None``: interpolators, lerf) take
    ``acutance.limits.MIN_SCALE..MAX_SCALE`` (1/64..32), the others only their own factors.
    A ``(scale_y, scale_x)`` pair (an exact output size, ``acutance upscale --size``) is for models that take
    any factor; it is returned as a pair of floats.
    """
    info = model.info
    if isinstance(scale, tuple):
        if info.task != "upscale" or info.scales is not None:
            raise ModelError(
                f"model {info.name!r} takes only its own factor(s); per-axis scales (an exact output size) need a "
                "model that takes any scale, e.g. bicubic, lanczos, nearest or lerf"
            )
        if len(scale) != 2:
            raise OptionError(f"per-axis scales must be two positive numbers, got {scale}")
        return _checked(info, scale[0], "vertical scale"), _checked(info, scale[1], "horizontal scale")
    if scale is None:
        scale = info.scales[0] if info.scales else info.default_scale
    scale = _checked(info, scale, "scale")
    if info.task != "upscale" and scale != 1:
        raise OptionError(f"model {info.name!r} ({info.task}) keeps the size; it takes no scale other than 1")
    if not info.supports_scale(scale):
        supported = ", ".join(f"x{s:g}" for s in info.scales or ())
        raise ModelError(f"model {info.name!r} supports {supported}, not x{scale:g}")
    return scale


def _checked(info, scale, what: str) -> float:
    """``acutance.limits.check_scale_value``, as an error about this model (a ``ModelError``)."""
    try:
        return check_scale_value(scale, what)
    except LimitError as error:
        raise ModelError(f"model {info.name!r}: {error}") from None


def outscale_size(height: int, width: int, outscale: float) -> tuple[int, int]:
    """The (height, width) ``outscale`` asks for (rounded, at least 1), as Real-ESRGAN's ``--outscale``."""
    outscale = check_scale_value(outscale, "outscale")
    return max(1, round(height * outscale)), max(1, round(width * outscale))


def plan_enhance(
    model: Enhancer,
    shape: tuple[int, ...],
    scale: float | tuple[float, float] | None = None,
    *,
    tile: int | str | None = "auto",
    outscale: float | None = None,
    writes: bool = False,
    alpha: bool = False,
) -> Plan:
    """Check a request on an image of ``shape`` against the limits and choose its tile, without running it.

    Raises ``LimitError`` (scale, output pixels, working memory) or ``ModelError``/``OptionError``.
    """
    scale = resolve_scale(model, scale)
    final = outscale_size(shape[0], shape[1], outscale) if outscale is not None else None
    return plan(
        model.info, shape[0], shape[1], scale, tile, final_size=final, writes=writes, alpha=alpha,
        meta=getattr(model, "meta", None),
    )


def enhance(
    rgb: np.ndarray,
    model: Enhancer,
    scale: float | tuple[float, float] | None = None,
    *,
    tile: int | str | None = "auto",
    overlap: int = 16,
    on_tile: Callable[[int, int], None] | None = None,
    outscale: float | None = None,
) -> np.ndarray:
    """Run ``model`` on float32 HxWx3 RGB in [0, 1]; returns float32 RGB in [0, 1] of the scaled size.

    scale: None picks the model's first supported (or default) factor.
    tile: ``"auto"`` or None (default): tiles sized from ``acutance.limits.current().max_memory`` and the
        model's working memory, or none when the image fits; 0: no tiling; N: tiles of N input pixels (at
        least twice the model's context). Tiling needs an integer scale; other scales run on the whole image
        (the memory check still applies).
    on_tile: ``on_tile(done, total)`` before the first tile (0, total) and after each one (progress, cancel).
    outscale: run the model at ``scale`` (its own factor) and resize the result (MATLAB bicubic) to
        ``outscale`` times the input, as Real-ESRGAN's ``--outscale``.
    Raises ``LimitError`` before any work when the output or the working memory is over the limits.
    """
    return _enhance(rgb, model, scale, tile, overlap, on_tile, outscale, writes=False, alpha=False)


def _enhance(rgb, model, scale, tile, overlap, on_tile, outscale, *, writes: bool, alpha: bool) -> np.ndarray:
    check_rgb(rgb)
    scale = resolve_scale(model, scale)
    chosen = plan_enhance(model, rgb.shape, scale, tile=tile, outscale=outscale, writes=writes, alpha=alpha)
    if chosen.tile:
        out = run_tiled(
            lambda part: model(part, scale),
            rgb,
            scale=int(scale),
            tile=chosen.tile,
            overlap=min(overlap, chosen.tile // 2),
            context=model.info.context,
            on_tile=on_tile,
            align=int(getattr(model, "tile_align", 1)),
        )
    else:
        out = model(rgb, scale)
    out = np.clip(out, 0.0, 1.0, out=np.asarray(out, dtype=np.float32))
    if outscale is not None:  # the model's clipped result resized, as Real-ESRGAN resizes its 8-bit output
        from acutance.resize import imresize

        size = outscale_size(rgb.shape[0], rgb.shape[1], outscale)
        if out.shape[:2] != size:
            out = imresize(out, size=size, method="bicubic")
            np.clip(out, 0.0, 1.0, out=out)
    return out


def enhance_image(
    image: "Image",
    model: Enhancer,
    scale: float | tuple[float, float] | None = None,
    *,
    tile: int | str | None = "auto",
    overlap: int = 16,
    on_tile: Callable[[int, int], None] | None = None,
    outscale: float | None = None,
) -> "Image":
    """``enhance`` on an ``acutance.io.Image``: alpha is resized separately (MATLAB bicubic, clipped).

    The budget also counts the buffers of writing the result (the resized alpha, the encoder's).
    """
    rgb = _enhance(image.rgb, model, scale, tile, overlap, on_tile, outscale, writes=True, alpha=image.alpha is not None)
    alpha = image.alpha
    if alpha is not None and rgb.shape[:2] != alpha.shape:
        from acutance.resize import imresize

        alpha = np.clip(imresize(alpha, size=rgb.shape[:2], method="bicubic"), 0.0, 1.0)
    return image.replace(rgb, alpha)
