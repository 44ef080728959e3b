"""Face restorers at inference: ``load_restorer(name_or_path)(crop) -> crop``.

A restorer takes an aligned face crop (float32 HxWx3 RGB in [0, 1]; the pipeline's crops are 512x512 on the
5-point template of ``acutance.faces.align``) and returns the restored crop, same size and range.

- ``face-restore`` (shipped, ``acutance/weights/face-restore.onnx``): our FaceUNet trained on LFW, run by
  onnxruntime. It works at its native size (128: what LFW's small faces support, see
  docs/face_restorer.md); a larger crop is area-shrunk to it, restored, bicubic-enlarged back, and the
  crop's own detail above the native band (crop minus its shrunk-and-enlarged copy) is added back, so a
  sharp high-resolution face keeps its fine texture and only the coarser structure is restored.
- any ``.onnx`` file written by ``acutance.faces.train.export_onnx`` (its metadata gives the native size);
- a GFPGAN v1.3/v1.4 "clean" checkpoint (``.pth``, ``.pt`` or ``.safetensors``), detected by its keys and run
  in torch (extra ``train``) with its stored noise, so results are repeatable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError

META_KEY = "acutance"
FORMAT = "acutance-face-restorer-1"  # the family's tag (older exports say only native_size: models.families)


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area when shrinking (antialiased), bicubic when enlarging; ``size = (height, width)``."""
    h, w = rgb.shape[:2]
    if (h, w) == size:
        return rgb
    mode = cv2.INTER_AREA if size[0] < h and size[1] < w else cv2.INTER_CUBIC
    return cv2.resize(rgb, (size[1], size[0]), interpolation=mode).reshape(size[0], size[1], 3)


def _at_native(run: Callable[[np.ndarray], np.ndarray], rgb: np.ndarray, native: int, keep_detail: bool) -> np.ndarray:
    """Run ``run`` (native x native in, same out) on ``rgb`` of any size, as the module docstring says."""
    h, w = rgb.shape[:2]
    small = _resize(rgb, (native, native))
    restored = _resize(run(small), (h, w))
    if keep_detail and (h, w) != (native, native):
        restored = restored + (rgb - _resize(small, (h, w)))
    return np.clip(restored, 0.0, 1.0).astype(np.float32)


@dataclass
class FaceRestorer:
    """A loaded restorer: ``restorer(crop) -> crop`` (float32 HxWx3 RGB in [0, 1], same size).

    name: the shipped name or the file name; native_size: the side the network works at;
    meta: the file's description (training data, options, measured figures).
    """

    name: str
    native_size: int
    run_native: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    keep_detail: bool = True
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        check_rgb(crop, "face crop")
        return _at_native(self.run_native, crop, self.native_size, self.keep_detail)


def _onnx_restorer(data: str | os.PathLike | bytes, name: str) -> FaceRestorer:
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise ModelError(f"face restorer {name!r} needs the 'onnx' extra (onnxruntime): {error}") from None
    try:
        session = ort.InferenceSession(data if isinstance(data, bytes) else str(data), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for bad files
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelError(f"{name}: cannot load the ONNX face restorer (truncated or corrupt?): {first[:200]}") from None
    raw = session.get_modelmeta().custom_metadata_map.get(META_KEY)
    if raw is None:
        raise ModelError(f"{name}: ONNX file without the '{META_KEY}' metadata (native_size); "
                         "export it with acutance.faces.train.export_onnx")
    try:
        meta = json.loads(raw)
        native = int(meta["native_size"])
    except (ValueError, KeyError, TypeError) as error:
        raise ModelError(f"{name}: bad '{META_KEY}' metadata in the ONNX file: {error}") from None
    in_name, out_name = session.get_inputs()[0].name, session.get_outputs()[0].name

    def run(rgb: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)
        return session.run([out_name], {in_name: x})[0][0].transpose(1, 2, 0)

    return FaceRestorer(name=meta.get("name", name), native_size=native, run_native=run, meta=meta)


def _gfpgan_restorer(path: Path) -> FaceRestorer:
    from acutance.faces.checkpoint import load_gfpgan

    module, config = load_gfpgan(path)
    import torch

    def run(rgb: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)) * 2 - 1
        with torch.no_grad():
            out = module(x)
        return ((out[0].clamp(-1, 1) + 1) / 2).numpy().transpose(1, 2, 0)

    # GFPGAN restores the whole band of its native size: nothing of the input is added back
    return FaceRestorer(name=path.stem, native_size=config.out_size, run_native=run, keep_detail=False,
                        meta={"arch": "GFPGANv1Clean", "hyper_parameters": config.__dict__, "source": path.name})


def load_restorer(name_or_path: str | os.PathLike) -> FaceRestorer:
    """A registered restorer by name (``face-restore``) or a file (``.onnx``, GFPGAN ``.pth``/``.pt``/``.safetensors``)."""
    key = str(name_or_path)
    from acutance.models.registry import REGISTRY, load_model

    if key in REGISTRY:
        if REGISTRY[key].task != "face":
            raise ModelError(f"{key!r} is a {REGISTRY[key].task} model, not a face restorer")
        return load_model(key).restorer  # type: ignore[attr-defined]
    from acutance.models.families import FAMILIES

    path = Path(name_or_path)
    suffix = path.suffix.lower()
    suffixes = FAMILIES["deep"].suffixes  # our ONNX restorers, or GFPGAN torch checkpoints
    if suffix not in suffixes:
        known = ", ".join(name for name, info in REGISTRY.items() if info.loader == __name__)
        raise ModelError(f"unknown face restorer {key!r}: use one of {known} or a {'/'.join(suffixes)} file")
    if not path.is_file():
        raise ModelError(f"face restorer file not found: {path}")
    if suffix == ".onnx":
        return read(path)
    return _gfpgan_restorer(path)


# ------------------------------------------------------------------------------------------- the family


def read(path: str | os.PathLike) -> FaceRestorer:
    """An ONNX face restorer written by ``acutance.faces.train.export_onnx``."""
    return _onnx_restorer(Path(path), Path(path).stem)


def describe(meta: dict) -> dict:
    """A restorer works on aligned face crops of any size (at its ``native_size`` inside): no scale, no tiles."""
    return {"task": "face", "scales": (1,), "requires": ("onnxruntime",), "context": 0, "default_scale": 1.0}


@dataclass(frozen=True)
class FaceModel:
    """A registered restorer: ``restorer(crop) -> crop``. Not an image-to-image model: called as one, it
    says where it belongs (a face restorer would smear a whole photo into one face)."""

    info: Any
    restorer: FaceRestorer

    def __call__(self, rgb: np.ndarray, scale: float = 1.0) -> np.ndarray:
        raise ModelError(
            f"{self.info.name} restores aligned face crops, not whole images: use 'acutance faces IN' or "
            f"'acutance upscale IN --face-enhance --face-restorer {self.info.name}'"
        )


Enhancer = FaceModel
