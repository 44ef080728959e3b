"""RAISR inference (upscale-then-filter, on luminance) and the model file.

RGB -> YCbCr; all three channels upscaled with MATLAB bicubic (``imresize``); the upscaled Y is hashed
(``acutance.raisr.hashing``) and every pixel gets ``dot(k x k patch, filters[bucket])`` added: a learned
residual over bicubic. Chroma stays bicubic. Plain numpy (no torch), in row chunks to bound memory.

The model file is the config: an ``.npz`` holding ``filters`` (n_buckets x k*k), ``strength_thresholds``,
``coherence_thresholds`` and ``meta`` (a JSON string: format, scale, k, hash parameters, training data,
measured numbers). Loading reads everything from the file and fails with ``ModelError`` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from acutance.color import rgb_to_ycbcr, ycbcr_to_rgb
from acutance.contract import check_rgb
from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.raisr.hashing import HashParams, hash_image
from acutance.resize import imresize

FORMAT = "acutance-raisr-1"
_KEYS = ("filters", "strength_thresholds", "coherence_thresholds", "meta")
_META_KEYS = ("format", "scale", "k", "n_angle", "window", "sigma")
_CHUNK_PIXELS = 1 << 16  # pixels per filtering chunk: ~32 MB of float32 patches at k = 11


@dataclass(frozen=True)
class RaisrModel:
    """A trained filter bank: ``filters[bucket]`` is the k x k residual filter (row-major) of that bucket."""

    filters: np.ndarray  # float32 (params.n_buckets, k * k)
    params: HashParams
    k: int
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        expected = (self.params.n_buckets, self.k * self.k)
        if self.filters.shape != expected:
            raise ModelError(f"filters have shape {self.filters.shape}, expected {expected}")

    @property
    def scale(self) -> int:
        return self.params.scale


def _pad(image: np.ndarray, radius: int) -> np.ndarray:
    # Mirrored with the edge repeated (OpenCV BORDER_REFLECT), as imresize and the hash treat borders.
    return np.pad(image, radius, mode="symmetric")


def extract_patches(image: np.ndarray, k: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The k x k patches centred on (rows, cols) of an HxW image, as (n, k*k) rows (mirrored border)."""
    windows = np.lib.stride_tricks.sliding_window_view(_pad(image, k // 2), (k, k))
    return windows[rows, cols].reshape(len(rows), k * k)


def filter_luma(model: RaisrModel, up_y: np.ndarray) -> np.ndarray:
    """Bicubic-upscaled luma (float32 HxW) -> RAISR luma: up_y + per-pixel learned residual."""
    up_y = np.ascontiguousarray(up_y, dtype=np.float32)
    height, width = up_y.shape
    buckets = hash_image(up_y, model.params)
    k, radius = model.k, model.k // 2
    padded = _pad(up_y, radius)
    out = np.empty_like(up_y)
    filters = np.ascontiguousarray(model.filters, dtype=np.float32)
    rows_per_chunk = max(1, _CHUNK_PIXELS // width)
    for r0 in range(0, height, rows_per_chunk):
        r1 = min(height, r0 + rows_per_chunk)
        windows = np.lib.stride_tricks.sliding_window_view(padded[r0 : r1 + 2 * radius], (k, k))
        patches = windows.reshape((r1 - r0) * width, k * k)  # copies: rows of patches
        chosen = filters[buckets[r0:r1].ravel()]
        residual = np.einsum("ij,ij->i", patches, chosen)
        out[r0:r1] = up_y[r0:r1] + residual.reshape(r1 - r0, width)
    return out


def upscale(model: RaisrModel, rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> float32 (sH)x(sW)x3 RGB (not clipped)."""
    check_rgb(rgb)
    ycc = imresize(rgb_to_ycbcr(rgb), model.scale)
    ycc[:, :, 0] = filter_luma(model, ycc[:, :, 0])
    return ycbcr_to_rgb(ycc)


def save_model(model: RaisrModel, path: str | Path) -> Path:
    """Write the model file (npz, no pickle); returns its path."""
    p = model.params
    meta = dict(model.meta) | {
        "format": FORMAT,
        "scale": p.scale,
        "k": model.k,
        "n_angle": p.n_angle,
        "window": p.window,
        "sigma": p.sigma,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez_compressed(
            handle,
            filters=model.filters.astype(np.float32),
            strength_thresholds=np.asarray(p.strength_thresholds, np.float32),
            coherence_thresholds=np.asarray(p.coherence_thresholds, np.float32),
            meta=np.array(json.dumps(meta, sort_keys=True)),
        )
    return path


def load_model_file(path: str | Path) -> RaisrModel:
    """Read a model file strictly: every key present, nothing else, shapes consistent."""
    name = str(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if keys != set(_KEYS):
                missing, extra = sorted(set(_KEYS) - keys), sorted(keys - set(_KEYS))
                raise ModelError(
                    f"{name}: not a RAISR model file (expected keys {', '.join(_KEYS)}; "
                    f"missing {missing or 'none'}, unexpected {extra or 'none'})"
                )
            arrays = {key: data[key] for key in _KEYS}
    except ModelError:
        raise
    except (OSError, ValueError, EOFError) as error:
        raise ModelError(f"{name}: cannot read RAISR model file: {error}") from None
    try:
        meta = json.loads(str(arrays["meta"]))
    except (json.JSONDecodeError, TypeError) as error:
        raise ModelError(f"{name}: 'meta' is not a JSON string: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{name}: 'meta' must be a JSON object with format {FORMAT!r}")
    missing = [key for key in _META_KEYS if key not in meta]
    if missing:
        raise ModelError(f"{name}: 'meta' lacks {', '.join(missing)}")
    try:
        params = HashParams(
            scale=int(meta["scale"]),
            strength_thresholds=tuple(float(t) for t in np.ravel(arrays["strength_thresholds"])),
            coherence_thresholds=tuple(float(t) for t in np.ravel(arrays["coherence_thresholds"])),
            n_angle=int(meta["n_angle"]),
            window=int(meta["window"]),
            sigma=float(meta["sigma"]),
        )
        filters = np.asarray(arrays["filters"], dtype=np.float32)
        return RaisrModel(filters=filters, params=params, k=int(meta["k"]), meta=meta)
    except ModelError as error:
        raise ModelError(f"{name}: {error}") from None
    except (ValueError, TypeError) as error:
        raise ModelError(f"{name}: invalid RAISR parameters: {error}") from None


@dataclass(frozen=True)
class Raisr:
    """A loaded RAISR model as an enhancer: ``model(rgb, scale) -> rgb`` with ``.info``."""

    info: ModelInfo
    model: RaisrModel

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        if abs(scale - self.model.scale) > 1e-9:
            raise ModelError(f"{self.info.name} upscales x{self.model.scale} only, not x{scale:g}")
        return upscale(self.model, rgb)


def weight_path(name: str):
    """The shipped model file ``acutance/weights/{name}.npz`` (an importlib.resources Traversable)."""
    return resources.files("acutance").joinpath("weights", f"{name}.npz")


def load(info: ModelInfo) -> Raisr:
    """Registry loader: reads ``acutance/weights/{info.name}.npz``."""
    resource = weight_path(info.name)
    if not resource.is_file():
        raise ModelError(f"model file for {info.name!r} not found: {resource}")
    with resources.as_file(resource) as path:
        model = load_model_file(path)
    if info.scales is not None and tuple(info.scales) != (model.scale,):
        raise ModelError(f"{resource}: model is x{model.scale}, descriptor says scales {info.scales}")
    return Raisr(info=info, model=model)
