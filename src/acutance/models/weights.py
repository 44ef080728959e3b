"""Model files shipped inside the package (``acutance/weights/NAME.npz``), read the same way by every loader."""

from __future__ import annotations

from importlib import resources
from typing import Callable, TypeVar

from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo

M = TypeVar("M")


def weight_path(name: str):
    """The shipped model file ``acutance/weights/{name}.npz`` (an importlib.resources Traversable)."""
    return resources.files("acutance").joinpath("weights", f"{name}.npz")


def read_shipped(info: ModelInfo, read: Callable[[object], M], scale_of: Callable[[M], int]) -> M:
    """``read(path)`` the model file of ``info``; refuse a missing file or one whose scale contradicts ``info``."""
    resource = weight_path(info.name)
    if not resource.is_file():
        raise ModelError(f"model file for {info.name!r} not found: {resource}")
    with resources.as_file(resource) as path:
        model = read(path)
    if info.scales is not None and tuple(info.scales) != (scale_of(model),):
        raise ModelError(f"{resource}: model is x{scale_of(model)}, descriptor says scales {info.scales}")
    return model


def check_scale(info: ModelInfo, model_scale: int, scale: float) -> None:
    """A fixed-scale model asked for another scale: one clear error."""
    if abs(scale - model_scale) > 1e-9:
        what = f"upscales x{model_scale} only" if model_scale > 1 else "keeps the size (scale 1)"
        raise ModelError(f"{info.name} {what}, not x{scale:g}")
