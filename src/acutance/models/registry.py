"""The registry: every named model, written out in one table.

Looking a model up imports nothing; ``load_model`` imports only the module named in its ``loader``.
A new model is one more ``ModelInfo`` line here (and a row in the benchmarks).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from acutance.errors import ModelError
from acutance.models.descriptor import Enhancer, ModelInfo

_INTERP = "acutance.models.interpolation:load"
_CLASSICAL = "acutance.models.classical:load"
_HASHED = "acutance.raisr.runtime:load"


def _raisr(scale: int) -> ModelInfo:
    return ModelInfo(
        name=f"raisr-x{scale}",
        task="upscale",
        scales=(scale,),
        summary=(
            f"RAISR x{scale}: hashed learned filters on the LR grid (pixel shuffle), then two hashed refinement "
            "passes on the HR luma; chroma bicubic"
        ),
        licence="Apache-2.0",
        loader=_HASHED,
        input="luma",
        context=16,  # bicubic 2 + LR layer (filter 4 + hash 3) + ceil(HR passes 13 / scale)
    )


def _restorer(name: str, task: str, summary: str, context: int = 20) -> ModelInfo:
    """A same-size hashed-filter model (BLADE); context: four layers of filter radius + hash window + gradient."""
    return ModelInfo(
        name=name,
        task=task,  # type: ignore[arg-type]
        scales=(1,),
        summary=summary,
        licence="Apache-2.0",
        loader=_HASHED,
        input="ycbcr",
        context=context,
        default_scale=1.0,
    )


def _blade(task: str, level: int) -> ModelInfo:
    what = f"Gaussian noise sigma {level} (0-255)" if task == "denoise" else f"JPEG quality {level} artefacts"
    name = f"blade-denoise-{level}" if task == "denoise" else f"blade-deblock-q{level}"
    return _restorer(name, task, f"BLADE: hashed learned 7x7 filters that remove {what}; luma, then chroma guided by it")


_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        name="bicubic",
        task="upscale",
        scales=None,
        summary="MATLAB-exact bicubic (a = -0.5, antialiased when shrinking): the field's baseline",
        licence="Apache-2.0",
        loader=_INTERP,
        context=4,
    ),
    ModelInfo(
        name="lanczos",
        task="upscale",
        scales=None,
        summary="MATLAB-exact Lanczos-3: sharper than bicubic, with a little more ringing",
        licence="Apache-2.0",
        loader=_INTERP,
        context=6,
    ),
    ModelInfo(
        name="nearest",
        task="upscale",
        scales=None,
        summary="Nearest neighbour: blocky, keeps pixel art crisp",
        licence="Apache-2.0",
        loader=_INTERP,
        context=2,
    ),
    ModelInfo(
        name="usm",
        task="sharpen",
        scales=(1,),
        summary="Unsharp mask (amount 0.5, radius 1, no threshold): the classic, can halo on strong edges",
        licence="Apache-2.0",
        loader=_CLASSICAL,
        context=4,  # blur cut at 3 sigma: ceil(3 * radius) + 1
    ),
    ModelInfo(
        name="cas",
        task="sharpen",
        scales=(1,),
        summary="AMD FidelityFX Contrast Adaptive Sharpening (sharpness 0.5): no halos (method by AMD, MIT)",
        licence="Apache-2.0",
        loader=_CLASSICAL,
        context=1,
    ),
    ModelInfo(
        name="cas-x2",
        task="upscale",
        scales=(2,),
        summary="MATLAB bicubic x2 then CAS: approximates FidelityFX CAS upscaling (method by AMD, MIT)",
        licence="Apache-2.0",
        loader=_CLASSICAL,
        context=4,  # bicubic x2 reads 2 input pixels, CAS 1 output pixel
    ),
    ModelInfo(
        name="anime4k-x2",
        task="upscale",
        scales=(2,),
        summary="Bicubic then Anime4K v0.9 push (1 pass): thinner lines, steeper edges (method by bloc97, MIT)",
        licence="Apache-2.0",
        loader=_CLASSICAL,
        context=4,  # bicubic x2 reads 2 input pixels, one push pass 2 output pixels
    ),
    *(_raisr(scale) for scale in (2, 3, 4)),
    *(
        ModelInfo(
            name=f"lut-x{scale}",
            task="upscale",
            scales=(scale,),
            summary=f"LUT SR x{scale}: S+D+Y 4-bit int8 tables, 4-simplex interpolation, rotation ensemble, on Y",
            licence="Apache-2.0",
            loader="acutance.lut.runtime:load",
            input="luma",
            context=4,  # patterns reach 2 LR pixels; bicubic chroma 2
        )
        for scale in (2, 3, 4)
    ),
    ModelInfo(
        name="raisr-fast-x2",
        task="upscale",
        scales=(2,),
        summary="RAISR x2 for real time: one layer of hashed 7x7 filters on the LR grid (pixel shuffle)",
        licence="Apache-2.0",
        loader=_HASHED,
        input="luma",
        context=8,  # bicubic 2 + filter 3 + hash window 2 + gradient 1
    ),
    *(_blade("denoise", sigma) for sigma in (15, 25, 50)),
    _restorer(
        "blade-denoise-ms-50",
        "denoise",
        "BLADE multiscale, sigma 50: the same steps first at half size (noise halved, twice the reach), then at full size",
        context=40,  # three half-size layers count double
    ),
    *(_blade("deblock", quality) for quality in (10, 20, 30, 40)),
    _restorer(
        "blade-sharpen",
        "sharpen",
        "BLADE: hashed learned 7x7 filters trained to undo a Gaussian blur of sigma 1; no halos on flat areas",
    ),
)

REGISTRY: dict[str, ModelInfo] = {info.name: info for info in _MODELS}


def list_models(task: str | None = None) -> list[ModelInfo]:
    """Descriptors of all registered models (optionally of one task), in registry order."""
    return [info for info in _MODELS if task is None or info.task == task]


def model_info(name: str) -> ModelInfo:
    """The descriptor of a registered model; ``ModelError`` naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise ModelError(f"unknown model {name!r}; known models: {known} (see 'acutance list')") from None


def load_model_file(path: str | os.PathLike) -> Enhancer:
    """Load a model file of your own (e.g. written by ``acutance train``), by its extension and format."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    if path.suffix.lower() != ".npz":
        raise ModelError(f"{path}: unknown model file type {path.suffix!r} (known: .npz)")
    loader = _NPZ_LOADERS.get(_npz_format(path))
    if loader is None:
        known = ", ".join(_NPZ_LOADERS)
        raise ModelError(f"{path}: not a model file of a known format (format {_npz_format(path)!r}; known: {known})")
    module_name, _, function = loader.partition(":")
    return getattr(importlib.import_module(module_name), function)(path)


# An .npz model file names its format in the JSON string under "meta" (the file is the config).
_NPZ_LOADERS = {
    "acutance-hashed-filters-1": "acutance.raisr.runtime:load_file",
    "acutance-lut-1": "acutance.lut.runtime:load_file",
}


def _npz_format(path: Path) -> str | None:
    import json
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise ModelError(f"{path}: cannot read model file: {error}") from None
    return meta.get("format") if isinstance(meta, dict) else None


def load_model(name: str) -> Enhancer:
    """Load a registered model by name (or a model file by path), importing only the module it needs."""
    if name not in REGISTRY and (Path(name).suffix or os.sep in name):
        return load_model_file(name)
    info = model_info(name)
    module_name, _, function = info.loader.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        extras = ", ".join(info.requires) or "its dependencies"
        raise ModelError(f"model {name!r} needs {extras}: {error}") from error
    return getattr(module, function)(info)
