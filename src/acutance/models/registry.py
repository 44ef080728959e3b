"""The registry: every named model, written out in one table.

A row is name, family, file, summary and licence; everything else a descriptor says (task, scales, context,
tiling advice, ...) is the family's description of the file (``acutance.models.families``), read from the
file's header the first time it is asked for. Looking a model up imports nothing; ``load_model`` imports only
its family's module. A new shipped model is its file in ``acutance/weights/`` plus one row here (and a row
in the benchmarks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from acutance.errors import ModelError, OptionError
from acutance.models import families
from acutance.models.descriptor import Enhancer, ModelInfo, RegisteredInfo


@dataclass(frozen=True)
class Row:
    """name: the registry key; family: a key of ``families.FAMILIES``; file: in ``acutance/weights/`` (None
    for families without files)."""

    name: str
    family: str
    file: str | None
    summary: str
    licence: str = "Apache-2.0"


def _raisr(scale: int, back_projection: int = 0) -> Row:
    summary = (
        f"RAISR x{scale}: hashed learned filters on the LR grid (pixel shuffle), then two hashed refinement "
        "passes on the HR luma; chroma bicubic" + (f"; {back_projection} back-projection steps" if back_projection else "")
    )
    return Row(f"raisr-x{scale}", "hashed", f"raisr-x{scale}.npz", summary)


def _blade(task: str, level: int) -> Row:
    what = f"Gaussian noise sigma {level} (0-255)" if task == "denoise" else f"JPEG quality {level} artefacts"
    name = f"blade-denoise-{level}" if task == "denoise" else f"blade-deblock-q{level}"
    return Row(name, "hashed", f"{name}.npz", f"BLADE: hashed learned 7x7 filters that remove {what}; luma, then chroma guided by it")


def _esr(name: str, summary: str) -> Row:
    return Row(name, "edgesr", f"{name}.npz", f"edge-SR {summary} x2 on Y (single layer; onnxruntime or OpenCV convolution)")


_ROWS: tuple[Row, ...] = (
    Row("bicubic", "interpolation", None, "MATLAB-exact bicubic (a = -0.5, antialiased when shrinking): the field's baseline"),
    Row("lanczos", "interpolation", None, "MATLAB-exact Lanczos-3: sharper than bicubic, with a little more ringing"),
    Row("nearest", "interpolation", None, "Nearest neighbour: blocky, keeps pixel art crisp"),
    Row("usm", "classical", None, "Unsharp mask (amount 0.5, radius 1, no threshold): the classic, can halo on strong edges"),
    Row("cas", "classical", None, "AMD FidelityFX Contrast Adaptive Sharpening (sharpness 0.5): no halos (method by AMD, MIT)"),
    Row("cas-x2", "classical", None, "MATLAB bicubic x2 then CAS: approximates FidelityFX CAS upscaling (method by AMD, MIT)"),
    Row("anime4k-x2", "classical", None, "Bicubic then Anime4K v0.9 push (1 pass): thinner lines, steeper edges (method by bloc97, MIT)"),
    _raisr(2, back_projection=2),
    _raisr(3),
    _raisr(4),
    *(
        Row(f"lut-x{scale}", "lut", f"lut-x{scale}.npz",
            f"LUT SR x{scale}: S+D+Y 4-bit int8 tables, 4-simplex interpolation, rotation ensemble, on Y"
            + ("; two stages (1x, then x4) as MuLUT" if scale == 4 else ""))
        for scale in (2, 3, 4)
    ),
    *(
        Row(f"splut-x{scale}", "splut", f"splut-x{scale}.npz",
            f"SPLUT x{scale} trained here (CPU runs): 4-bit MSB/LSB branches of int16 tables, 8 channels, "
            f"two series stages (SPLUT-M's shape), on each RGB channel; at or below lut-x{scale}, faster")
        for scale in (2, 4)
    ),
    *(
        _esr(f"esr-max-c{channels}-k{k}-x2", f"eSR-MAX: {4 * channels} {k}x{k} filters, pixel shuffle, max over {channels} channels")
        for channels, k in ((4, 5), (8, 7))
    ),
    _esr("esr-tm-c2-k5-x2", "eSR-TM: 2 channels of 5x5 value/key filters, softmax template matching"),
    _esr("esr-tm-c4-k7-x2", "eSR-TM: 4 channels of 7x7 value/key filters, softmax template matching"),
    _esr("esr-tr-c2-k5-x2", "eSR-TR: 2 channels of 5x5 value/query/key filters, softmax attention"),
    _esr("esr-tr-c4-k7-x2", "eSR-TR: 4 channels of 7x7 value/query/key filters, softmax attention"),
    _esr("esr-cnn-c4-d4-s8-x2", "eSR-CNN: two tanh convolutions (4 and 8 features) before a 4-channel softmax head"),
    Row("lerf", "lerf", "lerf.npz",
        "LeRF-style resampler, any scale or size: LUT-predicted steerable Gaussian kernels after a LUT refinement, on Y"),
    Row("raisr-fast-x2", "hashed", "raisr-fast-x2.npz",
        "RAISR x2 for real time: one layer of hashed 7x7 filters on the LR grid (pixel shuffle)"),
    *(_blade("denoise", sigma) for sigma in (15, 25, 50)),
    Row("blade-denoise-ms-50", "hashed", "blade-denoise-ms-50.npz",
        "BLADE multiscale, sigma 50: the same steps first at half size (noise halved, twice the reach), then at full size"),
    *(_blade("deblock", quality) for quality in (10, 20, 30, 40)),
    Row("compact-x2", "deep-shipped", "compact-x2.onnx",
        "Compact SRVGG net x2 (32 features, 8 convs, bicubic skip; 0.09M params), L1 on the SR protocol"),
    Row("compact-x4", "deep-shipped", "compact-x4.onnx",
        "Compact SRVGG net x4 (32 features, 8 convs, bicubic skip; 0.09M params), L1 on the SR protocol"),
    Row("irn-x2", "deep-shipped", "irn-x2.onnx",
        "IRN-style invertible rescaling x2, robust to JPEG: restores LR images made by 'acutance downscale "
        "--model irn-x2' (z = 0); not for other LR images"),
    Row("irn-x2-plain", "deep-shipped", "irn-x2-plain.onnx",
        "IRN-style invertible rescaling x2 trained without JPEG: restores 'acutance downscale --model irn-x2-plain' LRs"),
    Row("irn-x4", "deep-shipped", "irn-x4.onnx",
        "IRN-style invertible rescaling x4 trained without JPEG: restores 'acutance downscale --model irn-x4' LRs"),
    Row("real-x4", "deep-shipped", "real-x4.onnx",
        "Real-world x4: compact SRVGG trained on the Real-ESRGAN degradations, then GAN; --detail 0..1 blends "
        "the fidelity and GAN weights"),
    *(
        Row(f"vsr-x{scale}", "vsr", f"vsr-x{scale}.onnx",
            f"Temporal video x{scale}: a small recurrent net over compact-x{scale}, fed the previous output, hidden "
            "state and next frame aligned by DIS flow; streams in constant memory, resets at scene cuts")
        for scale in (4, 2)
    ),
    Row("blade-sharpen", "hashed", "blade-sharpen.npz",
        "BLADE: hashed learned 7x7 filters trained to undo a Gaussian blur of sigma 1; no halos on flat areas"),
    Row("face-restore", "face", "face-restore.onnx",
        "Our face restorer (FaceUNet on aligned LFW crops, 128 px native): 'acutance faces' and --face-enhance"),
    Row("face-quality", "face-quality", "face-quality.npz",
        "SDD-FIQA-style face image quality (MLP on dlib features; higher is better): 'acutance metrics --face-quality'"),
    Row("dncm", "dncm", "dncm.npz",
        "DNCM-style colour mapping encoder (histograms of a thumbnail -> per-image curves): 'acutance style --ref'"),
    Row("niqe-pristine", "niqe", "niqe-pristine.npz",
        "NIQE's pristine model, fitted on BSDS500 (no-reference, lower is better): 'acutance metrics --niqe'"),
    Row("inpaint-gc", "inpaint", "inpaint-gc.onnx",
        "Inpainting network (gated convolutions + attention at low resolution, residuals transferred at full "
        "resolution): 'acutance inpaint --method learned'"),
    Row("pre-encode-chooser", "pre-encode", "pre-encode-chooser.npz",
        "Per-scene sharpening level before encoding (ridge fit on frequency features): 'acutance video --pre-encode auto'"),
    Row("aa-x1", "antialias", "aa-x1.npz",
        "Learned anti-aliasing: hashed 7x7 filters on edge pixels turn jaggies into clean edges: 'acutance antialias'"),
)

ROWS: dict[str, Row] = {row.name: row for row in _ROWS}


def _describer(row: Row):
    def describe() -> dict:
        if row.file is None:
            return families.cached_describe(row.name, row.family, None,
                                            lambda: families.describe(row.family, {"name": row.name}))
        with resources.as_file(_shipped(row)) as path:
            return families.cached_describe(row.name, row.family, Path(path),
                                            lambda: families.describe(row.family, families.header(path)))

    return describe


def _shipped(row: Row):
    resource = families.shipped(row.file)  # type: ignore[arg-type]
    if not resource.is_file():
        raise ModelError(f"model file for {row.name!r} not found: {resource}")
    return resource


REGISTRY: dict[str, ModelInfo] = {
    row.name: RegisteredInfo(row.name, row.summary, row.licence, families.FAMILIES[row.family].module, _describer(row))
    for row in _ROWS
}


def list_models(task: str | None = None) -> list[ModelInfo]:
    """Descriptors of all registered models (optionally of one task), in registry order."""
    return [info for info in REGISTRY.values() if task is None or info.task == task]


def model_info(name: str) -> ModelInfo:
    """The descriptor of a registered model; ``ModelError`` naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise ModelError(f"unknown model {name!r}; known models: {known} (see 'acutance list')") from None


def load_model_file(path: str | os.PathLike) -> Enhancer:
    """Load a model file of your own (e.g. written by ``acutance train``): its family by suffix and format."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    return families.load(families.family_of_file(path), path)


def load_model(name: str, **options) -> Enhancer:
    """Load a registered model by name (or a model file by path), importing only its family's module.

    options: keyword options the model takes (``ModelInfo.options``), e.g. ``detail=0.5``; None values are
    ignored.
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
    row = ROWS[name]
    try:
        families.module(row.family)
    except ImportError as error:
        extras = ", ".join(info.requires) or "its dependencies"
        raise ModelError(f"model {name!r} needs {extras}: {error}") from error
    if row.file is None:
        return families.load(row.family, row.name, info, **options)
    with resources.as_file(_shipped(row)) as path:
        return families.load(row.family, path, info, **options)
