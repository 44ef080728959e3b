"""The IRN recipe (``acutance train irn``) on ``acutance.train``: torch, CPU, one thread by default.

Data: ``PatchSampler`` crops of the training folders under the SR protocol: the HR patch and its MATLAB
bicubic LR at 8-bit levels (the LR guidance target), with the 8 flips/rotations. A few images are held out
and scored every ``val_every`` steps (round-trip Y-PSNR with z = 0 and the LR rounded to 8 bits, and the LR's
PSNR against bicubic); the best round trip is kept.

Losses, IRN's (Xiao et al. 2020) with its weights rewritten for per-element means:
- LR guidance ``fit * MSE(LR, bicubic LR)``;
- HR reconstruction ``rec * L1(inverse(Q(LR), z'), HR)``, ``Q`` 8-bit rounding straight-through, then (the
  ``robust`` variant) JPEG: per step the real codec (straight-through), the differentiable proxy, or none,
  at a quality drawn from ``[jpeg_min, jpeg_max]`` (MBRS's mix); ``z'`` zeros (``z_train = "zero"``, what
  the shipped upscaler uses) or N(0, 1) samples (``"sample"``, IRN's choice); ``jpeg_mode = "pair"``
  instead reconstructs every step from both the clean LR and a JPEG'd one (the real codec and the proxy in
  turn), the mean of the two L1s, so neither case is starved; a ``restore`` CNN in the upscaler then learns
  to undo the JPEG before the inverse;
- distribution matching ``ce * mean(z^2)``: IRN's ``sum(z^2) / batch``, the Gaussian's negative log-likelihood,
  which also makes z = 0 the right guess at upscaling time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acutance.errors import OptionError
from acutance.options import RecipeConfig


@dataclass
class TrainConfig(RecipeConfig):
    """Options of ``acutance train irn`` (``--config FILE``, JSON or TOML; see ``RecipeConfig``)."""

    scale: int = 2
    blocks: int = 4
    features: int = 32
    top_blocks: int = 0  # x4: blocks of the second level (0: ``blocks``)
    restore: int = 0  # features of the upscaler's LR restoration CNN (0: none; for the robust variant)
    init: str = ""  # an IRN pair's upscaler (.onnx) to start from: every weight whose name and shape match
    jpeg_aug: bool = False  # the robust variant
    jpeg_mode: str = "mix"  # "mix": none / proxy / real codec per step (MBRS); "pair": clean and JPEG'd each step
    jpeg_min: int = 70
    jpeg_max: int = 95
    z_train: str = "zero"
    fit: float = 4.0
    rec: float = 4.0
    ce: float = 3.0
    steps: int = 20000
    time_limit_min: float = 40.0  # wall-clock minutes of training (2 shared cores); the schedule runs on time
    batch: int = 4
    patch: int = 32  # LR patch side (HR: patch * scale); a multiple of 16 for the JPEG proxy's 4:2:0 units
    lr: float = 2e-4 * 5
    lr_min: float = 1e-5
    val_images: int = 4
    val_crop: int = 192  # HR centre crop of the held-out images
    val_every: int = 150

    def check(self) -> None:
        self.spec()
        if self.jpeg_mode not in ("mix", "pair"):
            raise OptionError(f"jpeg_mode must be 'mix' or 'pair', got {self.jpeg_mode!r}")
        if self.init and not Path(self.init).is_file():
            raise OptionError(f"init {self.init}: no such file")
        if self.z_train not in ("zero", "sample"):
            raise OptionError(f"z_train must be 'zero' or 'sample', got {self.z_train!r}")
        if not 1 <= self.jpeg_min <= self.jpeg_max <= 100:
            raise OptionError("1 <= jpeg_min <= jpeg_max <= 100 is required")
        if self.steps < 1 or self.batch < 1 or self.patch < 16 or self.patch % 16:
            raise OptionError("steps >= 1, batch >= 1 and a patch that is a multiple of 16 are required")

    def spec(self):
        from acutance.rescale.irn import IrnSpec

        try:
            return IrnSpec(self.scale, self.blocks, self.features, top_blocks=self.top_blocks, restore=self.restore)
        except ValueError as error:
            raise OptionError(str(error)) from None

    @property
    def name(self) -> str:
        return f"irn-x{self.scale}" + ("-robust" if self.jpeg_aug else "-plain")


def round_trip(net, hr: np.ndarray, scale: int, jpeg_quality: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(HR restored, LR) float32 HxWx3 of an HR whose sides are multiples of the scale, in torch: the LR
    clamped and rounded to 8 bits (optionally saved as a real JPEG), z = 0."""
    import torch

    from acutance.rescale.jpeg import jpeg_real

    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(hr.transpose(2, 0, 1))[None])
        lr = torch.round(net(x)[0].clamp(0, 1) * 255) / 255
        if jpeg_quality is not None:
            lr = jpeg_real(lr, jpeg_quality)
        out = net.inverse(net.restore_lr(lr)).clamp(0, 1)
    return out[0].numpy().transpose(1, 2, 0), lr[0].numpy().transpose(1, 2, 0)


