"""The learned inpainter at run time: onnxruntime, no torch.

1. Low resolution. The image is reflect-padded to a multiple of ``16 f`` and area-downsampled by the integer
   factor ``f = ceil(long side / low_res)`` (``low_res`` 512 by default: images up to 512 pixels run at their own
   size, a 2048 image at 512, a 3840x2160 one at 480x272). The mask is max-pooled (a block with any hole
   pixel is hole). The network (``net.py``, exported by ``train.py``) fills the hole there and returns its
   attention features: unit query vectors on a grid of tokens of 16 low-resolution pixels, and which tokens
   are known (no hole pixel in them or their neighbours).
2. Full resolution (HiFill's contextual residual aggregation, Yi et al. 2020). The low-resolution result is
   upsampled (bilinear). The known image's high frequencies, ``image - up(down(image))``, are cut into the
   tokens' ``16 f`` x ``16 f`` patches; each hole token receives the softmax-weighted sum (temperature from the
   file, the ``top_k`` best known tokens) of the known patches' residuals, by the same cosine scores the
   network's attention uses. So the hole gets real texture from the photo at its own resolution, at the cost
   of one small matrix product and a gather.
3. The border (``bridge`` pixels, ``BRIDGE`` = 24 by default). Within ``bridge`` pixels of the border the
   fill is blended from Telea's (OpenCV's fast marching, over the whole hole) to the learned one: weight
   ``(d - 1) / (bridge - 1)`` of the learned fill at distance ``d`` from the nearest real pixel. The first
   ring of hole pixels is Telea's exactly, so the step across the border is Telea's, and the learned content
   takes over further in. On 40 BSD100 images (the set that chose the width), against the fill without it:
   seam 6.77-6.99 (Telea's) instead of 8.14-8.45, hole PSNR +0.14-0.26 dB and SSIM +0.005-0.010 in the
   0-10 %, 20-30 % and 30-40 % bins. (Telea over a band only, marching from the learned fill too, was 0.05 dB
   worse and its first ring differed from Telea's in a few pixels.)

Only the hole's pixels of the result are used (``api.inpaint`` pastes them into the untouched input).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from acutance.errors import ModelError, OptionError

MODEL = "inpaint-gc.onnx"
BRIDGE = 24  # pixels inside the hole's border blended from Telea's fill (see 3. above; 8 to 32 were tried)
FORMAT = "acutance-inpaint-1"


def default_model() -> Path:
    from importlib import resources

    return Path(str(resources.files("acutance").joinpath("weights", MODEL)))


@lru_cache(maxsize=2)
def load_model(path: str) -> tuple[object, dict]:
    """(onnxruntime session, description) of an exported inpainting network; ModelError for another file."""
    import onnxruntime as ort

    if not Path(path).is_file():
        raise ModelError(f"inpainting model not found: {path}")
    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        raise ModelError(f"{path}: not an ONNX model onnxruntime can load ({str(error).splitlines()[0]})") from None
    meta = json.loads(session.get_modelmeta().custom_metadata_map.get("acutance", "{}") or "{}")
    if meta.get("format") != FORMAT:
        raise ModelError(f"{path}: not an acutance inpainting model (format {meta.get('format')!r}, expected {FORMAT!r})")
    names = [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
    if names != (["rgb", "mask"], ["output", "query", "known"]):
        raise ModelError(f"{path}: unexpected graph inputs/outputs {names}")
    return session, meta


def _pad(array: np.ndarray, pad_h: int, pad_w: int) -> np.ndarray:
    """Mirror-pad the bottom and right (OpenCV's border copy: several times faster than ``np.pad`` at 4K)."""
    import cv2

    if not (pad_h or pad_w):
        return array
    border = cv2.BORDER_REFLECT_101 if min(array.shape[:2]) > max(pad_h, pad_w) else cv2.BORDER_REFLECT
    return cv2.copyMakeBorder(array, 0, pad_h, 0, pad_w, border)


def _blocks(array: np.ndarray, size: int) -> np.ndarray:
    """(gh, gw, size, size, ...) view of an array whose sides are multiples of ``size``."""
    gh, gw = array.shape[0] // size, array.shape[1] // size
    return array.reshape(gh, size, gw, size, *array.shape[2:]).swapaxes(1, 2)


def inpaint_learned(rgb: np.ndarray, fill: np.ndarray, model: str | Path | None = None, low_res: int = 512,
                    residuals: bool = True, top_k: int = 4, bridge: int = BRIDGE) -> np.ndarray:
    """float32 HxWx3 whose ``fill`` pixels are inpainted (other pixels: not meaningful): the network's fill,
    blended from Telea's over the ``bridge`` pixels inside the border (0: the network's fill alone)."""
    if bridge < 0:
        raise OptionError(f"bridge must be >= 0 pixels, got {bridge}")
    filled = _network_fill(rgb, fill, model, low_res, residuals, top_k)
    return _bridged(rgb, fill, filled, bridge) if bridge > 1 else filled


def _bridged(rgb: np.ndarray, fill: np.ndarray, filled: np.ndarray, width: int) -> np.ndarray:
    """``filled`` with the hole pixels within ``width`` of the border blended from Telea's fill (at the
    border) to ``filled`` (at the band's inner edge); see 3. in the module docstring."""
    import cv2

    from acutance.inpaint.classical import inpaint_classical

    distance = cv2.distanceTransform(fill.astype(np.uint8), cv2.DIST_L2, 3)
    band = fill & (distance <= width)
    telea = inpaint_classical(rgb, fill, "telea")
    learned = np.clip((distance[band] - 1.0) / (width - 1.0), 0.0, 1.0)[:, None].astype(np.float32)
    out = filled.copy()
    out[band] = telea[band] * (1.0 - learned) + filled[band] * learned
    return out


def _network_fill(rgb, fill, model, low_res: int, residuals: bool, top_k: int) -> np.ndarray:
    import cv2

    from acutance.limits import check_memory

    if low_res < 64 or top_k < 1:
        raise OptionError(f"low_res must be >= 64 and top_k >= 1, got {low_res} and {top_k}")
    session, meta = load_model(str(model or default_model()))
    multiple = int(meta.get("multiple", 16))
    height, width = fill.shape
    factor = max(1, math.ceil(max(height, width) / low_res))
    unit = multiple * factor  # full-resolution pixels per token
    pad_h, pad_w = -height % unit, -width % unit
    # padded copy, upsampled result, residuals and their patches: about five float32 images
    check_memory(5 * (height + pad_h) * (width + pad_w) * 3 * 4, "inpainting")
    image = _pad(rgb, pad_h, pad_w)
    hole = np.pad(fill, ((0, pad_h), (0, pad_w)))  # padding is known
    big_h, big_w = hole.shape
    small = (big_w // factor, big_h // factor)
    if factor > 1:
        low = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
        low_hole = _blocks(hole, factor).any(axis=(2, 3))
    else:
        low, low_hole = image, hole
    m = low_hole.astype(np.float32)
    x = np.ascontiguousarray(low.transpose(2, 0, 1)[None])
    out, query, known = session.run(None, {"rgb": x, "mask": m[None, None]})
    filled = out[0].transpose(1, 2, 0)
    filled = np.where(low_hole[:, :, None], filled, low).astype(np.float32)
    if factor == 1:
        return filled[:height, :width]
    result = cv2.resize(filled, (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    if residuals:
        _add_residuals(result, image, low, hole, query[0], known[0, 0], unit, float(meta["spec"]["temperature"]), top_k)
    return result[:height, :width]


def _add_residuals(result, image, low, hole, query, known, unit, temperature, top_k) -> None:
    """Contextual residual aggregation, in place on the hole tokens of ``result``."""
    import cv2

    token_hole = _blocks(hole, unit).any(axis=(2, 3)).ravel()
    token_known = (known.ravel() > 0.5) & ~token_hole
    targets, sources = np.flatnonzero(token_hole), np.flatnonzero(token_known)
    if not len(targets) or not len(sources):
        return
    q = query.reshape(query.shape[0], -1)
    logits = temperature * (q[:, targets].T @ q[:, sources])  # (targets, sources)
    k = min(top_k, len(sources))
    best = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    chosen = np.take_along_axis(logits, best, axis=1)
    weights = np.exp(chosen - chosen.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    # residuals of the source tokens only: image minus its own low-resolution version, per patch
    blur = cv2.resize(low, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    patches_image, patches_blur = _blocks(image, unit), _blocks(blur, unit)
    gw = patches_image.shape[1]
    used, best = np.unique(best, return_inverse=True)  # only the source tokens some hole token attends to
    best = best.reshape(len(targets), k)
    rows, cols = np.divmod(sources[used], gw)
    residual = patches_image[rows, cols] - patches_blur[rows, cols]  # (used, unit, unit, 3)
    moved = np.zeros((len(targets), unit, unit, 3), np.float32)
    for j in range(k):
        moved += weights[:, j, None, None, None].astype(np.float32) * residual[best[:, j]]
    out_blocks = _blocks(result, unit)
    rows, cols = np.divmod(targets, gw)
    out_blocks[rows, cols] += moved


# ------------------------------------------------------------------------------------------- the family
# The shipped network is reachable by name (``load_model("inpaint-gc")``) like every weight file. It fills a
# mask, so it is not an image-to-image model: ``acutance.inpaint.inpaint`` (or ``Inpainter.inpaint``) runs it.


@dataclass(frozen=True)
class _File:
    path: str
    meta: dict


def read(path) -> _File:
    """An exported inpainting network, checked (format, graph inputs and outputs) by onnxruntime."""
    _, meta = load_model(str(path))
    return _File(str(path), meta)


def describe(meta: dict) -> dict:
    """Fills a mask on the whole image (no scale, no tiles: the hole is filled from the whole image)."""
    return {"task": "inpaint", "scales": (1,), "input": "rgb", "context": 0, "default_scale": 1.0}


@dataclass(frozen=True)
class Inpainter:
    info: object
    model: _File

    def inpaint(self, rgb: np.ndarray, mask: np.ndarray, **options) -> np.ndarray:
        from acutance.inpaint.api import inpaint

        return inpaint(rgb, mask, "learned", model=self.model.path, **options)

    def __call__(self, rgb: np.ndarray, scale: float = 1.0) -> np.ndarray:
        raise ModelError(f"{self.info.name} fills a mask: use 'acutance inpaint IN --mask MASK'")  # type: ignore[attr-defined]


Enhancer = Inpainter
