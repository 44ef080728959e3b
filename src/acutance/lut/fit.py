"""Fit a stage's tables directly by regularised least squares (no network, no torch, CPU minutes).

With the interpolation weights fixed by the input, every output pixel is a linear combination of table
entries summed over patterns and rotations, so

    min_T ||A T - y||^2 + smooth ||grad (T - T0)||^2 + lam ||T - T0||^2

over all tables of a stage is a sparse linear least-squares problem (the gradient term over the 17^4 grid
keeps rarely visited entries close to their neighbours: the smoothness a network would give, without one).
It is solved matrix-free by conjugate gradients on the normal equations, Jacobi-preconditioned: ``A`` is
``kernels.lut_linear`` and ``A^T`` is ``kernels.lut_adjoint``, so memory is a few copies of the tables plus
the training images. ``T0`` is a smooth prior (every sample outputs the mean of its 4 pixels): entries no
training sample reaches stay at a sensible blur instead of zero.

Then the float tables are quantised to int8 with one scale and offset per stage (``divisor``, ``bias``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acutance.lut import kernels
from acutance.lut.runtime import N_ENTRIES, LutModel, Stage, run_channel


@dataclass(frozen=True)
class FitOptions:
    scale: int = 4
    patterns: tuple[str, ...] = ("s", "d", "y")
    lam: float = 0.01  # ridge weight on (T - T0) per table entry (one squared 8-bit level per output = 1)
    smooth: float = 10.0  # weight on squared differences of (T - T0) between neighbouring grid points
    iterations: int = 60
    max_images: int = 200  # training images used (each a full LR/HR pair)
    max_lr_pixels: int = 2_000_000  # stop adding images past this many LR pixels
    padding: str = "edge"
    transpose: bool = True  # also fit the transposed pairs: mirror-symmetric data, twice the samples
    seed: int = 0


@dataclass
class Pair:
    msb: np.ndarray
    lsb: np.ndarray
    target: np.ndarray  # float64 (sH)x(sW), 0-255


def luma_pairs(
    files: list[Path], scale: int, max_images: int, max_pixels: int, padding: str, seed: int, transpose: bool = False,
    earlier: LutModel | None = None,
):
    """(LR, HR) luma pairs under the SR protocol: modcrop, MATLAB bicubic LR stored as 8-bit RGB, MATLAB Y.

    ``earlier``: 1x stages run on the LR first (the pairs then fit the stage that follows them).
    """
    from acutance.color import rgb_to_ycbcr
    from acutance.io import read_image
    from acutance.train.data import protocol_pair, shuffled

    pairs, total = [], 0
    for path in shuffled(list(files), max_images, seed):
        lr, hr = protocol_pair(read_image(path).rgb, scale)
        lr_y = rgb_to_ycbcr(lr)[:, :, 0] * np.float32(255.0)
        hr_y = rgb_to_ycbcr(hr)[:, :, 0].astype(np.float64) * 255.0
        for flip in (False, True) if transpose else (False,):
            lr_f, hr_f = (lr_y.T, hr_y.T) if flip else (lr_y, hr_y)
            if earlier is not None:
                lr_f = run_channel(earlier, np.ascontiguousarray(lr_f))
            msb, lsb = kernels.split_levels(lr_f, padding)
            pairs.append(Pair(msb, lsb, np.ascontiguousarray(hr_f)))
            total += lr_y.size
        if total >= max_pixels:
            break
    return pairs


def prior_tables(n_patterns: int, scale: int) -> np.ndarray:
    """float64 (P, 17**4, s*s): every pattern and rotation outputs its 4 pixels' mean / (4 P)."""
    levels = np.arange(kernels.LEVELS, dtype=np.float64) * kernels.STEP
    grid = np.meshgrid(levels, levels, levels, levels, indexing="ij")
    mean = (sum(grid) / 4.0).reshape(N_ENTRIES, 1) / (4 * n_patterns)
    return np.broadcast_to(mean, (n_patterns, N_ENTRIES, scale * scale)).copy()


def _apply(pairs, tables, stage_args):
    offsets, colmap, scale = stage_args
    outs = []
    for pair in pairs:
        out = np.empty_like(pair.target)
        kernels.lut_linear(pair.msb, pair.lsb, tables, offsets, colmap, scale, 16.0, out)
        outs.append(out)
    return outs


def _adjoint(pairs, residuals, shape, stage_args):
    offsets, colmap, scale = stage_args
    grad = np.zeros(shape, np.float64)
    for pair, res in zip(pairs, residuals):
        kernels.lut_adjoint(pair.msb, pair.lsb, res, offsets, colmap, scale, 16.0, grad)
    return grad


def _smoothness(x: np.ndarray) -> np.ndarray:
    """Sum over the 4 grid axes of D^T D x (D: differences of neighbouring entries), per table column."""
    grid = x.reshape(x.shape[0], *(kernels.LEVELS,) * 4, x.shape[-1])
    out = np.zeros_like(grid)
    for axis in range(1, 5):
        diff = np.diff(grid, axis=axis)
        lo = [slice(None)] * 6
        hi = [slice(None)] * 6
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        out[tuple(lo)] -= diff
        out[tuple(hi)] += diff
    return out.reshape(x.shape)


