"""LeRF-style arbitrary-scale resampling (learned steerable kernels read from look-up tables), without torch.

The model, on MATLAB Y (0-255) of the LR image:

1. **Refinement** (optional, 1x): a residual LUT stage (S/D/Y tables, rotation ensemble, ``acutance.lut.runtime
   .Stage``) sharpens the LR image, rounded to 8-bit levels. It is what lets a resampler with positive weights
   beat bicubic (LeRF's 1x stages play this role): the kernels below only average, the refinement supplies the
   negative-lobe part of the response, learned and scale-agnostic.
2. **Kernel parameters**: per LR pixel, 3-output 17^4 tables (one per pattern) read by 4-simplex interpolation
   on the 4 rotations of the refined image predict ``(sy, sx, rho)`` in the rotated frame; each prediction is
   rotated back (a 90-degree turn swaps ``sy``/``sx`` and negates ``rho``, 180 degrees changes nothing) and
   the ``4 P`` predictions are averaged, then clamped to ``[SIGMA_MIN, SIGMA_MAX]`` and
   ``[-RHO_MAX, RHO_MAX]``. The prediction therefore rotates with the image (exactly, for 90-degree turns).
3. **Resampling**: HR pixel ``(i, j)`` sits at LR ``(py, px) = ((i + 0.5) / ry - 0.5, (j + 0.5) / rx - 0.5)``
   with ``ry = out_h / in_h`` and ``rx = out_w / in_w`` (MATLAB's mapping when ``imresize`` is given an output
   size). Its value is the normalised sum over the 4x4 LR neighbours ``(m, n)`` around it of
   ``v(m, n) w(m, n)``, ``w = exp(-(sy^2 dy^2 - 2 rho sy sx dy dx + sx^2 dx^2) / 2)`` with the *neighbour's*
   own ``(sy, sx, rho)`` and ``(dy, dx) = (py - m, px - n)``: LeRF's steerable Gaussian (``sy``, ``sx`` are
   inverse widths in LR pixels). Outside the image, indices are clamped (edge replication); offsets are not.

Chroma is MATLAB bicubic at the same output size. Any output size (``ry`` and ``rx`` may differ).

The model file is the config: ``.npz`` with ``meta`` (JSON: format, patterns, limits, refinement stage
divisor/bias) and arrays ``refine_{p}`` (int8, (17**4, 1)) and ``kernel_{p}`` (float16, (17**4, 3)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numba as nb
import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError, OptionError
from acutance.lut import kernels
from acutance.lut.runtime import N_ENTRIES, Stage
from acutance.models.descriptor import ModelInfo

FORMAT = "acutance-lerf-1"
SIGMA_MIN = 0.1
SIGMA_MAX = 8.0
RHO_MAX = 0.95
SUPPORT = 4  # 4x4 LR neighbours per HR pixel


@dataclass
class LerfModel:
    """refine: a 1x residual ``Stage`` or None; kernel_tables: (P, 17**4, 3) for ``patterns``."""

    patterns: tuple[str, ...]
    kernel_tables: np.ndarray
    refine: Stage | None = None
    padding: str = "edge"
    sigma_min: float = SIGMA_MIN
    sigma_max: float = SIGMA_MAX
    rho_max: float = RHO_MAX
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.patterns = tuple(self.patterns)
        # stored as float16; numba has no float16 arithmetic, so the runtime reads float32 (exact conversion)
        self.kernel_tables = np.ascontiguousarray(self.kernel_tables, dtype=np.float32)
        unknown = [p for p in self.patterns if p not in kernels.PATTERNS]
        if unknown:
            raise ModelError(
                f"unknown sampling pattern(s) {unknown}; known: {', '.join(kernels.PATTERNS)}"
            )
        expected = (len(self.patterns), N_ENTRIES, 3)
        if self.kernel_tables.shape != expected:
            raise ModelError(
                f"kernel tables have shape {self.kernel_tables.shape}, expected {expected}"
            )
        if self.refine is not None and (
            self.refine.scale != 1 or not self.refine.residual
        ):
            raise ModelError("the refinement stage must be a 1x residual stage")
        if self.padding not in kernels.PAD_MODES:
            raise ModelError(
                f"padding must be one of {kernels.PAD_MODES}, got {self.padding!r}"
            )
        if not 0 < self.sigma_min < self.sigma_max or not 0 <= self.rho_max < 1:
            raise ModelError("need 0 < sigma_min < sigma_max and 0 <= rho_max < 1")
        self.offsets = np.stack([kernels.rotated_offsets(p) for p in self.patterns])

    @property
    def context(self) -> int:
        """LR pixels of reach: refinement 2 + kernel tables 2 + resampling window 2."""
        return _reach(self.refine is not None)

    @property
    def nbytes(self) -> int:
        return int(
            self.kernel_tables.nbytes
            + (self.refine.tables.nbytes if self.refine is not None else 0)
        )


# ------------------------------------------------------------------------------------------- kernels


@nb.njit(parallel=True, cache=True)
def kernel_params(msb, lsb, tables, offsets, sigma_min, sigma_max, rho_max, out):
    """(sy, sx, rho) per LR pixel into ``out`` (H, W, 3) float32 from (P, 17**4, 3) tables.

    The table sees the image rotated by r * 90 degrees; its (sy', sx', rho') are rotated back: odd r swap
    the widths and negate rho. The 4 P predictions are averaged, then clamped.
    """
    height, width = msb.shape[0] - 2 * kernels.PAD, msb.shape[1] - 2 * kernels.PAD
    n_pat = tables.shape[0]
    scale = 1.0 / (16.0 * 4.0 * n_pat)
    for y in nb.prange(height):
        vidx = np.empty(5, np.int64)
        vw = np.empty(5, np.float32)
        fs = np.empty(4, np.float32)
        ss = np.empty(4, np.int64)
        for x in range(width):
            a = 0.0  # sy
            b = 0.0  # sx
            c = 0.0  # rho
            for p in range(n_pat):
                for r in range(4):
                    kernels._simplex(
                        msb,
                        lsb,
                        y + kernels.PAD,
                        x + kernels.PAD,
                        offsets[p, r],
                        vidx,
                        vw,
                        fs,
                        ss,
                    )
                    t0 = 0.0
                    t1 = 0.0
                    t2 = 0.0
                    for t in range(5):
                        w = np.float64(vw[t])
                        i = vidx[t]
                        t0 += w * np.float64(tables[p, i, 0])
                        t1 += w * np.float64(tables[p, i, 1])
                        t2 += w * np.float64(tables[p, i, 2])
                    if r % 2 == 0:
                        a += t0
                        b += t1
                        c += t2
                    else:
                        a += t1
                        b += t0
                        c -= t2
            a = min(max(a * scale, sigma_min), sigma_max)
            b = min(max(b * scale, sigma_min), sigma_max)
            c = min(max(c * scale, -rho_max), rho_max)
            out[y, x, 0] = a
            out[y, x, 1] = b
            out[y, x, 2] = c


@nb.njit(cache=True)
def _taps(out_len, in_len, ratio, idx, dist):
    """For each output position: the 4 LR taps (clamped indices) and their offsets position - tap."""
    for i in range(out_len):
        pos = (i + 0.5) / ratio - 0.5
        first = math.floor(pos) - 1
        for k in range(SUPPORT):
            m = first + k
            dist[i, k] = pos - m
            idx[i, k] = min(max(m, 0), in_len - 1)


_POW2 = np.array([2.0**k for k in range(-126, 1)], np.float32)  # 2^k, k = -126..0


@nb.njit(inline="always", fastmath=True)
def _exp_neg(e, pow2):
    """exp(-e) for e >= 0 in float32, relative error < 3e-6: 2^k from a table times a degree-5 polynomial
    of 2^f, |f| <= 1/2 (libm's exp, not vectorised without SVML, was 2/3 of the run time)."""
    t = e * np.float32(-1.4426950408889634)
    if t < -125.0:
        return np.float32(0.0)
    k = np.int64(math.floor(t + 0.5))
    f = (t - np.float32(k)) * np.float32(0.6931471805599453)
    p = np.float32(1.0) + f * (
        np.float32(1.0)
        + f * (np.float32(0.5) + f * (np.float32(1 / 6) + f * (np.float32(1 / 24) + f * np.float32(1 / 120))))
    )
    return p * pow2[k + 126]


@nb.njit(parallel=True, cache=True, fastmath=True)
def steer_resample(image, coef, iy, dy, ix, dx, out):
    """out[i, j] = sum w v / sum w over the 4x4 taps; w = the tap's own anisotropic Gaussian at the offset.

    coef: (H, W, 3) float32 ``(sy^2 / 2, rho sy sx, sx^2 / 2)`` per LR pixel (``kernel_coefficients``), so
    ``w = exp(-(c0 dy^2 - c1 dy dx + c2 dx^2))``. No shift by the largest exponent is needed: the nearest
    tap is within half a pixel on each axis, so its exponent is at least ``-(1 + RHO_MAX) SIGMA_MAX^2 / 4``
    (-31 here) and ``exp`` stays a normal float32; far taps may underflow to 0, as they should.
    """
    out_h, out_w = out.shape
    pow2 = _POW2
    for i in nb.prange(out_h):
        for j in range(out_w):
            num = np.float32(0.0)
            den = np.float32(0.0)
            for ky in range(SUPPORT):
                m = iy[i, ky]
                a = dy[i, ky]
                a2 = a * a
                for kx in range(SUPPORT):
                    q = ix[j, kx]
                    b = dx[j, kx]
                    w = _exp_neg(coef[m, q, 0] * a2 - coef[m, q, 1] * (a * b) + coef[m, q, 2] * (b * b), pow2)
                    num += w * image[m, q]
                    den += w
            out[i, j] = num / den


def kernel_coefficients(params: np.ndarray) -> np.ndarray:
    """(sy, sx, rho) -> float32 (sy^2 / 2, rho sy sx, sx^2 / 2), the form ``steer_resample`` reads."""
    sy, sx, rho = (params[:, :, c].astype(np.float32) for c in range(3))
    return np.ascontiguousarray(np.stack([0.5 * sy * sy, rho * sy * sx, 0.5 * sx * sx], axis=-1), dtype=np.float32)


def taps(out_len: int, in_len: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.empty((out_len, SUPPORT), np.int64)
    dist = np.empty((out_len, SUPPORT), np.float64)
    _taps(out_len, in_len, out_len / in_len, idx, dist)
    return idx, dist


# ------------------------------------------------------------------------------------------- runtime


def refine_channel(model: LerfModel, y255: np.ndarray) -> np.ndarray:
    """The refined LR luma (float32, 0-255, 8-bit levels if refined)."""
    x = np.asarray(y255, dtype=np.float32)
    if model.refine is None:
        return x
    stage = model.refine
    msb, lsb = kernels.split_levels(x, model.padding)
    out = np.empty_like(x)
    kernels.lut_stage(
        msb, lsb, stage.tables, stage.offsets, stage.colmap, 1,
        16.0 * stage.divisor, float(stage.bias), True, stage.round, out,
    )  # fmt: skip
    return out


def predict_params(model: LerfModel, refined: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 (sy, sx, rho) of a refined LR luma."""
    msb, lsb = kernels.split_levels(refined, model.padding)
    out = np.empty((*refined.shape, 3), np.float32)
    kernel_params(
        msb, lsb, model.kernel_tables, model.offsets,
        float(model.sigma_min), float(model.sigma_max), float(model.rho_max), out,
    )  # fmt: skip
    return out


def resample_channel(
    model: LerfModel, y255: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """float32 HxW in [0, 255] -> float32 ``size`` in [0, 255]."""
    refined = refine_channel(model, y255)
    params = predict_params(model, refined)
    iy, dy = taps(size[0], refined.shape[0])
    ix, dx = taps(size[1], refined.shape[1])
    out = np.empty(size, np.float32)
    steer_resample(
        refined, kernel_coefficients(params), iy, dy.astype(np.float32), ix, dx.astype(np.float32), out
    )
    return out


def output_shape(height: int, width: int, scale) -> tuple[int, int]:
    """Output size for a scale (one factor, or ``(sy, sx)``): MATLAB's ``ceil(in * scale)`` per axis."""
    from acutance.resize.matlab import output_size

    sy, sx = (
        (scale, scale) if np.isscalar(scale) else (float(scale[0]), float(scale[1]))
    )
    for s in (sy, sx):
        if not (math.isfinite(s) and s > 0):
            raise OptionError(f"scale must be a positive number, got {s}")
    return output_size(height, 1, sy)[0], output_size(1, width, sx)[1]


def upscale(
    model: LerfModel,
    rgb: np.ndarray,
    scale=None,
    *,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> RGB of ``size`` (rows, cols) or of ``ceil(in * scale)``."""
    from acutance.color.fast import upscale_luma

    check_rgb(rgb)
    if (scale is None) == (size is None):
        raise OptionError("give exactly one of scale and size")
    if size is None:
        size = output_shape(rgb.shape[0], rgb.shape[1], scale)
    size = (int(size[0]), int(size[1]))
    if size[0] <= 0 or size[1] <= 0:
        raise OptionError(f"output size must be positive, got {size}")
    return upscale_luma(rgb, lambda y: resample_channel(model, y * np.float32(255.0), size), size)


# ------------------------------------------------------------------------------------------- files


def save_model(model: LerfModel, path: str | Path) -> Path:
    """Write the model file (npz, compressed, no pickle); returns its path."""
    meta = dict(model.meta) | {
        "format": FORMAT,
        "patterns": list(model.patterns),
        "padding": model.padding,
        "sigma_min": model.sigma_min,
        "sigma_max": model.sigma_max,
        "rho_max": model.rho_max,
        "support": SUPPORT,
        "refine": None if model.refine is None else model.refine.meta(),
    }
    arrays = {
        f"kernel_{p}": model.kernel_tables[k].astype(np.float16)
        for k, p in enumerate(model.patterns)
    }
    if model.refine is not None:
        arrays |= {
            f"refine_{p}": np.ascontiguousarray(model.refine.tables[k])
            for k, p in enumerate(model.refine.patterns)
        }
    from acutance.models.weights import write_model_npz

    return write_model_npz(path, meta, arrays)


def load_model_file(path: str | Path) -> LerfModel:
    """Read a LeRF model file strictly."""
    from acutance.models.weights import read_model_npz

    name = str(path)
    meta, arrays = read_model_npz(path, FORMAT, "LeRF model file")
    try:
        patterns = tuple(meta["patterns"])
        kernel_tables = np.stack([arrays.pop(f"kernel_{p}") for p in patterns])
        refine = None
        if meta.get("refine") is not None:
            rm = meta["refine"]
            tables = np.stack([arrays.pop(f"refine_{p}") for p in rm["patterns"]])
            refine = Stage(
                tuple(rm["patterns"]), tables.reshape(len(rm["patterns"]), N_ENTRIES, 1), scale=1,
                divisor=float(rm["divisor"]), bias=float(rm["bias"]), residual=True, round=bool(rm.get("round", True)),
            )  # fmt: skip
        if arrays:
            raise ModelError(f"unexpected entries {', '.join(sorted(arrays))}")
        return LerfModel(
            patterns=patterns, kernel_tables=kernel_tables, refine=refine, padding=meta["padding"],
            sigma_min=float(meta["sigma_min"]), sigma_max=float(meta["sigma_max"]), rho_max=float(meta["rho_max"]),
            meta=meta,
        )  # fmt: skip
    except ModelError as error:
        raise ModelError(f"{name}: {error}") from None
    except (KeyError, ValueError, TypeError) as error:
        raise ModelError(f"{name}: invalid LeRF model description: {error!r}") from None


# ------------------------------------------------------------------------------------------- enhancer


@dataclass(frozen=True)
class LerfEnhancer:
    """A loaded LeRF model: ``model(rgb, scale)`` with one factor or a ``(sy, sx)`` pair; ``.resize(rgb, size)``."""

    info: ModelInfo
    model: LerfModel

    def __call__(self, rgb: np.ndarray, scale) -> np.ndarray:
        return upscale(self.model, rgb, scale)

    def resize(self, rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return upscale(self.model, rgb, size=size)


Enhancer = LerfEnhancer
read = load_model_file
CHROMA_REACH = 2  # LR pixels MATLAB bicubic reads for the chroma, beside the luma path


def describe(meta: dict) -> dict:
    """The descriptor facts of a LeRF model file, from its ``meta``: any scale; the reach of the luma path
    (``LerfModel.context``), or the bicubic chroma's where that is larger."""
    reach = _reach(meta.get("refine") is not None)
    return {"task": "upscale", "scales": None, "input": "luma", "context": max(reach, CHROMA_REACH), "default_scale": 2.0}


def _reach(refined: bool) -> int:
    # LR pixels: kernel tables 2 (pattern extent) + the 4x4 resampling window 2 + the refinement stage's 2
    return 2 + SUPPORT // 2 + (2 if refined else 0)


def load_file(path: str | Path) -> LerfEnhancer:
    """A LeRF model file of your own as an enhancer."""
    from acutance.models.registry import load_model_file

    return load_model_file(path)  # type: ignore[return-value]
