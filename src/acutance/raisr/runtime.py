"""Registered hashed-filter models: the enhancer wrapper and the registry loader.

Inference itself is ``acutance.raisr.model.run`` (numpy + the compiled kernels; no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.models.weights import check_scale, read_shipped, weight_path
from acutance.raisr.model import HashedModel, load_model_file, run


@dataclass(frozen=True)
class HashedEnhancer:
    """A loaded model as an enhancer: ``enhancer(rgb, scale) -> rgb`` with ``.info``."""

    info: ModelInfo
    model: HashedModel

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        check_scale(self.info, self.model.scale, scale)
        return run(self.model, rgb)


def load(info: ModelInfo) -> HashedEnhancer:
    """Registry loader: reads ``acutance/weights/{info.name}.npz``."""
    model = read_shipped(info, load_model_file, lambda m: m.scale)
    if model.task != info.task:
        raise ModelError(f"{weight_path(info.name)}: model task is {model.task!r}, descriptor says {info.task!r}")
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
