"""Registered hashed-filter models: the enhancer wrapper and the registry loader.

Inference itself is ``acutance.raisr.model.run`` (numpy + the compiled kernels; no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.raisr.model import HashedModel, load_model_file, run


@dataclass(frozen=True)
class HashedEnhancer:
    """A loaded model as an enhancer: ``enhancer(rgb, scale) -> rgb`` with ``.info``."""

    info: ModelInfo
    model: HashedModel

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        if abs(scale - self.model.scale) > 1e-9:
            what = f"upscales x{self.model.scale} only" if self.model.scale > 1 else "keeps the size (scale 1)"
            raise ModelError(f"{self.info.name} {what}, not x{scale:g}")
        return run(self.model, rgb)


def weight_path(name: str):
    """The shipped model file ``acutance/weights/{name}.npz`` (an importlib.resources Traversable)."""
    return resources.files("acutance").joinpath("weights", f"{name}.npz")


def load(info: ModelInfo) -> HashedEnhancer:
    """Registry loader: reads ``acutance/weights/{info.name}.npz``."""
    resource = weight_path(info.name)
    if not resource.is_file():
        raise ModelError(f"model file for {info.name!r} not found: {resource}")
    with resources.as_file(resource) as path:
        model = load_model_file(path)
    if info.scales is not None and tuple(info.scales) != (model.scale,):
        raise ModelError(f"{resource}: model is x{model.scale}, descriptor says scales {info.scales}")
    if model.task != info.task:
        raise ModelError(f"{resource}: model task is {model.task!r}, descriptor says {info.task!r}")
    return HashedEnhancer(info=info, model=model)


def context_pixels(model: HashedModel) -> int:
    """Input pixels each output depends on, on each side (for tiling): filter + hash window + gradient."""
    lr, hr = 2 if model.scale > 1 else 0, 0  # bicubic reads 2 input pixels
    for layer in model.layers:
        reach = layer.k // 2 + layer.params.window // 2 + 1
        if layer.kind == "shuffle":
            lr += reach
        else:
            hr += 2 * reach if layer.kind == "coarse" else reach
    return lr + -(-hr // model.scale)


def load_file(path: str | Path) -> HashedEnhancer:
    """A model file of your own (``acutance train raisr|blade -o MODEL``) as an enhancer."""
    model = load_model_file(path)
    info = ModelInfo(
        name=Path(path).stem,
        task=model.task,  # type: ignore[arg-type]
        scales=(model.scale,),
        summary=f"hashed filters from {path}",
        licence="(your model)",
        loader="acutance.raisr.runtime:load_file",
        input="luma" if all(layer.channel == 0 for layer in model.layers) else "ycbcr",
        context=context_pixels(model),
        default_scale=float(model.scale),
    )
    return HashedEnhancer(info=info, model=model)
