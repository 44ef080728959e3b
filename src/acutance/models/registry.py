"""The registry: every named model, written out in one table.

Looking a model up imports nothing; ``load_model`` imports only the module named in its ``loader``.
A new model is one more ``ModelInfo`` line here (and a row in the benchmarks).
"""

from __future__ import annotations

import importlib

from acutance.errors import ModelError
from acutance.models.descriptor import Enhancer, ModelInfo

_INTERP = "acutance.models.interpolation:load"
_CLASSICAL = "acutance.models.classical:load"
_RAISR = "acutance.raisr.runtime:load"


def _raisr(scale: int) -> ModelInfo:
    return ModelInfo(
        name=f"raisr-x{scale}",
        task="upscale",
        scales=(scale,),
        summary=f"RAISR: bicubic x{scale} then a learned 11x11 filter per pixel, chosen by structure-tensor hash",
        licence="Apache-2.0",
        loader=_RAISR,
        input="luma",
        context=8,  # bicubic 2 LR px + (filter radius 5 + hash window 4 + gradient 1) HR px
    )


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


def load_model(name: str) -> Enhancer:
    """Load a registered model by name, importing only the module it needs."""
    info = model_info(name)
    module_name, _, function = info.loader.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        extras = ", ".join(info.requires) or "its dependencies"
        raise ModelError(f"model {name!r} needs {extras}: {error}") from error
    return getattr(module, function)(info)
