"""Classical filters as enhancers: unsharp mask, AMD CAS (plain and after bicubic x2), Anime4K push."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError
from acutance.filters import anime4k_upscale, cas_upscale, contrast_adaptive_sharpen, unsharp_mask, usm_reach
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
            return self.apply(rgb, scale)
        if scale != 1:
            raise ModelError(f"model {self.info.name!r} keeps the size; it takes no scale other than 1")
        return self.apply(rgb)


def usm(info: ModelInfo, amount: float = 0.5, radius: float = 1.0, threshold: float = 0.0) -> ClassicalFilter:
    """Unsharp mask with these options; the context grows with the radius so tiles stay seamless."""
    needed = usm_reach(radius) + 1
    if info.context < needed:
        info = replace(info, context=needed)
    return ClassicalFilter(
        info=info,
        apply=partial(unsharp_mask, amount=amount, radius=radius, threshold=threshold),
    )


def cas(info: ModelInfo, sharpness: float = 0.5) -> ClassicalFilter:
    return ClassicalFilter(info=info, apply=partial(contrast_adaptive_sharpen, sharpness=sharpness))


def load(info: ModelInfo) -> ClassicalFilter:
    if info.name == "usm":
        return usm(info)
    if info.name == "cas":
        return cas(info)
    if info.name == "cas-x2":
        return ClassicalFilter(info=info, apply=cas_upscale, upscale=True)
    if info.name == "anime4k-x2":
        return ClassicalFilter(info=info, apply=anime4k_upscale, upscale=True)
    raise ModelError(f"{info.name!r} is not a classical filter")
