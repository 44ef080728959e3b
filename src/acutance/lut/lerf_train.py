"""Training of the LeRF-style resampler (``acutance.lut.lerf``): the tables themselves are the parameters.

No network: the refinement tables (P, 17**4, 1) and the kernel tables (P, 17**4, 3) are torch parameters read
through the differentiable 4-simplex interpolation (``acutance.lut.train.simplex_interp``); the forward pass
mirrors the numba runtime (same patterns, rotations, parameter rotation, clamps, taps and normalisation), so
the trained tables are shipped as they are (refinement int8, kernels float16).

Data: random HR crops from the training folders at a random scale in [scale_min, scale_max] per batch
(non-integer included; with probability ``aniso`` the two axes get different scales), LR by MATLAB bicubic
to a fixed LR size, stored as 8 bit; L1 on MATLAB Y (0-255), a border of 2 LR pixels left out of the loss
(the crop's own edges are not image edges).

The loop is ``acutance.train.loop`` (resumable checkpoints, progress, JSON-lines log). Usage (torch, CPU, one
thread advised)::

    acutance train lerf --data DIR [--data DIR2] -o lerf.npz [--steps N] [--minutes M] [--config FILE]
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numba as nb
import numpy as np

from acutance.lut import kernels
from acutance.lut.lerf import RHO_MAX, SIGMA_MAX, SIGMA_MIN, LerfModel, taps
from acutance.lut.runtime import N_ENTRIES, Stage
from acutance.options import RecipeConfig
from acutance.lut.train import _ensemble, _finish, _gather, _torch, simplex_interp


@dataclass
class LerfConfig(RecipeConfig):
    """Options of ``acutance train lerf`` (``--config FILE``, JSON or TOML; see ``RecipeConfig``)."""

    patterns: list[str] = field(default_factory=lambda: ["s", "d", "y"])
    refine: bool = True
    steps: int = 20000
    minutes: float = 0.0  # stop after this wall time (0: no limit)
    batch: int = 16
    lr_size: int = 36  # LR crop side
    scale_min: float = 1.25
    scale_max: float = 4.0
    aniso: float = 0.2  # probability of different scales on the two axes
    lr_refine: float = 0.1  # Adam step, 8-bit levels (summed over 4 P predictions)
    lr_kernel: float = (
        0.05  # Adam step, kernel parameter units (averaged over 4 P predictions)
    )
    init_sigma: float = 2.0
    max_images: int = 1000
    checkpoint_every: int = 500
    init: str = ""  # start from this model file's tables (e.g. a second phase at a lower learning rate)


# ------------------------------------------------------------------------------------------- fast lookups


@nb.njit(cache=True, inline="always")
def _scratch(n_out):
    """Scratch arrays of the 4-simplex lookups (vertex indices and weights, sorted fractions, strides) and of
    one output row."""
    return np.empty(5, np.int64), np.empty(5, np.float32), np.empty(4, np.float32), np.empty(4, np.int64), np.empty(
        n_out, np.float64
    )


@nb.njit(parallel=True, cache=True)
def _lut_gather(msb, lsb, tables, offsets, swap, out):
    """out[b, y, x, :] = sum over patterns and rotations of the interpolated table rows / 16 (unnormalised).

    msb, lsb: (B, h+4, w+4) from ``kernels.split_levels`` per image; swap: rotate 3-vectors (sy, sx, rho)
    back from odd rotations (swap the first two, negate the third), as ``lerf.kernel_params``.
    """
    n_img, height, width = out.shape[0], out.shape[1], out.shape[2]
    n_pat, n_out = tables.shape[0], tables.shape[2]
    for b in nb.prange(n_img):
        vidx, vw, fs, ss, acc = _scratch(n_out)
        for y in range(height):
            for x in range(width):
                for c in range(n_out):
                    out[b, y, x, c] = 0.0
                for p in range(n_pat):
                    for r in range(4):
                        yy, xx = y + kernels.PAD, x + kernels.PAD
                        kernels._simplex(msb[b], lsb[b], yy, xx, offsets[p, r], vidx, vw, fs, ss)
                        acc[:] = 0.0
                        for t in range(5):
                            for c in range(n_out):
                                acc[c] += vw[t] * tables[p, vidx[t], c]
                        if swap and r % 2 == 1:
                            out[b, y, x, 0] += acc[1] / 16.0
                            out[b, y, x, 1] += acc[0] / 16.0
                            out[b, y, x, 2] -= acc[2] / 16.0
                        else:
                            for c in range(n_out):
                                out[b, y, x, c] += acc[c] / 16.0


@nb.njit(cache=True)
def _lut_scatter(msb, lsb, grad, offsets, swap, gtab):
    """Adjoint of ``_lut_gather`` with respect to the tables: gtab (P, 17**4, C) += ..."""
    n_img, height, width = grad.shape[0], grad.shape[1], grad.shape[2]
    n_pat, n_out = gtab.shape[0], gtab.shape[2]
    vidx, vw, fs, ss, g = _scratch(n_out)
    for b in range(n_img):
        for y in range(height):
            for x in range(width):
                for p in range(n_pat):
                    for r in range(4):
                        if swap and r % 2 == 1:
                            g[0] = grad[b, y, x, 1]
                            g[1] = grad[b, y, x, 0]
                            g[2] = -grad[b, y, x, 2]
                        else:
                            for c in range(n_out):
                                g[c] = grad[b, y, x, c]
                        yy, xx = y + kernels.PAD, x + kernels.PAD
                        kernels._simplex(msb[b], lsb[b], yy, xx, offsets[p, r], vidx, vw, fs, ss)
                        for t in range(5):
                            w = vw[t] / 16.0
                            for c in range(n_out):
                                gtab[p, vidx[t], c] += w * g[c]


def _levels(x_np: np.ndarray):
    """(B, h, w) 0-255 -> stacked (msb, lsb) padded by ``kernels.PAD`` (edge)."""
    parts = [kernels.split_levels(img, "edge") for img in x_np]
    return np.stack([m for m, _ in parts]), np.stack([f for _, f in parts])


def lut_lookup(x, tables, patterns, swap: bool):
    """(B,1,h,w) 0-255 -> (B,h,w,C): sum over patterns and rotations of the tables' outputs.

    A torch function with a numba forward and backward; the gradient reaches the tables only (the inputs
    index the tables and are treated as constants, i.e. the lookups' input gradient is dropped).
    """
    torch = _torch()
    offsets = np.stack([kernels.rotated_offsets(p) for p in patterns])
    msb, lsb = _levels(x.detach()[:, 0].numpy())

    class Lookup(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *tabs):
            stack = np.stack([t.detach().numpy() for t in tabs]).astype(np.float32)
            out = np.empty(
                (x.shape[0], x.shape[2], x.shape[3], stack.shape[2]), np.float32
            )
            _lut_gather(msb, lsb, stack, offsets, swap, out)
            return torch.from_numpy(out)

        @staticmethod
        def backward(ctx, grad):
            gtab = np.zeros((len(tables), N_ENTRIES, tables[0].shape[1]), np.float64)
            _lut_scatter(
                msb,
                lsb,
                grad.contiguous().numpy().astype(np.float64),
                offsets,
                swap,
                gtab,
            )
            return tuple(torch.from_numpy(g.astype(np.float32)) for g in gtab)

    return Lookup.apply(*tables)


@nb.njit(cache=True, inline="always")
def _weights(params, b, i, j, iy, dy, ix, dx, e):
    """Unnormalised Gaussian weights of output pixel (i, j)'s 4x4 neighbours into ``e``; returns their sum."""
    top = -1e300
    n = 0
    for ky in range(4):
        for kx in range(4):
            m, q = iy[i, ky], ix[j, kx]
            ay = params[b, m, q, 0] * dy[i, ky]
            ax = params[b, m, q, 1] * dx[j, kx]
            e[n] = -0.5 * (ay * ay - 2.0 * params[b, m, q, 2] * ay * ax + ax * ax)
            top = max(top, e[n])
            n += 1
    den = 0.0
    for k in range(16):
        e[k] = math.exp(e[k] - top)  # shifted by the largest exponent: no underflow to 0/0
        den += e[k]
    return den


@nb.njit(parallel=True, cache=True)
def _resample_fwd(x, params, iy, dy, ix, dx, out):
    """Batched ``lerf.steer_resample``: x (B,h,w), params (B,h,w,3) -> out (B,H,W)."""
    n_img, out_h, out_w = out.shape
    for b in nb.prange(n_img):
        e = np.empty(16, np.float64)
        for i in range(out_h):
            for j in range(out_w):
                den = _weights(params, b, i, j, iy, dy, ix, dx, e)
                num = 0.0
                n = 0
                for ky in range(4):
                    for kx in range(4):
                        num += e[n] * x[b, iy[i, ky], ix[j, kx]]
                        n += 1
                out[b, i, j] = num / den


@nb.njit(parallel=True, cache=True)
def _resample_bwd(x, params, iy, dy, ix, dx, out, gout, gx, gp):
    """Adjoint of ``_resample_fwd``: gradients to the image (gx) and the kernel parameters (gp)."""
    n_img, out_h, out_w = out.shape
    for b in nb.prange(n_img):
        e = np.empty(16, np.float64)
        for i in range(out_h):
            for j in range(out_w):
                den = _weights(params, b, i, j, iy, dy, ix, dx, e)
                g = gout[b, i, j] / den
                o = out[b, i, j]
                n = 0
                for ky in range(4):
                    for kx in range(4):
                        m, q = iy[i, ky], ix[j, kx]
                        a = e[n] * g
                        n += 1
                        gx[b, m, q] += a
                        sy, sx, rho = (
                            params[b, m, q, 0],
                            params[b, m, q, 1],
                            params[b, m, q, 2],
                        )
                        ddy, ddx = dy[i, ky], dx[j, kx]
                        ge = a * (x[b, m, q] - o)
                        gp[b, m, q, 0] -= ge * (sy * ddy * ddy - rho * sx * ddy * ddx)
                        gp[b, m, q, 1] -= ge * (sx * ddx * ddx - rho * sy * ddy * ddx)
                        gp[b, m, q, 2] += ge * sy * sx * ddy * ddx


def resample_fast(x, params, size):
    """``resample_torch`` with a numba forward and backward: x (B,1,h,w), params (B,3,h,w) -> (B,1,H,W)."""
    torch = _torch()
    iy, dy = taps(size[0], x.shape[2])
    ix, dx = taps(size[1], x.shape[3])

    class Resample(torch.autograd.Function):
        @staticmethod
        def forward(ctx, image, par):
            xi = np.ascontiguousarray(image.detach()[:, 0].numpy(), dtype=np.float64)
            pi = np.ascontiguousarray(
                par.detach().permute(0, 2, 3, 1).numpy(), dtype=np.float64
            )
            out = np.empty((xi.shape[0], size[0], size[1]), np.float64)
            _resample_fwd(xi, pi, iy, dy, ix, dx, out)
            ctx.saved = (xi, pi, out)
            return torch.from_numpy(out.astype(np.float32))[:, None]

        @staticmethod
        def backward(ctx, grad):
            xi, pi, out = ctx.saved
            gx = np.zeros_like(xi)
            gp = np.zeros_like(pi)
            _resample_bwd(
                xi,
                pi,
                iy,
                dy,
                ix,
                dx,
                out,
                grad[:, 0].numpy().astype(np.float64),
                gx,
                gp,
            )
            return (
                torch.from_numpy(gx.astype(np.float32))[:, None],
                torch.from_numpy(gp.astype(np.float32)).permute(0, 3, 1, 2),
            )

    return Resample.apply(x, params)


# ------------------------------------------------------------------------------------------- forward


def predict_params_torch(
    x, tables, patterns, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX, rho_max=RHO_MAX
):
    """(B,1,h,w) luma 0-255 -> (B,3,h,w) (sy, sx, rho): the torch twin of ``lerf.kernel_params``."""
    torch = _torch()
    total = 0
    for table, pattern in zip(tables, patterns):
        for r in range(4):
            values = _gather(torch.rot90(x, r, (2, 3)), pattern)  # (B,h',w',4)
            out = simplex_interp(table, values).permute(0, 3, 1, 2)  # (B,3,h',w')
            out = torch.rot90(out, -r, (2, 3))
            if r % 2:
                out = torch.stack([out[:, 1], out[:, 0], -out[:, 2]], dim=1)
            total = total + out
    total = total / (4 * len(patterns))
    return torch.stack(
        [total[:, 0].clamp(sigma_min, sigma_max), total[:, 1].clamp(sigma_min, sigma_max),
         total[:, 2].clamp(-rho_max, rho_max)],
        dim=1,
    )  # fmt: skip


def resample_torch(x, params, size):
    """(B,1,h,w) image and (B,3,h,w) params -> (B,1,H,W): the torch twin of ``lerf.steer_resample``."""
    torch = _torch()
    h, w = x.shape[2], x.shape[3]
    iy, dy = taps(size[0], h)
    ix, dx = taps(size[1], w)
    iy_t, ix_t = (
        torch.from_numpy(iy)[:, :, None, None],
        torch.from_numpy(ix)[None, None, :, :],
    )
    dy_t = torch.from_numpy(dy.astype(np.float32))[None, :, :, None, None]
    dx_t = torch.from_numpy(dx.astype(np.float32))[None, None, None, :, :]
    v = x[:, 0][:, iy_t, ix_t]  # (B,H,4,W,4)
    sy, sx, rho = (params[:, c][:, iy_t, ix_t] for c in range(3))
    ay, ax = sy * dy_t, sx * dx_t
    e = -0.5 * (ay * ay - 2.0 * rho * ay * ax + ax * ax)
    e = e - e.amax(dim=(2, 4), keepdim=True).detach()
    wgt = torch.exp(e)
    return ((wgt * v).sum(dim=(2, 4)) / wgt.sum(dim=(2, 4)))[:, None]


def refine_torch(x, tables, patterns):
    """The 1x residual refinement, rounded with a straight-through gradient (``lut_stage`` twin)."""
    fns = [lambda values, t=t: simplex_interp(t, values) for t in tables]
    total = _ensemble(x, fns, patterns, 1)
    return _finish(
        total, x, {"divisor": 1.0, "bias": 0.0, "residual": True}, last=False
    )


def forward(x, refine_tables, kernel_tables, patterns, size, fast: bool = True):
    """LR luma (B,1,h,w) 0-255 -> HR (B,1,H,W). fast: numba lookups (gradient to the tables only); else the
    all-torch path (``simplex_interp``), which also differentiates through the lookups' inputs."""
    torch = _torch()
    if not fast:
        if refine_tables is not None:
            x = refine_torch(x, refine_tables, patterns)
        return resample_torch(x, predict_params_torch(x, kernel_tables, patterns), size)
    if refine_tables is not None:
        total = lut_lookup(x, refine_tables, patterns, False).permute(0, 3, 1, 2)
        x = _finish(
            total, x, {"divisor": 1.0, "bias": 0.0, "residual": True}, last=False
        )
    total = lut_lookup(x, kernel_tables, patterns, True).permute(0, 3, 1, 2) / (
        4 * len(patterns)
    )
    params = torch.stack(
        [total[:, 0].clamp(SIGMA_MIN, SIGMA_MAX), total[:, 1].clamp(SIGMA_MIN, SIGMA_MAX),
         total[:, 2].clamp(-RHO_MAX, RHO_MAX)],
        dim=1,
    )  # fmt: skip
    return resample_fast(x, params, size)


# ------------------------------------------------------------------------------------------- tables


def init_tables(config: LerfConfig):
    """Kernel tables at ``init_sigma`` (isotropic), refinement at 0 (identity); or the tables of ``init``."""
    torch = _torch()
    if config.init:
        from acutance.lut.lerf import load_model_file

        start = load_model_file(config.init)
        if list(start.patterns) != list(config.patterns) or (start.refine is not None) != config.refine:
            raise ValueError(f"{config.init}: patterns/refinement differ from the config")
        kernel_tables = [torch.nn.Parameter(torch.from_numpy(t.astype(np.float32))) for t in start.kernel_tables]
        refine_tables = None
        if start.refine is not None:
            stage = start.refine  # runtime: sum(q) / divisor + bias; here: sum over 4 P entries
            shift = stage.bias / (4 * len(stage.patterns))
            refine_tables = [
                torch.nn.Parameter(torch.from_numpy((t.astype(np.float64) / stage.divisor + shift).astype(np.float32)))
                for t in stage.tables
            ]
        return refine_tables, kernel_tables
    n = len(config.patterns)
    kernel = np.zeros((n, N_ENTRIES, 3), np.float32)
    kernel[:, :, :2] = config.init_sigma
    kernel_tables = [
        torch.nn.Parameter(torch.from_numpy(kernel[p].copy())) for p in range(n)
    ]
    refine_tables = None
    if config.refine:
        refine_tables = [
            torch.nn.Parameter(torch.zeros(N_ENTRIES, 1)) for _ in range(n)
        ]
    return refine_tables, kernel_tables


def to_model(refine_tables, kernel_tables, config: LerfConfig, meta: dict | None = None) -> LerfModel:
    """Torch tables -> ``LerfModel`` (refinement int8 with a divisor, kernels float16).

    The refinement's int8 range comes from the 0.05/99.95 percentiles of the entries training touched
    (never-visited entries stay exactly 0, so no offset); outliers beyond it are clipped.
    """
    kernel = np.stack([t.detach().numpy() for t in kernel_tables]).astype(np.float16)
    refine = None
    if refine_tables is not None:
        tables = np.stack([t.detach().numpy() for t in refine_tables]).astype(np.float64)
        touched = tables[tables != 0]
        reach = float(np.max(np.abs(np.percentile(touched, [0.05, 99.95])))) if touched.size else 0.0
        k = 127.0 / max(reach, 1e-3)
        q = np.clip(np.rint(tables * k), -127, 127).astype(np.int8)
        refine = Stage(tuple(config.patterns), q, scale=1, divisor=k, bias=0.0, residual=True, round=True)
    return LerfModel(tuple(config.patterns), kernel, refine=refine, meta=meta or {})


# ------------------------------------------------------------------------------------------- data


def load_images(dirs: list[Path], max_images: int, seed: int) -> list[np.ndarray]:
    from acutance.io import read_image
    from acutance.train.data import find_images, shuffled

    return [np.rint(np.clip(read_image(path).rgb, 0, 1) * 255).astype(np.uint8)
            for path in shuffled(find_images(dirs, sort=True), max_images, seed)]


def sample_batch(images, config: LerfConfig, rng: np.random.Generator):
    """(lr (B,1,l,l), hr (B,1,H,W)) luma 0-255 float32 at one random (sy, sx) for the batch."""
    from acutance.color import rgb_to_ycbcr
    from acutance.metrics.sr_protocol import quantise
    from acutance.resize import imresize

    lo, hi = config.scale_min, config.scale_max
    sy = rng.uniform(lo, hi)
    sx = rng.uniform(lo, hi) if rng.random() < config.aniso else sy
    size = config.lr_size
    out_h, out_w = round(size * sy), round(size * sx)
    lrs, hrs = [], []
    while len(lrs) < config.batch:
        image = images[rng.integers(len(images))]
        if image.shape[0] < out_h or image.shape[1] < out_w:
            continue
        y, x = (
            rng.integers(image.shape[0] - out_h + 1),
            rng.integers(image.shape[1] - out_w + 1),
        )
        crop = image[y : y + out_h, x : x + out_w].astype(np.float32) / np.float32(
            255.0
        )
        if rng.random() < 0.5:
            crop = crop[::-1]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = np.ascontiguousarray(crop)
        lr = quantise(imresize(crop, size=(size, size)))
        lrs.append(rgb_to_ycbcr(lr)[:, :, 0] * 255.0)
        hrs.append(rgb_to_ycbcr(crop)[:, :, 0] * 255.0)
    return np.stack(lrs)[:, None].astype(np.float32), np.stack(hrs)[:, None].astype(
        np.float32
    )


# ------------------------------------------------------------------------------------------- recipe


def train(config: LerfConfig, data_dirs: list[Path], log=print, images=None, run: Path | None = None,
          progress: bool = False, stop_after: int | None = None) -> LerfModel:
    """Adam on the tables (constant steps) on the loop of ``acutance.train``; returns the model.

    run: a run folder (checkpoint every ``checkpoint_every`` steps, log.jsonl): a rerun resumes from it.
    """
    from acutance.train.loop import LoopOptions, begin_recipe, fit, parameters_module

    torch, run = begin_recipe(config, run, data_dirs, "LeRF training")
    start = time.perf_counter()
    if images is None:
        images = load_images(data_dirs, config.max_images, config.seed)
    log(f"{len(images)} training images loaded ({time.perf_counter() - start:.0f} s)")
    refine_tables, kernel_tables = init_tables(config)
    holder = parameters_module(kernel_tables, refine_tables or [])
    groups = [{"params": kernel_tables, "lr": config.lr_kernel}]
    if refine_tables is not None:
        groups.append({"params": refine_tables, "lr": config.lr_refine})
    rng = np.random.default_rng(config.seed + 1)

    def losses(step: int) -> dict:
        lr_np, hr_np = sample_batch(images, config, rng)
        size = hr_np.shape[2:]
        out = forward(torch.from_numpy(lr_np), refine_tables, kernel_tables, config.patterns, size)
        by, bx = math.ceil(2 * size[0] / config.lr_size), math.ceil(2 * size[1] / config.lr_size)
        return {"l1": (out - torch.from_numpy(hr_np))[:, :, by:-by, bx:-bx].abs().mean()}

    options = LoopOptions(steps=config.steps, lr=config.lr_kernel, lr_min=config.lr_kernel, log_every=100,
                          checkpoint_every=config.checkpoint_every, time_limit_s=config.minutes * 60)
    result = fit(holder, torch.optim.Adam(groups), losses, options, rng=rng, run=run, name="lerf", progress=progress, stop_after=stop_after, log=log)
    meta = {
        "config": asdict(config), "steps": result.step, "train_seconds": result.seconds,
        "method": "tables trained directly (Adam through 4-simplex interpolation), L1 on Y",
    }  # fmt: skip
    return to_model(refine_tables, kernel_tables, config, meta)
