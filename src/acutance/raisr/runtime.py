"""The hashed-filter family (RAISR, BLADE): ``FORMAT``, ``read``, ``describe`` and the ``Enhancer``.

Inference itself is ``acutance.raisr.model.run`` (numpy + the compiled kernels; no torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.models.weights import check_scale, weight_path
from acutance.raisr.model import FORMAT, HashedModel, load_model_file, run

read = load_model_file

BICUBIC_REACH = 2  # LR pixels the bicubic start (MATLAB luma, OpenCV or MATLAB chroma) reads on each side
BACK_PROJECTION_REACH = 4  # LR pixels per back-projection step: MATLAB-bicubic shrink 2 + bicubic enlarge 2


@dataclass(frozen=True)
class HashedEnhancer:
    """A loaded model as an enhancer: ``enhancer(rgb, scale) -> rgb`` with ``.info``."""

    info: ModelInfo
    model: HashedModel

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        check_scale(self.info, self.model.scale, scale)
        return run(self.model, rgb)

    @property
    def tile_align(self) -> int:
        """Tiles must start on even pixels when a ``coarse`` layer works on the half-size grid."""
        return 2 if any(layer.kind == "coarse" for layer in self.model.layers) else 1


Enhancer = HashedEnhancer


def context_from_layers(scale: int, layers: list[dict], back_projection: int = 0) -> int:
    """Input pixels each output reads on each side, from the layers' settings (the model file's ``meta``).

    Reach is followed per YCbCr channel, so parallel paths count once (BLADE's chroma layers read the denoised
    luma through their hash, not through every earlier layer). A pixel's filter reads ``k // 2`` pixels of
    its own channel; its bucket, the guide's gradient (1) and structure-tensor window (``window // 2``).
    ``shuffle`` layers work on the LR input beside the bicubic start; ``same`` layers on the HR state;
    ``coarse`` layers at half size (twice the reach, plus 2 for the 2x2 area shrink and the bilinear
    enlargement). The HR reach is then counted in input pixels, and each back-projection step adds
    ``BACK_PROJECTION_REACH``.
    """
    lr = [BICUBIC_REACH if scale > 1 else 0] * 3  # LR pixels each channel of the state has read so far
    hr = [0] * 3  # and HR pixels since
    for layer in layers:
        channel, guide = int(layer["channel"]), int(layer["guide"])
        filt, bucket = int(layer["k"]) // 2, int(layer["window"]) // 2 + 1
        if layer["kind"] == "shuffle":  # reads the LR input itself, adds to the bicubic start
            lr[channel] = max(lr[channel], filt, bucket)
        elif layer["kind"] == "same":
            lr[channel] = max(lr[channel], lr[guide])
            hr[channel] = max(hr[channel] + filt, hr[guide] + bucket)
        else:  # coarse
            lr[channel] = max(lr[channel], lr[guide])
            hr[channel] = max(hr[channel] + 2 * filt + 2, hr[guide] + 2 * bucket + 2)
    return max(lr) + math.ceil(max(hr) / scale) + BACK_PROJECTION_REACH * back_projection


def context_pixels(model: HashedModel) -> int:
    """``context_from_layers`` of a loaded model."""
    return context_from_layers(model.scale, model.meta["layers"], _back_projection(model.meta))


def _back_projection(meta: dict) -> int:
    return int(meta.get("back_projection", 0)) if int(meta["scale"]) > 1 else 0


def describe(meta: dict) -> dict:
    """The descriptor facts of a hashed-filter model file, from its ``meta``."""
    scale = int(meta["scale"])
    layers = meta["layers"]
    return {
        "task": str(meta["task"]),
        "scales": (scale,),
        "input": "luma" if all(int(layer["channel"]) == 0 for layer in layers) else "ycbcr",
        "context": context_from_layers(scale, layers, _back_projection(meta)),
        "default_scale": float(scale),
    }


def load(info: ModelInfo) -> HashedEnhancer:
    """The shipped file ``acutance/weights/{info.name}.npz`` as an enhancer described by ``info``."""
    from importlib import resources

    resource = weight_path(info.name)
    if not resource.is_file():
        raise ModelError(f"model file for {info.name!r} not found: {resource}")
    with resources.as_file(resource) as path:
        return HashedEnhancer(info=info, model=read(path))


def load_file(path: str | Path) -> HashedEnhancer:
    """A model file of your own (``acutance train raisr|blade -o MODEL``) as an enhancer."""
    from acutance.models.registry import load_model_file

    return load_model_file(path)  # type: ignore[return-value]
