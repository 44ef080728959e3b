"""Interpolators as enhancers: MATLAB-exact bicubic, Lanczos-3 and nearest neighbour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.resize import imresize

_METHOD = {"bicubic": "bicubic", "lanczos": "lanczos3", "nearest": "nearest"}
# Input pixels each output reads on each side: half the kernel support, doubled for the antialiased shrink.
_CONTEXT = {"bicubic": 4, "lanczos": 6, "nearest": 2}
FORMAT = None  # no model file: the family's models are named by the registry alone


@dataclass(frozen=True)
class Interpolator:
    info: ModelInfo
    method: str

    def __call__(self, rgb: np.ndarray, scale: float | tuple[float, float]) -> np.ndarray:
        """One factor (MATLAB ``imresize(rgb, scale)``) or ``(scale_y, scale_x)``: size ``ceil(in * scale)`` per axis."""
        check_rgb(rgb)
        if isinstance(scale, tuple):
            from acutance.resize.matlab import output_size

            size = (output_size(rgb.shape[0], 1, scale[0])[0], output_size(1, rgb.shape[1], scale[1])[1])
            return imresize(rgb, size=size, method=self.method)
        return imresize(rgb, scale, method=self.method)


def read(name: str) -> "Method":
    if name not in _METHOD:
        raise ModelError(f"{name!r} is not an interpolator (known: {', '.join(_METHOD)})")
    return Method(_METHOD[name], {"name": name})


@dataclass(frozen=True)
class Method:
    """What ``read`` gives: the ``imresize`` method, and ``meta`` (the name) for ``describe``."""

    method: str
    meta: dict


def describe(meta: dict) -> dict:
    return {"task": "upscale", "scales": None, "context": _CONTEXT[meta["name"]]}


def Enhancer(info: ModelInfo, model: Method) -> Interpolator:  # noqa: N802 (the family face's constructor)
    return Interpolator(info=info, method=model.method)
