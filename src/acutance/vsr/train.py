"""The temporal-SR recipe (``acutance train vsr``) on ``acutance.train``: torch, CPU, one thread by default.

Data (a phase done once, kept in the run folder as ``clips.npz``): ``clips`` sequences of ``frames`` frames
synthesised from the still training images (:mod:`acutance.vsr.synth`), each with its LR frames (the SR
protocol), the frozen compact net's output per frame and the DIS flows to the previous and the next frame,
computed exactly as the runtime computes them (:mod:`acutance.vsr.flow`). The first ``val_images`` images
(sorted) only make held-out clips. Vid4 and the other test sets are never read.

A step: ``batch`` random crops (``crop`` LR pixels, the same for every frame of a clip; flips, transposition
and time reversal) run through the recurrence frame by frame, back-propagating through all of them
(Charbonnier loss on every frame). The next frame is dropped at random (``drop_next``), as at a clip's end.
``temporal`` > 0 adds that weight times a Charbonnier loss on the change from frame to frame, (out_t -
W out_{t-1}) - (HR_t - W HR_{t-1}) with W the warp by the LR flow upscaled: the benchmark's tWE as a loss, so
the output's detail moves with the scene instead of flickering. ``init`` starts from a shipped model's
refiner (a fine-tune).
Validation: Y-PSNR (scale border cropped, 8-bit) and tWE (``vsr.flow.temporal_scores``) of the held-out
clips, whole frames. The best PSNR is kept; with a temporal term the last state is, since the term trades a
little PSNR for steadiness and the best-PSNR state would be the one that least follows it.
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
    """Options of ``acutance train vsr`` (``--config FILE``, JSON or TOML; see ``RecipeConfig``)."""

    scale: int = 4
    features: int = 32
    blocks: int = 3
    hidden: int = 16
    init: str = ""  # a vsr model (.onnx) whose refiner to start from
    temporal: float = 0.0  # weight of the frame-to-frame change loss (0: none)
    clips: int = 400  # synthesised training clips
    val_clips: int = 8
    val_images: int = 6  # held out: the first images, sorted
    frames: int = 6
    lr_size: int = 48  # LR side of a synthesised clip (HR: lr_size * scale)
    crop: int = 32  # LR side of a training crop
    max_speed: float = 8.0  # camera speed, HR pixels per frame
    layer: float = 0.5  # share of clips with a moving layer
    drop_next: float = 0.2
    batch: int = 4
    steps: int = 20000
    time_limit_min: float = 50.0
    lr: float = 1e-3
    lr_min: float = 1e-5
    val_every: int = 100

    def check(self) -> None:
        if self.scale not in (2, 4):
            raise OptionError(f"scale must be 2 or 4 (the shipped compact bases), got {self.scale}")
        if self.crop > self.lr_size or self.frames < 2 or self.clips < 1 or self.batch < 1:
            raise OptionError("crop <= lr_size, frames >= 2, clips >= 1 and batch >= 1 are required")
        if self.temporal < 0:
            raise OptionError(f"temporal must be >= 0, got {self.temporal}")
        if self.init and not Path(self.init).is_file():
            raise OptionError(f"init {self.init}: no such file")

    def spec(self):
        from acutance.vsr.net import VsrSpec

        return VsrSpec(self.scale, self.features, self.blocks, self.hidden)

    @property
    def name(self) -> str:
        return f"vsr-x{self.scale}"


def make_clips(config: TrainConfig, files: list[Path], count: int, seed: int, log=print) -> dict:
    """``count`` clips from ``files``: uint8 hr/lr, float16 base and flows (N x T x H x W x C)."""
    from acutance.io import read_image
    from acutance.vsr import flow as fl
    from acutance.vsr.net import base_net
    from acutance.vsr.synth import lr_frames, sequence

    import torch

    rng = np.random.default_rng(seed)
    s, n, t = config.scale, config.lr_size, config.frames
    out = {
        "hr": np.empty((count, t, n * s, n * s, 3), np.uint8),
        "lr": np.empty((count, t, n, n, 3), np.uint8),
        "base": np.empty((count, t, n * s, n * s, 3), np.float16),
        "prev": np.zeros((count, t, n, n, 2), np.float16),  # flow t -> t-1 (frame 0: unused)
        "next": np.zeros((count, t, n, n, 2), np.float16),  # flow t -> t+1 (last frame: unused)
    }
    base = base_net(s)
    started = time.perf_counter()
    cache: dict[Path, np.ndarray] = {}

    def image(path: Path) -> np.ndarray:
        if path not in cache:
            if len(cache) > 64:
                cache.pop(next(iter(cache)))
            cache[path] = read_image(path).rgb
        return cache[path]

    for i in range(count):
        still = image(files[int(rng.integers(len(files)))])
        other = image(files[int(rng.integers(len(files)))]) if rng.random() < config.layer else None
        hr = sequence(rng, still, other, t, n * s, config.max_speed)
        lr = lr_frames(hr, s)
        with torch.no_grad():
            b = base(torch.from_numpy(np.ascontiguousarray(lr.transpose(0, 3, 1, 2)))).numpy().transpose(0, 2, 3, 1)
        grey = [fl.gray8(frame) for frame in lr]
        for k in range(t):
            if k > 0:
                out["prev"][i, k] = fl.flow(grey[k], grey[k - 1])
            if k < t - 1:
                out["next"][i, k] = fl.flow(grey[k], grey[k + 1])
        out["hr"][i] = np.round(hr * 255)
        out["lr"][i] = np.round(lr * 255)
        out["base"][i] = b
        if (i + 1) % 50 == 0:
            log(f"  clips: {i + 1}/{count} ({time.perf_counter() - started:.0f} s)")
    return out


def _augment(rng, arrays: list[np.ndarray], flows: tuple[np.ndarray, np.ndarray]):
    """Flips, transposition, time reversal of one clip (T x H x W x C arrays), the flows changed to match."""
    prev, nxt = flows
    if rng.random() < 0.5:  # time reversal: the previous frame's flow becomes the next one's
        arrays = [a[::-1] for a in arrays]
        prev, nxt = nxt[::-1], prev[::-1]
    flips = (rng.random() < 0.5, rng.random() < 0.5, rng.random() < 0.5)
    out = []
    for a in arrays + [prev, nxt]:
        if flips[0]:
            a = a[:, :, ::-1]
        if flips[1]:
            a = a[:, ::-1]
        if flips[2]:
            a = a.transpose(0, 2, 1, 3)
        out.append(a)
    *arrays, prev, nxt = out
    sign = np.array([-1 if flips[0] else 1, -1 if flips[1] else 1], np.float32)
    prev, nxt = prev.astype(np.float32) * sign, nxt.astype(np.float32) * sign
    if flips[2]:
        prev, nxt = prev[..., ::-1], nxt[..., ::-1]
    return arrays, prev, nxt


def run_clip(refiner, lr, base, prev, nxt, drop=None):
    """The recurrence over a batch of clips (torch, N x T x C x h x w); returns the T outputs."""
    import torch

    from acutance.vsr.net import upscale_flow, warp

    s = refiner.spec.scale
    frames = lr.shape[1]
    outputs, hidden, out = [], None, None
    for k in range(frames):
        cur = lr[:, k]
        if k == 0:
            prev_hr, prev_lr = base[:, 0], cur
            hidden = torch.zeros(cur.shape[0], refiner.spec.hidden, *cur.shape[2:])
        else:
            f = prev[:, k]
            prev_hr, prev_lr, hidden = warp(out, upscale_flow(f, s)), warp(lr[:, k - 1], f), warp(hidden, f)
        if k < frames - 1:
            next_lr = warp(lr[:, k + 1], nxt[:, k])
            if drop is not None:
                keep = drop[:, k].view(-1, 1, 1, 1)
                next_lr = keep * next_lr + (1 - keep) * cur
        else:
            next_lr = cur
        out, hidden = refiner(cur, base[:, k], prev_hr, prev_lr, next_lr, hidden)
        outputs.append(out)
    return outputs


def _tensors(clips: dict, index, y0=0, x0=0, size=None, scale=4):
    import torch

    size = size or clips["lr"].shape[2]
    lr = clips["lr"][index, :, y0 : y0 + size, x0 : x0 + size].astype(np.float32) / 255
    hs, ys, xs = size * scale, y0 * scale, x0 * scale
    hr = clips["hr"][index, :, ys : ys + hs, xs : xs + hs].astype(np.float32) / 255
    base = clips["base"][index, :, ys : ys + hs, xs : xs + hs].astype(np.float32)
    prev = clips["prev"][index, :, y0 : y0 + size, x0 : x0 + size]
    nxt = clips["next"][index, :, y0 : y0 + size, x0 : x0 + size]
    return lr, hr, base, prev, nxt, torch


def _chw(a: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, -3), dtype=np.float32))


def validate(refiner, val: dict, scale: int) -> dict:
    from acutance.metrics import psnr
    from acutance.metrics.sr_protocol import quantise
    from acutance.vsr.flow import temporal_scores

    scores, bases, twe = [], [], []
    for i in range(val["lr"].shape[0]):
        lr, hr, base, prev, nxt, _ = _tensors(val, i, scale=scale)
        outs = run_clip(refiner, _chw(lr)[None], _chw(base)[None], _chw(prev)[None], _chw(nxt)[None])
        srs = [quantise(out[0].numpy().transpose(1, 2, 0)) for out in outs]
        for k, sr in enumerate(srs):
            scores.append(psnr(hr[k], sr, crop_border=scale, y_channel=True))
            bases.append(psnr(hr[k], quantise(base[k]), crop_border=scale, y_channel=True))
        twe.append(temporal_scores(list(hr), srs)["tWE"])
    return {"val_psnr": round(float(np.mean(scores)), 3), "val_base_psnr": round(float(np.mean(bases)), 3),
            "val_twe": round(float(np.mean(twe)), 4)}


def train(config: TrainConfig, data_dirs: list[Path], log=print, run: Path | None = None, progress: bool = False,
          stop_after: int | None = None):  # fmt: skip
    """Train the temporal refiner; returns (refiner, meta)."""
    from acutance.train.data import find_images, held_out_split
    from acutance.train.loop import LoopOptions, begin_recipe, fit, init_from_onnx, recipe_meta, resumable
    from acutance.vsr.net import Refiner, params, upscale_flow, warp

    torch, run = begin_recipe(config, run, data_dirs, "temporal SR training")
    start = time.perf_counter()
    held, rest = held_out_split(find_images(data_dirs, sort=True), config.val_images)

    def save(arrays, path):
        with open(path, "wb") as handle:  # np.savez adds ".npz" to a name without it
            np.savez(handle, **arrays)

    def load(path):
        with np.load(path) as data:
            return {k: data[k] for k in data.files}

    clips = resumable(run, "clips.npz", lambda: make_clips(config, rest, config.clips, config.seed, log), save, load, log)
    val = resumable(run, "val.npz", lambda: make_clips(config, held, config.val_clips, config.seed + 1, log), save, load, log)
    log(f"VSR x{config.scale}: {len(clips['lr'])} training clips of {config.frames} frames from {len(rest)} images, "
        f"{len(val['lr'])} held-out clips from {len(held)} ({time.perf_counter() - start:.0f} s)")  # fmt: skip
    refiner = Refiner(config.spec())
    log(f"refiner: {params(refiner)} parameters")
    if config.init:  # the starting point only: a resumed run's checkpoint replaces it
        log(f"started from {config.init}: {init_from_onnx(refiner, config.init, 'refiner.')} weight tensors")
    rng = np.random.default_rng(config.seed)
    s, c, n = config.scale, config.crop, config.lr_size

    def losses(step: int) -> dict:
        batch = {"lr": [], "hr": [], "base": [], "prev": [], "next": []}
        for _ in range(config.batch):
            i = int(rng.integers(len(clips["lr"])))
            y0, x0 = (int(v) for v in rng.integers(0, n - c + 1, size=2))
            lr, hr, base, prev, nxt, _ = _tensors(clips, i, y0, x0, c, s)
            (lr, hr, base), prev, nxt = _augment(rng, [lr, hr, base], (prev, nxt))
            for key, value in zip(batch, (lr, hr, base, prev, nxt)):
                batch[key].append(_chw(value))
        lr, hr, base, prev, nxt = (torch.stack(batch[k]) for k in batch)
        drop = torch.from_numpy((rng.random((config.batch, config.frames)) >= config.drop_next).astype(np.float32))
        outs = run_clip(refiner, lr, base, prev, nxt, drop)
        loss = sum(torch.sqrt((o - hr[:, k]) ** 2 + 1e-6).mean() for k, o in enumerate(outs)) / len(outs)
        terms = {"charbonnier": loss}
        if config.temporal > 0:
            change = 0
            for k in range(1, len(outs)):
                w = upscale_flow(prev[:, k], s)
                d = (outs[k] - warp(outs[k - 1], w)) - (hr[:, k] - warp(hr[:, k - 1], w))
                change = change + torch.sqrt(d**2 + 1e-6).mean()
            terms["temporal"] = config.temporal * change / (len(outs) - 1)
        return terms

    options = LoopOptions(steps=config.steps, lr=config.lr, lr_min=config.lr_min, warmup=50,
                          val_every=config.val_every, log_every=config.val_every, checkpoint_every=config.val_every,
                          keep_best=config.temporal == 0, time_limit_s=config.time_limit_min * 60, threads=config.threads)  # fmt: skip
    optimiser = torch.optim.Adam(refiner.parameters(), lr=config.lr, betas=(0.9, 0.99))
    result = fit(refiner, optimiser, losses, options, rng=rng, run=run, config=config, validate=lambda model: validate(model, val, s), name=config.name,
                 progress=progress, stop_after=stop_after, log=log)  # fmt: skip
    return result.model, recipe_meta(config, result, start, data_dirs)


def export_model(refiner, meta: dict, path: Path, *, overwrite: bool = False) -> Path:
    """Write the trained refiner with its frozen base as one ONNX file (the runtime's format), atomically."""
    import os

    from acutance.io import check_writable_output
    from acutance.vsr.net import export, params
    from acutance.vsr.runtime import FORMAT, WARMUP

    path = Path(path)
    check_writable_output(path, overwrite=overwrite)
    config = meta["config"]
    s = config["scale"]
    description = {
        "format": FORMAT,
        "name": path.stem,
        "scale": s,
        "task": "upscale",
        "licence": "Apache-2.0",
        "summary": (f"Temporal x{s}: recurrent refiner ({params(refiner) // 1000}k params) over compact-x{s}, "
                    "DIS-flow-aligned previous output, hidden state and next frame; streams in constant memory"),  # fmt: skip
        "spec": refiner.spec.dict(),
        "warmup": WARMUP,
        "lookahead": 1,
        "training": {"best": meta["best"], "train_seconds": meta["train_seconds"], "data": meta["data"],
                     "config": config, "steps": meta["history"][-1]["step"] if meta["history"] else 0},  # fmt: skip
    }
    temp = path.with_name(f".{path.name}.partial")
    export(refiner, temp, description)
    os.replace(temp, path)
    return path
