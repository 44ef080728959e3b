"""Downscaling without torch: ``bicubic`` (MATLAB-exact ``imresize``) or an IRN downscaler (onnxruntime).

An IRN pair is two shipped files: ``NAME.down.onnx`` (HR -> LR, this module) and ``NAME.onnx`` (LR -> HR with
z = 0, a registered deep model that ``acutance upscale`` runs). Both describe themselves in their ``acutance``
metadata (``acutance.deep.export``'s format; ``task`` ``downscale`` / ``upscale``). An HR whose sides are not
multiples of the scale is reflect-padded up to them (the LR is the padded image's, so it keeps every pixel
of the original), and the tag records the original size so the upscale is cropped back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError, OptionError

DOWNSCALERS = ("bicubic", "irn-x2", "irn-x2-plain", "irn-x4")  # irn-x2: the robust pair (JPEG in training)


@dataclass(frozen=True)
class Downscaler:
    name: str
    scale: int
    session: Any  # None for bicubic

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """The LR of float32 HxWx3 RGB: ``ceil(H / scale) x ceil(W / scale)``, float32 in [0, 1]."""
        check_rgb(rgb)
        s = self.scale
        height, width = rgb.shape[:2]
        if self.session is None:
            from acutance.resize import imresize

            return np.clip(imresize(rgb, 1.0 / s, method="bicubic"), 0, 1).astype(np.float32)
        padded = pad_to_multiple(rgb, s)
        x = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32)
        out = self.session.run(None, {self.session.get_inputs()[0].name: x})[0]
        if out.shape[2:] != (padded.shape[0] // s, padded.shape[1] // s):
            raise ModelError(f"{self.name}: the ONNX downscaler gave {out.shape} for a {width}x{height} input")
        return np.ascontiguousarray(np.clip(out[0], 0, 1).transpose(1, 2, 0), dtype=np.float32)


def down_path(path):
    """The downscaler's file beside the upscaler's ``NAME.onnx``: ``NAME.down.onnx``."""
    from pathlib import Path

    path = Path(path)
    return path.with_name(path.name.removesuffix(".onnx") + ".down.onnx")


def pad_to_multiple(rgb: np.ndarray, multiple: int) -> np.ndarray:
    """Reflect-pad (HxW or HxWxC) the bottom and right to multiples of ``multiple`` (edge-pad a 1-pixel side)."""
    pad_h, pad_w = -rgb.shape[0] % multiple, -rgb.shape[1] % multiple
    if not (pad_h or pad_w):
        return rgb
    mode = "reflect" if min(rgb.shape[:2]) > max(pad_h, pad_w) else "edge"
    return np.pad(rgb, ((0, pad_h), (0, pad_w)) + ((0, 0),) * (rgb.ndim - 2), mode=mode)


@lru_cache(maxsize=4)
def load_downscaler(name: str, scale: int | None = None) -> Downscaler:
    """``bicubic`` (needs ``scale``) or a shipped IRN downscaler (its scale is the file's)."""
    if name == "bicubic":
        if scale is None or int(scale) != scale or scale < 2:
            raise OptionError("--model bicubic needs --scale, an integer >= 2")
        return Downscaler("bicubic", int(scale), None)
    if name not in DOWNSCALERS:
        raise ModelError(f"unknown downscaler {name!r}; known: {', '.join(DOWNSCALERS)}")
    from importlib import resources

    resource = resources.files("acutance").joinpath("weights", f"{name}.down.onnx")
    if not resource.is_file():
        raise ModelError(f"model file for {name!r} not found: {resource}")
    with resources.as_file(resource) as path:
        return open_downscaler(path, name, scale)


def open_downscaler(path, name: str | None = None, scale: int | None = None) -> Downscaler:
    """An IRN downscaler file (``NAME.down.onnx``) of one's own or shipped."""
    from pathlib import Path

    from acutance.deep.runtime import make_session, read_meta

    session = make_session(path)
    meta = read_meta(session)
    if meta.get("task") != "downscale":
        raise ModelError(f"{path}: not a downscaler (task {meta.get('task')!r})")
    file_scale = int(meta["scale"])
    if scale is not None and int(scale) != file_scale:
        raise OptionError(f"{name or path} downscales by {file_scale}, not {scale}")
    return Downscaler(name or Path(path).name.removesuffix(".down.onnx"), file_scale, session)
