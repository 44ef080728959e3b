"""The registry: every named model, written out in one table.

Looking a model up imports nothing; ``load_model`` imports only the module named in its ``loader``.
A new model is one more ``ModelInfo`` line here (and a row in the benchmarks).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from acutance.errors import ModelError, OptionError
from acutance.models.descriptor import Enhancer, ModelInfo

_INTERP = "acutance.models.interpolation:load"
_CLASSICAL = "acutance.models.classical:load"
_HASHED = "acutance.raisr.runtime:load"
_DEEP = "acutance.deep.shipped:load"


def _raisr(scale: int, back_projection: int = 0) -> ModelInfo:
    return ModelInfo(
        name=f"raisr-x{scale}",
        task="upscale",
        scales=(scale,),
        summary=(
            f"RAISR x{scale}: hashed learned filters on the LR grid (pixel shuffle), then two hashed refinement "
            "passes on the HR luma; chroma bicubic" + (f"; {back_projection} back-projection steps" if back_projection else "")
        ),
        licence="Apache-2.0",
        loader=_HASHED,
        input="luma",
        # bicubic 2 + LR layer (filter 4 + hash 3) + ceil(HR passes 13 / scale); each back-projection step
        # reads 4 more LR pixels (MATLAB-bicubic downscale 2, bicubic upscale 2)
        context=16 + 4 * back_projection,
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


def _deep(name: str, scale: int, summary: str, options: tuple[str, ...] = ()) -> ModelInfo:
    """A deep network shipped as ONNX (``acutance/weights/NAME.onnx``), run by onnxruntime."""
    return ModelInfo(
        name=name,
        task="upscale",
        scales=(scale,),
        summary=summary,
        licence="Apache-2.0",
        loader=_DEEP,
        requires=("onnxruntime",),
        tile=512,
        context=12,  # 10 convolutions at LR (one pixel each) + bicubic skip 2
        options=options,
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
    _raisr(2, back_projection=2),
    *(_raisr(scale) for scale in (3, 4)),
    *(
        ModelInfo(
            name=f"lut-x{scale}",
            task="upscale",
            scales=(scale,),
            summary=(
                f"LUT SR x{scale}: S+D+Y 4-bit int8 tables, 4-simplex interpolation, rotation ensemble, on Y"
                + ("; two stages (1x, then x4) as MuLUT" if scale == 4 else "")
            ),
            licence="Apache-2.0",
            loader="acutance.lut.runtime:load",
            input="luma",
            context=4,  # patterns reach 2 LR pixels per stage (x4: two stages); bicubic chroma 2
        )
        for scale in (2, 3, 4)
    ),
    *(
        ModelInfo(
            name=f"esr-max-c{channels}-k{k}-x2",
            task="upscale",
            scales=(2,),
            summary=(
                f"edge-SR eSR-MAX x2 on Y: {4 * channels} {k}x{k} filters, pixel shuffle, max over {channels} "
                "channels (single layer; onnxruntime or OpenCV convolution)"
            ),
            licence="Apache-2.0",
            loader="acutance.edgesr.runtime:load",
            input="luma",
            context=max(k // 2, 2),  # the filters reach k // 2 LR pixels; bicubic chroma 2
        )
        for channels, k in ((4, 5), (8, 7))
    ),
    ModelInfo(
        name="lerf",
        task="upscale",
        scales=None,
        summary="LeRF-style resampler, any scale or size: LUT-predicted steerable Gaussian kernels after a LUT refinement, on Y",
        licence="Apache-2.0",
        loader="acutance.lut.lerf:load",
        input="luma",
        context=8,  # refinement 2 + kernel tables 2 + 4x4 window 2 LR pixels; bicubic chroma 2
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
    _deep("compact-x2", 2, "Compact SRVGG net x2 (32 features, 8 convs, bicubic skip; 0.09M params), L1 on the SR protocol"),
    _deep("compact-x4", 4, "Compact SRVGG net x4 (32 features, 8 convs, bicubic skip; 0.09M params), L1 on the SR protocol"),
    _deep(
        "real-x4",
        4,
        "Real-world x4: compact SRVGG trained on the Real-ESRGAN degradations, then GAN; --detail 0..1 blends "
        "the fidelity and GAN weights",
        options=("detail",),
    ),
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
    suffix = path.suffix.lower()
    if suffix in _DEEP_SUFFIXES:
        # Deep nets: ONNX files, or torch checkpoints detected and converted in memory (acutance.deep).
        from acutance.deep.runtime import load_file

        return load_file(path)
    if suffix != ".npz":
        known = ", ".join((".npz", *_DEEP_SUFFIXES))
        raise ModelError(f"{path}: unknown model file type {path.suffix!r} (known: {known})")
    loader = _NPZ_LOADERS.get(_npz_format(path))
    if loader is None:
        known = ", ".join(_NPZ_LOADERS)
        raise ModelError(f"{path}: not a model file of a known format (format {_npz_format(path)!r}; known: {known})")
    module_name, _, function = loader.partition(":")
    return getattr(importlib.import_module(module_name), function)(path)


_DEEP_SUFFIXES = (".onnx", ".pth", ".pt", ".safetensors")

# An .npz model file names its format in the JSON string under "meta" (the file is the config).
_NPZ_LOADERS = {
    "acutance-hashed-filters-1": "acutance.raisr.runtime:load_file",
    "acutance-lut-1": "acutance.lut.runtime:load_file",
    "acutance-lerf-1": "acutance.lut.lerf:load_file",
    "acutance-edgesr-1": "acutance.edgesr.runtime:load_file",
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


def load_model(name: str, **options) -> Enhancer:
    """Load a registered model by name (or a model file by path), importing only the module it needs.

    options: keyword options the model's loader takes (``ModelInfo.options``), e.g. ``detail=0.5``; None
    values are ignored.
    """
    options = {key: value for key, value in options.items() if value is not None}
    if name not in REGISTRY and (Path(name).suffix or os.sep in name):
        if options:
            raise OptionError(f"{', '.join(options)} applies to registered models only, not to the file {name}")
        return load_model_file(name)
    info = model_info(name)
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        takes = f"takes only {', '.join(info.options)}" if info.options else "takes no options"
        raise OptionError(f"model {name!r} {takes}, not {', '.join(unknown)}")
    module_name, _, function = info.loader.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        extras = ", ".join(info.requires) or "its dependencies"
        raise ModelError(f"model {name!r} needs {extras}: {error}") from error
    return getattr(module, function)(info, **options)