def fit_tables(pairs, options: FitOptions, log=print, runlog=None, progress: bool = False) -> np.ndarray:
    """Preconditioned CG on the regularised least squares; returns float64 tables (P, 17**4, s*s).

    runlog: an ``acutance.train.loop.RunLog`` that gets one JSON line per iteration (else ``log`` lines)."""
    from tqdm import tqdm
    scale = options.scale
    offsets = np.stack([kernels.rotated_offsets(p) for p in options.patterns])
    stage_args = (offsets, kernels.column_maps(scale), scale)
    t0 = prior_tables(len(options.patterns), scale)
    lam, smooth = options.lam, options.smooth

    def regulariser(v):
        return lam * v + smooth * _smoothness(v)

    # solve for the deviation D = T - T0: residual b = y - A T0
    base = _apply(pairs, t0, stage_args)
    r = [pair.target - b for pair, b in zip(pairs, base)]
    n_out = sum(res.size for res in r)
    # Jacobi preconditioner: entries are visited from once to millions of times, plain CG crawls
    diag = np.full(t0.shape, lam + 8.0 * smooth, np.float64)
    for pair in pairs:
        kernels.lut_diag(pair.msb, pair.lsb, stage_args[0], stage_args[1], scale, 16.0, diag)
    x = np.zeros_like(t0)
    s = _adjoint(pairs, r, t0.shape, stage_args)
    z = s / diag
    p = z.copy()
    gamma = float(np.vdot(s, z))
    start = time.perf_counter()
    for it in tqdm(range(options.iterations), desc="least squares (CG)", disable=not progress, leave=False):
        q = _apply(pairs, p, stage_args)
        qq = sum(float(np.vdot(v, v)) for v in q)
        alpha = gamma / (qq + float(np.vdot(p, regulariser(p))))
        x += alpha * p
        for res, v in zip(r, q):
            res -= alpha * v
        s = _adjoint(pairs, r, t0.shape, stage_args) - regulariser(x)
        z = s / diag
        gamma_new = float(np.vdot(s, z))
        p = z + (gamma_new / gamma) * p
        gamma = gamma_new
        if runlog is not None or it % 5 == 4 or it == options.iterations - 1:
            rmse = float(np.sqrt(sum(float(np.vdot(v, v)) for v in r) / n_out))
            seconds = round(time.perf_counter() - start, 1)
            line = f"  PCG {it + 1:3d}: train RMSE {rmse:.3f} levels ({seconds:.0f} s)"
            if runlog is not None:
                runlog.record(line, phase="fit", iteration=it + 1, rmse=rmse, seconds=seconds)
            else:
                log(line)
    return t0 + x


def quantise_stage(tables: np.ndarray, patterns, scale: int, dtype=np.int8) -> Stage:
    """Float tables (output = plain sum over patterns and rotations) -> an int8 ``Stage``.

    T ~= T_int / k + o, so sum(T) = sum(T_int) / k + 4 P o: divisor k, bias 4 P o.
    """
    # the range from percentiles: a few rarely visited entries overshoot and would waste the 8 bits
    lo, hi = (float(v) for v in np.percentile(tables, [0.05, 99.95]))
    offset = (lo + hi) / 2.0
    limit = np.iinfo(dtype).max
    k = limit / max((hi - lo) / 2.0, 1e-6)
    q = np.clip(np.rint((tables - offset) * k), -limit, limit).astype(dtype)
    return Stage(tuple(patterns), q, scale=scale, divisor=k, bias=4 * len(patterns) * offset, round=True)


def fit_model(files: list[Path], options: FitOptions, log=print, runlog=None, progress: bool = False) -> LutModel:
    """Fit a single-stage luma model on the training files."""
    start = time.perf_counter()
    pairs = luma_pairs(
        files, options.scale, options.max_images, options.max_lr_pixels, options.padding, options.seed,
        options.transpose,
    )  # fmt: skip
    n_px = sum(p.msb.size for p in pairs)
    log(f"fitting x{options.scale} {'+'.join(options.patterns).upper()} on {len(pairs)} images (~{n_px} LR px)")
    tables = fit_tables(pairs, options, log, runlog, progress)
    stage = quantise_stage(tables, options.patterns, options.scale)
    meta = {
        "method": "least-squares table fit (preconditioned CG), int8",
        "fit": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.__dict__.items()},
        "train_images": len(pairs),
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    return LutModel([stage], input="luma", padding=options.padding, meta=meta)


def refit_last_stage(
    model: LutModel, files: list[Path], options: FitOptions, log=print, runlog=None, progress: bool = False
) -> LutModel:
    """Re-fit a cascade's last (upscaling) stage by least squares on what its earlier stages output.

    The earlier stages are fixed, so the last stage is again a linear problem: this gives it the optimum for
    its inputs (over all the training images ``options`` allows), after fine-tuning has trained the 1x
    stages jointly with it.
    """
    if len(model.stages) < 2:
        raise ValueError("refit_last_stage needs a cascade (earlier 1x stages)")
    last = model.stages[-1]
    if tuple(options.patterns) != last.patterns or options.scale != last.scale:
        raise ValueError("options must name the last stage's patterns and scale")
    start = time.perf_counter()
    earlier = LutModel(model.stages[:-1], input=model.input, padding=model.padding)
    pairs = luma_pairs(
        files, options.scale, options.max_images, options.max_lr_pixels, model.padding, options.seed,
        options.transpose, earlier=earlier,
    )  # fmt: skip
    n_px = sum(p.msb.size for p in pairs)
    log(f"re-fitting the last stage x{options.scale} on {len(pairs)} images (~{n_px} LR px) after {len(earlier.stages)} stage(s)")
    stage = quantise_stage(fit_tables(pairs, options, log, runlog, progress), options.patterns, options.scale)
    meta = dict(model.meta) | {
        "refit": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.__dict__.items()}
        | {"train_images": len(pairs), "seconds": round(time.perf_counter() - start, 1)}
    }
    return LutModel([*model.stages[:-1], stage], input=model.input, padding=model.padding, meta=meta)
