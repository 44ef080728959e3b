"""Model files shipped inside the package (``acutance/weights/NAME.npz``), read the same way by every loader."""

from __future__ import annotations

import json
import zipfile
from importlib import resources
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

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


def write_model_npz(path, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write a model file: compressed npz (no pickle), ``meta`` as a JSON string beside the arrays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    return path


def read_model_npz(path, fmt: str, what: str) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a model file written by :func:`write_model_npz`, ``meta`` removed from the arrays.

    A file that cannot be read, has no ``meta`` or is of another ``format`` gets one-line ``ModelError``
    naming the file and ``what`` (e.g. "LUT model file"); the caller checks the arrays against ``meta``.
    """
    name = str(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ModelError(f"{name}: cannot read {what}: {error}") from None
    if "meta" not in arrays:
        raise ModelError(f"{name}: not a {what} (no 'meta' entry; keys: {sorted(arrays)[:6]})")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (json.JSONDecodeError, TypeError) as error:
        raise ModelError(f"{name}: 'meta' is not a JSON string: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise ModelError(f"{name}: 'meta' must be a JSON object with format {fmt!r}")
    return meta, arrays
