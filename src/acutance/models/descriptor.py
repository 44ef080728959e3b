"""What a model is, stated once: the typed descriptor every registered enhancer carries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Literal, Protocol

import numpy as np

Task = Literal["upscale", "denoise", "deblock", "sharpen", "face"]
TASKS: tuple[str, ...] = ("upscale", "denoise", "deblock", "sharpen", "face")


@dataclass(frozen=True)
class ModelInfo:
    """The descriptor of a registered model.

    name: registry key, e.g. ``bicubic`` or ``raisr-x2``.
    task: what it does.
    scales: the integer factors it supports; ``None`` means any positive factor (interpolators).
    summary: one line for ``acutance list``.
    licence: of the method's weights/code as shipped here.
    loader: ``"module:function"``; the function takes the ``ModelInfo`` and returns an ``Enhancer``.
        Only this module is imported by ``load_model``.
    requires: Python packages (extras) the model needs beyond the core, e.g. ``("onnxruntime",)``.
    input: what the model expects; every model takes ``float32 HxWx3 RGB in [0, 1]``, this says how it
        treats it (e.g. ``"rgb"``, ``"luma"`` for models that filter Y and interpolate chroma).
    tile: advised tile size in input pixels (0: the model is cheap in memory, tiling not needed).
    context: input pixels of receptive field on each side; tiles get this much extra border.
    options: keyword options its loader takes (e.g. ``("detail",)``), passed by ``load_model(name, **options)``.
    """

    name: str
    task: Task
    scales: tuple[int, ...] | None
    summary: str
    licence: str
    loader: str
    requires: tuple[str, ...] = ()
    input: str = "rgb"
    tile: int = 0
    context: int = 8
    default_scale: float = field(default=2.0)
    options: tuple[str, ...] = ()

    def supports_scale(self, scale: float) -> bool:
        if self.scales is None:
            return scale > 0
        return any(abs(scale - s) < 1e-9 for s in self.scales)

    def measured(self) -> dict:
        """Quality and speed measured by ``benchmarks/`` (empty if this model was not benchmarked)."""
        return dict(_measured_table().get(self.name, {}))


class Enhancer(Protocol):
    """A loaded model: a pure function of the image, with its descriptor."""

    info: ModelInfo

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        """float32 HxWx3 RGB in [0, 1] -> float32 (H*scale)x(W*scale)x3 (not necessarily clipped)."""
        ...


@lru_cache(maxsize=1)
def _measured_table() -> dict:
    # Written by benchmarks/sr_quality.py; shipped inside the package so installed copies have it too.
    try:
        text = resources.files("acutance.models").joinpath("measured.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return json.loads(text).get("models", {})