def validate(net, pairs, scale: int, jpeg: bool = False) -> dict:
    """Held-out scores; the first is what the best state is chosen by: the round trip, or for the robust
    variant the mean of the round trip and the round trip with the LR saved as JPEG Q90."""
    from acutance.metrics import psnr
    from acutance.metrics.sr_protocol import quantise

    trip, thumb, q90 = [], [], []
    for bicubic, hr in pairs:
        out, lr = round_trip(net, hr, scale)
        trip.append(psnr(hr, quantise(out), crop_border=scale, y_channel=True))
        thumb.append(psnr(bicubic, lr, y_channel=True))
        if jpeg:
            q90.append(psnr(hr, quantise(round_trip(net, hr, scale, 90)[0]), crop_border=scale, y_channel=True))
    scores = {"val_round_trip": round(float(np.mean(trip)), 3), "val_lr_vs_bicubic": round(float(np.mean(thumb)), 3)}
    if jpeg:
        scores = {"val_score": round(float(np.mean(trip) + np.mean(q90)) / 2, 3), **scores,
                  "val_jpeg90": round(float(np.mean(q90)), 3)}  # fmt: skip
    return scores


def train(config: TrainConfig, data_dirs: list[Path], log=print, run: Path | None = None, progress: bool = False,
          stop_after: int | None = None):
    """Train an IRN; returns (module, meta)."""
    from acutance.rescale.irn import InvRescaleNet
    from acutance.rescale.jpeg import jpeg_proxy, jpeg_real, quantise
    from acutance.train.data import PatchSampler, find_images, protocol_pair
    from acutance.train.loop import LoopOptions, begin_recipe, fit, init_from_onnx, recipe_meta

    torch, run = begin_recipe(config, run, data_dirs, "IRN training")
    start = time.perf_counter()
    s = config.scale
    # held out: the first images of the sorted list, centre-cropped; the sampler reads them too, so they are
    # skipped there by training on the rest of the folder list only when there is a rest
    files = find_images(data_dirs, sort=True)
    from acutance.io import read_image

    val_pairs = []
    for path in files[: config.val_images]:
        rgb = read_image(path).rgb
        c = min(config.val_crop, *rgb.shape[:2]) // 16 * 16 * s // s
        y0, x0 = (rgb.shape[0] - c) // 2, (rgb.shape[1] - c) // 2
        val_pairs.append(protocol_pair(np.ascontiguousarray(rgb[y0 : y0 + c, x0 : x0 + c]), s))
    sampler = PatchSampler(data_dirs, scale=s, patch=config.patch, seed=config.seed, progress=progress)
    held = {str(p) for p in files[: config.val_images]}
    log(f"IRN x{s} ({'robust' if config.jpeg_aug else 'plain'}): {len(sampler)} training images "
        f"({len(held)} of them held out for validation are also sampled: the folder API has no exclusion), "
        f"{time.perf_counter() - start:.0f} s to load")  # fmt: skip
    net = InvRescaleNet(config.spec())
    if config.init:  # the starting point only: a resumed run's checkpoint replaces it
        log(f"started from {config.init}: {init_from_onnx(net, config.init, 'net.')} weight tensors")
    rng = sampler.rng

    def losses(step: int) -> dict:
        lr_ref, hr = (torch.from_numpy(a) for a in sampler.batch(config.batch))
        lr, z = net(hr)
        low = quantise(lr)
        lows = [low]
        if config.jpeg_aug:
            quality = int(rng.integers(config.jpeg_min, config.jpeg_max + 1))
            if config.jpeg_mode == "pair":
                lows.append((jpeg_proxy if step % 2 else jpeg_real)(low, quality))
            else:
                kind = rng.integers(3)
                lows = [low if kind == 0 else jpeg_proxy(low, quality) if kind == 1 else jpeg_real(low, quality)]
        z_back = torch.randn_like(z) if config.z_train == "sample" else None
        rec = sum(torch.mean(torch.abs(net.inverse(net.restore_lr(x), z_back) - hr)) for x in lows) / len(lows)
        return {
            "fit": config.fit * torch.mean((lr - lr_ref) ** 2),
            "rec": config.rec * rec,
            "ce": config.ce * torch.mean(z**2),
        }

    options = LoopOptions(steps=config.steps, lr=config.lr, lr_min=config.lr_min, warmup=50,
                          val_every=config.val_every, log_every=config.val_every,
                          checkpoint_every=config.val_every, keep_best=True,
                          time_limit_s=config.time_limit_min * 60, threads=config.threads)  # fmt: skip
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(0.9, 0.99))
    result = fit(net, optimiser, losses, options, rng=None, run=run, config=config, validate=lambda model: validate(model, val_pairs, s, config.jpeg_aug), name=config.name,
                 progress=progress, stop_after=stop_after, log=log, data_state=_RngState(rng))  # fmt: skip
    return result.model, recipe_meta(config, result, start, data_dirs)


class _RngState:
    """The sampler's generator as ``fit``'s data state (it is both the crop and the JPEG-choice source)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def state_dict(self) -> tuple[dict, dict]:
        return {}, {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, arrays: dict, meta: dict) -> None:
        self.rng.bit_generator.state = meta["rng"]
