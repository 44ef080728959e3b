"""DNCM style transfer (after Neural Preset, Ke et al., CVPR 2023): deterministic neural colour mapping.

A small encoder looks at a thumbnail's colour statistics and predicts two per-image colour mappings: one that
*normalises* the image (takes its look away) and one that *stylises* (puts its look on another image). Style
transfer from a reference is ``stylise_ref(normalise_in(image))``. Applying a mapping is per-pixel arithmetic
(numba, full resolution, no network at the image's size), so it is fast at 4K, has no spatial artefacts, and
can be written out exactly as a 3D LUT (``ColourMapping.to_cube``).

The mapping. The paper's DNCM is ``I P T Q`` with learned ``P`` (3 x k), ``Q`` (k x 3) and an image-adaptive
``T`` (k x k); as written that is one 3x3 matrix overall and cannot express tone curves. Ours lifts each pixel
into a fixed piecewise-linear ("hat") basis of ``K`` knots on each of R, G, B and the luma Y (``4K`` features,
which sum to 1 per input, so a bias is included) and the encoder predicts ``T`` (``4K x 3``): every output
channel is a sum of 1-D curves of R, G, B and Y. That covers curves, white balance, channel mixing and
luma-dependent tints (split-toning) and stays a per-pixel dot product.

Model file: ``weights/dncm.npz`` with the encoder's arrays and a JSON ``meta`` entry (knots, feature layout);
trained by ``acutance train dncm`` (``dncm_train.py``). Runs without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import AcutanceError, ModelError, OptionError

FORMAT = "acutance-dncm-1"
INPUTS = 4  # R, G, B and Y
THUMB = 64  # the encoder's thumbnail: longest side, pixels
HIST3D = 8  # joint RGB histogram bins per axis
HIST1D = 32  # per-channel histogram bins (R, G, B, Y)
FEATURES = HIST3D**3 + 4 * HIST1D + 6
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "dncm.npz"


def identity_table(knots: int) -> np.ndarray:
    """``T`` of the identity mapping: output channel c is the hat-basis expansion of input channel c."""
    table = np.zeros((INPUTS, knots, 3), dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, knots, dtype=np.float32)
    for c in range(3):
        table[c, :, c] = ramp
    return table


def thumbnail(rgb: np.ndarray, size: int = THUMB) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    factor = size / max(h, w)
    if factor >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)


def encoder_features(rgb: np.ndarray) -> np.ndarray:
    """The encoder's input: joint and per-channel colour histograms (square-rooted) and channel means/stds of a
    thumbnail. The same function feeds training and inference."""
    small = np.clip(thumbnail(rgb), 0, 1).reshape(-1, 3)
    n = small.shape[0]
    index = np.minimum((small * HIST3D).astype(np.int64), HIST3D - 1)
    joint = np.bincount((index[:, 0] * HIST3D + index[:, 1]) * HIST3D + index[:, 2], minlength=HIST3D**3) / n
    channels = np.concatenate([small, (small @ LUMA)[:, None]], axis=1)
    bins = np.minimum((channels * HIST1D).astype(np.int64), HIST1D - 1)
    single = [np.bincount(bins[:, c], minlength=HIST1D) / n for c in range(4)]
    stats = np.concatenate([small.mean(0), small.std(0)])
    return np.concatenate([np.sqrt(joint), np.sqrt(np.concatenate(single)), stats]).astype(np.float32)


@dataclass(frozen=True)
class DncmEncoder:
    """The encoder: an MLP from ``encoder_features`` to the normalising and stylising tables."""

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]  # hidden layers (ReLU): (weight in x out, bias)
    normalise: tuple[np.ndarray, np.ndarray]
    stylise: tuple[np.ndarray, np.ndarray]
    knots: int
    meta: dict

    def _hidden(self, features: np.ndarray) -> np.ndarray:
        x = features
        for weight, bias in self.layers:
            x = np.maximum(x @ weight + bias, 0)
        return x

    def tables(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(normalising T, stylising T) of one image, each ``4 x K x 3``."""
        return self.tables_from_features(encoder_features(rgb))

    def tables_from_features(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tables of ``encoder_features`` (or a mean of several images' features: a shot's)."""
        hidden = self._hidden(features)
        base = identity_table(self.knots)
        shape = (INPUTS, self.knots, 3)
        n = base + (hidden @ self.normalise[0] + self.normalise[1]).reshape(shape)
        s = base + (hidden @ self.stylise[0] + self.stylise[1]).reshape(shape)
        return n.astype(np.float32), s.astype(np.float32)


def save_encoder(path: str | Path, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    path = Path(path)
    meta = {"format": FORMAT, **meta}
    np.savez(path, meta=np.array(json.dumps(meta)), **{k: v.astype(np.float32) for k, v in arrays.items()})
    return path


def load_encoder(path: str | Path | None = None) -> DncmEncoder:
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    return _load(str(path))


@lru_cache(maxsize=4)
def _load(path: str) -> DncmEncoder:
    if not Path(path).is_file():
        raise AcutanceError(f"{path}: no DNCM model file (train one with 'acutance train dncm')")
    from acutance.models.weights import read_model_npz

    meta, arrays = read_model_npz(path, FORMAT, "DNCM model file")  # strict, within the memory budget
    try:
        depth, knots = int(meta["hidden_layers"]), int(meta["knots"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{path}: DNCM 'meta' must give whole numbers 'hidden_layers' and 'knots'") from None
    try:
        layers = tuple((arrays[f"w{i}"], arrays[f"b{i}"]) for i in range(depth))
        encoder = DncmEncoder(layers, (arrays["wn"], arrays["bn"]), (arrays["ws"], arrays["bs"]), knots, meta)
    except KeyError as error:
        raise AcutanceError(f"{path}: DNCM model file lacks the array {error}") from None
    if layers[0][0].shape[0] != FEATURES or encoder.normalise[0].shape[1] != INPUTS * knots * 3:
        raise AcutanceError(f"{path}: DNCM arrays do not match {FEATURES} features and {knots} knots")
    return encoder


# --------------------------------------------------------------------------------------------- mapping


def packed_table(table: np.ndarray) -> np.ndarray:
    """``T`` (4 x K x 3) as the kernel reads it: 4 x K x 6, each knot's value and its slope to the next knot
    (0 at the last), so a curve is one multiply-add per output channel."""
    slope = np.zeros_like(table)
    slope[:, :-1] = table[:, 1:] - table[:, :-1]
    return np.ascontiguousarray(np.concatenate([table, slope], -1), dtype=np.float32)


def _kernel():
    import numba as nb

    f32 = np.float32

    @nb.njit(inline="always", fastmath=True)
    def curve(v, table, ch, last):  # one input's piecewise-linear curves (3 outputs); float32 throughout
        v = min(max(v, f32(0.0)), f32(1.0)) * last
        k = min(int(v), int(last) - 1)
        w = v - f32(k)
        return (table[ch, k, 0] + w * table[ch, k, 3], table[ch, k, 1] + w * table[ch, k, 4],
                table[ch, k, 2] + w * table[ch, k, 5])

    @nb.njit(inline="always", fastmath=True)
    def stage(r, g, b, table, last):
        a0, a1, a2 = curve(r, table, 0, last)
        b0, b1, b2 = curve(g, table, 1, last)
        c0, c1, c2 = curve(b, table, 2, last)
        d0, d1, d2 = curve(f32(0.299) * r + f32(0.587) * g + f32(0.114) * b, table, 3, last)
        return a0 + b0 + c0 + d0, a1 + b1 + c1 + d1, a2 + b2 + c2 + d2

    @nb.njit(parallel=True, fastmath=True, cache=True)
    def apply(rgb, first, second, strength, out):  # first, second: packed_table()s
        last = f32(first.shape[1] - 1)
        zero, one = f32(0.0), f32(1.0)
        for i in nb.prange(rgb.shape[0]):
            for j in range(rgb.shape[1]):
                r, g, b = rgb[i, j, 0], rgb[i, j, 1], rgb[i, j, 2]
                z0, z1, z2 = stage(r, g, b, first, last)
                y0, y1, y2 = stage(z0, z1, z2, second, last)
                # the look is clipped to [0, 1] first, so any strength blends two valid images
                out[i, j, 0] = r + strength * (min(max(y0, zero), one) - r)
                out[i, j, 1] = g + strength * (min(max(y1, zero), one) - g)
                out[i, j, 2] = b + strength * (min(max(y2, zero), one) - b)

    return apply


@lru_cache(maxsize=1)
def _apply_kernel():
    return _kernel()


@dataclass(frozen=True)
class ColourMapping:
    """A computed look: normalise with one table, stylise with the other. Compute it once (per image, per
    shot) and apply it to any number of frames; every pixel is mapped independently."""

    normalise: np.ndarray  # 4 x K x 3
    stylise: np.ndarray  # 4 x K x 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "_packed", (packed_table(self.normalise), packed_table(self.stylise)))

    def apply(self, rgb: np.ndarray, strength: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
        """The look on ``rgb`` (``out``: an optional float32 array of the same shape to write into)."""
        check_rgb(rgb)
        check_strength(strength)
        if out is None:
            out = np.empty_like(rgb)
        elif out.shape != rgb.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise OptionError("out must be a C-contiguous float32 array of the input's shape")
        _apply_kernel()(np.ascontiguousarray(rgb), *self._packed, np.float32(strength), out)
        return out

    def lut_table(self, size: int = 33, strength: float = 1.0) -> np.ndarray:
        """The mapping sampled on a ``size``^3 grid: ``table[r, g, b] = mapping(r, g, b)``."""
        if not 2 <= size <= 129:
            raise OptionError(f"--size must be in 2..129, got {size}")
        grid = np.linspace(0.0, 1.0, size, dtype=np.float32)
        r, g, b = np.meshgrid(grid, grid, grid, indexing="ij")
        cube = np.stack([r, g, b], -1).reshape(size * size, size, 3)
        return self.apply(cube, strength).reshape(size, size, size, 3)

    def to_cube(self, path: str | Path, size: int = 33, strength: float = 1.0, title: str = "acutance style",
                overwrite: bool = False) -> Path:
        from acutance.grading.cube import write_cube

        return write_cube(path, self.lut_table(size, strength), title=title, overwrite=overwrite)


def check_strength(strength: float) -> None:
    if not 0.0 <= float(strength) <= 1.0:
        raise OptionError(f"--strength must be in 0..1, got {strength}")


def is_grayscale(rgb: np.ndarray, tolerance: float = 1.0 / 255) -> bool:
    small = thumbnail(rgb, 256)
    return float(np.max(small.max(axis=2) - small.min(axis=2))) <= tolerance


def compute_mapping(rgb: np.ndarray, ref: np.ndarray, encoder: DncmEncoder | None = None) -> ColourMapping:
    """The mapping that takes ``rgb``'s look away and puts ``ref``'s on. A grayscale reference is refused: it
    has no colour to transfer (a look from it would turn the image grey)."""
    check_rgb(rgb, "input")
    check_rgb(ref, "reference")
    if is_grayscale(ref):
        raise OptionError("the reference is grayscale: it has no colours to transfer; give a colour reference")
    encoder = encoder or load_encoder()
    normalise, _ = encoder.tables(rgb)
    _, stylise = encoder.tables(ref)
    return ColourMapping(normalise, stylise)


def style_transfer(rgb: np.ndarray, ref: np.ndarray, strength: float = 1.0,
                   encoder: DncmEncoder | None = None) -> np.ndarray:
    """``rgb`` with ``ref``'s colour look (``strength`` 0 = unchanged, 1 = full); float32 HxWx3 in, out."""
    return compute_mapping(rgb, ref, encoder).apply(rgb, strength)


# ------------------------------------------------------------------------------------------- the family
# (models.families): the shipped encoder is named 'dncm' in the registry; it maps colours between two
# images, so as an image-to-image model it says where it belongs.

def read(path: str | Path) -> DncmEncoder:
    return load_encoder(path)


def describe(meta: dict) -> dict:
    return {"task": "style", "scales": (1,), "context": 0, "default_scale": 1.0}


@dataclass(frozen=True)
class DncmModel:
    info: object
    model: DncmEncoder

    def __call__(self, rgb: np.ndarray, scale: float = 1.0) -> np.ndarray:
        raise ModelError(f"{self.info.name} needs a reference image: use 'acutance style IN --ref REF'")


Enhancer = DncmModel
