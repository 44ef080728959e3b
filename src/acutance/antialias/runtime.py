"""The anti-aliasing family (``aa-x1`` and files from ``acutance train aa``): ``FORMAT``, ``read``,
``describe`` and the ``Enhancer``. Inference is ``acutance.antialias.model.antialias`` (numba; no torch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acutance.antialias.model import FORMAT, AAModel, antialias, load_model_file
from acutance.models.descriptor import ModelInfo
from acutance.models.weights import check_scale

__all__ = ["FORMAT", "AntialiasEnhancer", "Enhancer", "describe", "read"]

read = load_model_file


@dataclass(frozen=True)
class AntialiasEnhancer:
    """A loaded model as an enhancer: ``enhancer(rgb, 1) -> rgb`` (same size) with ``.info``."""

    info: ModelInfo
    model: AAModel

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        check_scale(self.info, 1, scale)
        return antialias(rgb, self.model)


Enhancer = AntialiasEnhancer


def describe(meta: dict) -> dict:
    """The descriptor facts of a model file, from its ``meta`` (same size: the task closest is 'sharpen')."""
    k, radius = int(meta["k"]), int(meta["radius"])
    return {"task": "sharpen", "scales": (1,), "input": "rgb", "context": max(k // 2, radius + 1),
            "default_scale": 1.0}
