"""Hashed-filter models (RAISR upscaling, BLADE restoration): layers, inference and the model file.

A model works in YCbCr (MATLAB convention). The state starts as the input's YCbCr, upscaled with MATLAB
bicubic when ``scale > 1``, and each layer adds a learned residual to one channel of it:

- ``shuffle`` (filter-then-pixel-shuffle, RAISR on the LR grid): every pixel of the *input* channel gets a
  k x k patch and ``scale^2`` filters, one per position of its ``scale x scale`` output block;
- ``same``: every pixel of the *current* channel gets one k x k filter (RAISR's upscale-then-filter when it
  is the first layer of an upscaler; a refinement pass after another layer; BLADE for restoration);
- ``coarse``: a ``same`` layer run on the current channel shrunk 2x (area average), its residual enlarged
  back (bilinear) and added: BLADE's multiscale step, where strong noise is halved and a small filter
  reaches twice as far.

Patches are taken relative to their centre pixel, so no filter can shift a flat area: the residual does not
depend on the level of brightness or colour (a colour far from the training data's stays put).

The filter is picked per pixel by the structure-tensor hash (``hashing``) of the ``guide`` channel (of the
input for ``shuffle``, of the current state for ``same``), times the pixel type for ``same`` layers with
``params.scale > 1`` (position in the upscaling grid). Untouched channels stay bicubic.

The model file is the config: an ``.npz`` with, per layer ``i``, ``layer{i}.filters`` and its two threshold
arrays, and ``meta`` (a JSON string: format, task, scale, the layers' settings, training data, measured
numbers). Loading reads everything from the file and fails with ``ModelError`` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from acutance.color.fast import TO_RGB, TO_YCBCR, transform
from acutance.contract import check_rgb
from acutance.errors import AcutanceError, ModelError
from acutance.models.weights import read_model_npz, write_model_npz
from acutance.raisr.hashing import HashParams, hash_image
from acutance.resize import imresize

FORMAT = "acutance-hashed-filters-1"
KINDS = ("shuffle", "same", "coarse")
TASKS = ("upscale", "denoise", "deblock", "sharpen")
_LAYER_KEYS = ("kind", "channel", "guide", "k", "period", "n_angle", "window", "sigma")


@dataclass(frozen=True)
class Layer:
    """One hashed filter bank. ``filters``: float32 (n_buckets, outputs, k*k), row-major taps."""

    kind: str
    channel: int  # YCbCr channel written: 0 = Y
    guide: int  # channel hashed to choose the filter
    k: int
    params: HashParams  # params.scale is the pixel-type period (1: no pixel types)
    filters: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelError(f"unknown layer kind {self.kind!r} (known: {', '.join(KINDS)})")
        if self.k < 1 or self.k % 2 == 0:
            raise ModelError(f"filter size must be odd, got {self.k}")
        if not (0 <= self.channel < 3 and 0 <= self.guide < 3):
            raise ModelError(f"channel and guide must be 0, 1 or 2, got {self.channel}, {self.guide}")
        if self.filters.ndim != 3 or self.filters.shape[0] != self.params.n_buckets or self.filters.shape[2] != self.k**2:
            raise ModelError(
                f"filters have shape {self.filters.shape}, expected ({self.params.n_buckets}, outputs, {self.k**2})"
            )
        if self.kind in ("shuffle", "coarse") and self.params.scale != 1:
            raise ModelError(f"a {self.kind} layer has no pixel types (period 1)")

    @property
    def outputs(self) -> int:
        return int(self.filters.shape[1])


@dataclass(frozen=True)
class HashedModel:
    """A stack of layers; ``scale`` 1 for restoration models."""

    task: str
    scale: int
    layers: tuple[Layer, ...]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ModelError(f"unknown task {self.task!r} (known: {', '.join(TASKS)})")
        if self.scale < 1:
            raise ModelError(f"scale must be >= 1, got {self.scale}")
        for index, layer in enumerate(self.layers):
            expected = self.scale**2 if layer.kind == "shuffle" else 1
            if layer.outputs != expected:
                raise ModelError(f"layer {index} ({layer.kind}) has {layer.outputs} outputs, expected {expected}")

    def truncated(self, n_layers: int) -> "HashedModel":
        return replace(self, layers=self.layers[:n_layers])


def _pad(image: np.ndarray, radius: int) -> np.ndarray:
    # Mirrored with the edge repeated (OpenCV BORDER_REFLECT), as imresize and the hash treat borders.
    return np.pad(image, radius, mode="symmetric")


def apply_layer(layer: Layer, source: np.ndarray, state: np.ndarray, scale: int, hashes: dict | None = None) -> None:
    """Apply one layer in place: ``source`` is the input YCbCr (LR for upscalers), ``state`` the current one.

    ``hashes`` (optional) keeps bucket maps between layers: BLADE's two chroma layers hash the same luma.
    """
    from acutance.raisr import kernels

    hashes = {} if hashes is None else hashes
    key = (layer.kind, layer.guide, layer.params)
    if key not in hashes:
        guide = (source if layer.kind == "shuffle" else state)[:, :, layer.guide]
        hashes[key] = hash_image(shrink(guide) if layer.kind == "coarse" else guide, layer.params)
    buckets = hashes[key]
    radius = layer.k // 2
    filters = layer.filters[:, 0]
    if layer.kind == "shuffle":
        padded = _pad(np.ascontiguousarray(source[:, :, layer.channel]), radius)
        base = np.ascontiguousarray(state[:, :, layer.channel])
        out = kernels.filter_shuffle(padded, buckets, layer.filters, layer.k, scale, base)
    elif layer.kind == "coarse":
        plane = np.ascontiguousarray(state[:, :, layer.channel])
        low = shrink(plane)
        low_out = kernels.filter_same(_pad(low, radius), buckets, filters, filters.sum(axis=1), layer.k, low)
        out = plane + enlarge(low_out - low, plane.shape)
    else:
        plane = np.ascontiguousarray(state[:, :, layer.channel])
        out = kernels.filter_same(_pad(plane, radius), buckets, filters, filters.sum(axis=1), layer.k, plane)
    state[:, :, layer.channel] = out
    for stale in [k for k in hashes if k[0] != "shuffle" and k[1] == layer.channel]:  # that plane changed
        del hashes[stale]


def shrink(plane: np.ndarray) -> np.ndarray:
    """The plane at half size: 2x2 averages (an odd edge's last row/column repeated first).

    Always exactly 2x, never a fractional factor, so that the result is the same on any even-aligned crop
    (tiles give the same output as the whole image).
    """
    import cv2

    height, width = plane.shape
    plane = np.ascontiguousarray(plane, dtype=np.float32)
    if height % 2 or width % 2:
        plane = np.pad(plane, ((0, height % 2), (0, width % 2)), mode="edge")
    return cv2.resize(plane, (plane.shape[1] // 2, plane.shape[0] // 2), interpolation=cv2.INTER_AREA)


def enlarge(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A half-size plane back at ``shape`` (bilinear at exactly 2x, then cut to ``shape``)."""
    import cv2

    double = cv2.resize(np.ascontiguousarray(plane, dtype=np.float32), (2 * plane.shape[1], 2 * plane.shape[0]),
                        interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(double[: shape[0], : shape[1]])



def initial_state(model: HashedModel, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(input YCbCr, starting state): the state is the bicubic upscale for upscalers, a copy otherwise.

    The luma is upscaled with MATLAB-exact bicubic (the layers were trained on it); the chroma, which no
    layer of an upscaler touches, with OpenCV's cubic (3x faster, visually the same).
    """
    import cv2

    source = transform(rgb, TO_YCBCR)
    if model.scale == 1:
        return source, source.copy()
    height, width = source.shape[0] * model.scale, source.shape[1] * model.scale
    state = np.empty((height, width, 3), np.float32)
    state[:, :, 0] = imresize(source[:, :, 0], model.scale)
    if any(layer.channel > 0 for layer in model.layers):
        state[:, :, 1:] = imresize(source[:, :, 1:], model.scale)  # trained on MATLAB chroma: keep it exact
    else:
        state[:, :, 1:] = cv2.resize(source[:, :, 1:], (width, height), interpolation=cv2.INTER_CUBIC)
    return source, state


def run_ycbcr(model: HashedModel, rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> the model's output in YCbCr (float32, sH x sW x 3)."""
    check_rgb(rgb)
    source, state = initial_state(model, rgb)
    hashes: dict = {}
    for layer in model.layers:
        apply_layer(layer, source, state, model.scale, hashes)
    return state


def run(model: HashedModel, rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> float32 (sH)x(sW)x3 RGB (not clipped, unless back-projected)."""
    out = transform(run_ycbcr(model, rgb), TO_RGB)
    steps = int(model.meta.get("back_projection", 0)) if model.scale > 1 else 0
    for _ in range(steps):
        out = back_project(np.clip(out, 0.0, 1.0), rgb, model.scale)
    return out


def back_project(hr: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    """One step of iterative back-projection: add the bicubic upscale of what ``lr`` and the MATLAB-bicubic
    downscale of ``hr`` disagree on. On the clipped RGB, so it also repairs what clipping took away."""
    return hr + imresize(lr - imresize(hr, 1.0 / scale), scale)


def save_model(model: HashedModel, path: str | Path) -> Path:
    """Write the model file (npz, no pickle); returns its path."""
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for index, layer in enumerate(model.layers):
        p = layer.params
        layers.append(
            {"kind": layer.kind, "channel": layer.channel, "guide": layer.guide, "k": layer.k,
             "period": p.scale, "n_angle": p.n_angle, "window": p.window, "sigma": p.sigma}
        )
        arrays[f"layer{index}.filters"] = layer.filters.astype(np.float32)
        arrays[f"layer{index}.strength_thresholds"] = np.asarray(p.strength_thresholds, np.float32)
        arrays[f"layer{index}.coherence_thresholds"] = np.asarray(p.coherence_thresholds, np.float32)
    meta = dict(model.meta) | {"format": FORMAT, "task": model.task, "scale": model.scale, "layers": layers}
    return write_model_npz(path, meta, arrays)


def load_model_file(path: str | Path) -> HashedModel:
    """Read a model file strictly: every key present, nothing else, shapes consistent."""
    name = str(path)
    meta, arrays = read_model_npz(path, FORMAT, "hashed-filter model file")
    missing = [key for key in ("task", "scale", "layers") if key not in meta]
    if missing:
        raise ModelError(f"{name}: 'meta' lacks {', '.join(missing)}")
    layer_meta = meta["layers"]
    if not isinstance(layer_meta, list) or not all(isinstance(entry, dict) for entry in layer_meta):
        raise ModelError(f"{name}: 'layers' must be a list of layer descriptions")
    expected = {
        f"layer{i}.{part}" for i in range(len(layer_meta))
        for part in ("filters", "strength_thresholds", "coherence_thresholds")
    }
    if set(arrays) != expected:
        missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
        raise ModelError(f"{name}: inconsistent model file (missing {missing or 'none'}, unexpected {extra or 'none'})")
    try:
        layers = []
        for index, entry in enumerate(layer_meta):
            absent = [key for key in _LAYER_KEYS if key not in entry]
            if absent:
                raise ModelError(f"layer {index} lacks {', '.join(absent)}")
            params = HashParams(
                scale=int(entry["period"]),
                strength_thresholds=tuple(float(t) for t in np.ravel(arrays[f"layer{index}.strength_thresholds"])),
                coherence_thresholds=tuple(float(t) for t in np.ravel(arrays[f"layer{index}.coherence_thresholds"])),
                n_angle=int(entry["n_angle"]),
                window=int(entry["window"]),
                sigma=float(entry["sigma"]),
            )
            _check_ranges(index, entry, params)
            filters = np.ascontiguousarray(arrays[f"layer{index}.filters"], dtype=np.float32)
            if not np.all(np.isfinite(filters)):
                raise ModelError(f"layer {index} has non-finite filter taps")
            layers.append(Layer(str(entry["kind"]), int(entry["channel"]), int(entry["guide"]), int(entry["k"]),
                                params, filters))
        scale = int(meta["scale"])
        if not 1 <= scale <= MAX_SCALE:
            raise ModelError(f"scale {scale} is outside 1..{MAX_SCALE}")
        return HashedModel(task=str(meta["task"]), scale=scale, layers=tuple(layers), meta=meta)
    except AcutanceError as error:
        raise ModelError(f"{name}: {error}") from None
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise ModelError(f"{name}: invalid model parameters: {error}") from None


# What a model file may ask for (the shipped models use k 7, window 9, 24 angles, period <= 2); beyond these
# a file could make one small image cost unbounded memory or time before the budget sees it.
MAX_SCALE = 8
MAX_TAPS = 31  # filter size k and hash window
MAX_ANGLES = 256
MAX_THRESHOLDS = 64
MAX_STRENGTH = 1e3


def _check_ranges(index: int, entry: dict, params: HashParams) -> None:
    k = int(entry["k"])
    if not 1 <= k <= MAX_TAPS or not params.window <= MAX_TAPS:
        raise ModelError(f"layer {index}: filter size {k} / hash window {params.window} is outside 1..{MAX_TAPS}")
    if params.n_angle > MAX_ANGLES or not 1 <= params.scale <= MAX_SCALE:
        raise ModelError(f"layer {index}: {params.n_angle} angles / period {params.scale} is out of range")
    strength, coherence = params.strength_thresholds, params.coherence_thresholds
    if (len(strength) > MAX_THRESHOLDS or len(coherence) > MAX_THRESHOLDS or not np.isfinite(params.sigma)
            or not all(0 <= t <= MAX_STRENGTH for t in strength) or not all(0 <= t <= 1 for t in coherence)):
        # (coherence lies in [0, 1]; a strength past 1e3 on [0, 1] images overflows float32 when squared)
        raise ModelError(f"layer {index}: hash thresholds must be strengths in 0..{MAX_STRENGTH:g} and coherences "
                         f"in 0..1, at most {MAX_THRESHOLDS} each, and sigma finite")
