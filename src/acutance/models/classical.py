"""Classical filters as enhancers: unsharp mask, AMD CAS (plain and after bicubic x2), Anime4K push."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo


@dataclass(frozen=True)
class ClassicalFilter:
    """A filter with fixed options. ``upscale`` filters take the scale; the others keep the size."""

    info: ModelInfo
    apply: Callable[..., np.ndarray]
    upscale: bool = False

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        check_rgb(rgb)
        if self.upscale:
            from acutance.models.weights import check_scale

            if self.info.scales and not self.info.supports_scale(scale):  # as the other families refuse
                check_scale(self.info, self.info.scales[0], scale)
            return self.apply(rgb, scale)
        if scale != 1:
            raise ModelError(f"model {self.info.name!r} keeps the size; it takes no scale other than 1")
        return self.apply(rgb)


def usm(info: ModelInfo, amount: float = 0.5, radius: float = 1.0, threshold: float = 0.0) -> ClassicalFilter:
    """Unsharp mask with these options; the context grows with the radius so tiles stay seamless."""
    from acutance.filters import unsharp_mask, usm_reach  # the kernels (numba) only when a filter is made

    needed = usm_reach(radius) + 1
    if info.context < needed:
        info = info.with_facts(context=needed)
    return ClassicalFilter(
        info=info,
        apply=partial(unsharp_mask, amount=amount, radius=radius, threshold=threshold),
    )


def cas(info: ModelInfo, sharpness: float = 0.5) -> ClassicalFilter:
    from acutance.filters import contrast_adaptive_sharpen

    return ClassicalFilter(info=info, apply=partial(contrast_adaptive_sharpen, sharpness=sharpness))


FORMAT = None  # no model file: the family's filters are named by the registry alone

# name -> (task, scales, context): input pixels each output reads on each side
_FACTS = {
    "usm": ("sharpen", (1,), 4),  # blur cut at 3 sigma: ceil(3 * radius) + 1
    "cas": ("sharpen", (1,), 1),
    "cas-x2": ("upscale", (2,), 4),  # bicubic x2 reads 2 input pixels, CAS 1 output pixel
    "anime4k-x2": ("upscale", (2,), 4),  # bicubic x2 reads 2 input pixels, one push pass 2 output pixels
}


@dataclass(frozen=True)
class Named:
    """What ``read`` gives: the filter's name as ``meta`` for ``describe``."""

    meta: dict


def read(name: str) -> Named:
    if name not in _FACTS:
        raise ModelError(f"{name!r} is not a classical filter (known: {', '.join(_FACTS)})")
    return Named({"name": name})


def describe(meta: dict) -> dict:
    task, scales, context = _FACTS[meta["name"]]
    return {"task": task, "scales": scales, "context": context, "default_scale": float(scales[0])}


def Enhancer(info: ModelInfo, model: Named) -> ClassicalFilter:  # noqa: N802 (the family face's constructor)
    name = model.meta["name"]
    if name == "usm":
        return usm(info)
    if name == "cas":
        return cas(info)
    from acutance.filters import anime4k_upscale, cas_upscale

    return ClassicalFilter(info=info, apply=cas_upscale if name == "cas-x2" else anime4k_upscale, upscale=True)


def load(info: ModelInfo) -> ClassicalFilter:
    """A classical filter by its registry descriptor (``info.name``)."""
    return Enhancer(info, read(info.name))
