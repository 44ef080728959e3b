"""Training of edge-SR models (torch, CPU, one thread by default) under the SR protocol.

Data: the HR images under the training folder(s), modcropped; LR = MATLAB bicubic (antialiased), stored as
8-bit RGB, exactly as the test protocol makes it (``acutance.lut.train.load_luma_pairs``); the networks see
MATLAB Y / 255. A few images are held out (``val_images``) and scored (Y-PSNR, ``scale`` border cropped)
every ``val_every`` steps; the best state on them is kept, so the test sets are never looked at.
Loss L2 (or L1) on random aligned crops (LR ``crop / scale`` pixels, random transposition); Adam with a
cosine-decayed step.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from acutance.edgesr.arch import EsrSpec
from acutance.errors import OptionError


@dataclass
class TrainConfig:
    """``acutance train edgesr --config FILE`` (JSON or TOML): every field optional, unknown keys refused."""

    kind: str = "tr"
    scale: int = 2
    channels: int = 4
    kernel: int = 5
    depth: int = 0
    features: int = 0
    steps: int = 2500
    batch: int = 16
    crop: int = 96  # HR crop (LR crop = crop / scale: 48 at x2)
    lr: float = 3e-3
    lr_min: float = 1e-5
    loss: str = "l2"
    max_images: int = 1000
    val_images: int = 16
    val_every: int = 250
    seed: int = 0
    threads: int = 1

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides) -> TrainConfig:
        from acutance.options import read_options

        values = read_options(cls, path, overrides)
        config = cls(**values)
        config.spec()  # validates the architecture
        if config.loss not in ("l1", "l2"):
            raise OptionError(f"loss must be 'l1' or 'l2', got {config.loss!r}")
        if config.crop % config.scale:
            raise OptionError(f"crop {config.crop} is not a multiple of the scale {config.scale}")
        if config.steps < 1 or config.batch < 1:
            raise OptionError("steps and batch must be >= 1")
        return config

    def spec(self) -> EsrSpec:
        from acutance.errors import ModelError

        try:
            return EsrSpec(self.kind, self.scale, self.channels, self.kernel, self.depth, self.features)
        except ModelError as error:
            raise OptionError(str(error)) from None


def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise OptionError("edge-SR training needs torch (pip install 'acutance[train]')") from error
    return torch


def validate(net, pairs, scale: int) -> float:
    """Mean Y-PSNR (dB, 0-255 Y, output rounded to 8-bit levels, ``scale`` border cropped) on (lr, hr) pairs."""
    torch = _torch()
    scores = []
    with torch.no_grad():
        for lr, hr in pairs:
            out = net(torch.from_numpy(lr / np.float32(255.0))[None, None])[0, 0].numpy() * 255.0
            out = np.clip(np.rint(out), 0, 255)
            diff = (out - hr)[scale:-scale, scale:-scale].astype(np.float64)
            scores.append(10 * np.log10(255.0**2 / max(np.mean(diff**2), 1e-12)))
    return float(np.mean(scores))


def train_on_pairs(config: TrainConfig, pairs, val_pairs=(), log=print):
    """Train a fresh module on (lr_y, hr_y) pairs (0-255 float32); returns (module, history)."""
    from acutance.edgesr.arch import build
    from acutance.lut.train import sample_batch

    torch = _torch()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed + 1)
    net = build(config.spec())
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps, eta_min=config.lr_min)
    best = (-np.inf, None, 0)
    history = []
    start = time.perf_counter()
    running = 0.0
    for step in range(1, config.steps + 1):
        lr_np, hr_np = sample_batch(pairs, config.scale, config.crop, config.batch, rng)
        out = net(torch.from_numpy(lr_np / np.float32(255.0)))
        err = out - torch.from_numpy(hr_np / np.float32(255.0))
        loss = torch.mean(err * err) if config.loss == "l2" else torch.mean(torch.abs(err))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        running += loss.item()
        if step % config.val_every == 0 or step == config.steps:
            n = config.val_every if step % config.val_every == 0 else step % config.val_every
            entry = {"step": step, "loss": running / n, "seconds": round(time.perf_counter() - start, 1)}
            running = 0.0
            if val_pairs:
                entry["val_psnr"] = round(validate(net, val_pairs, config.scale), 3)
                if entry["val_psnr"] > best[0]:
                    best = (entry["val_psnr"], {k: v.clone() for k, v in net.state_dict().items()}, step)
            history.append(entry)
            log(f"  step {step}: loss {entry['loss']:.3g}, held-out Y-PSNR {entry.get('val_psnr', '-')} "
                f"({entry['seconds']:.0f} s)")  # fmt: skip
    if best[1] is not None:
        net.load_state_dict(best[1])
        history.append({"best_step": best[2], "best_val_psnr": best[0]})
    return net, history


def train(config: TrainConfig, data_dirs: list[Path], log=print):
    """Train an edge-SR model on the images under ``data_dirs``; returns an ``EsrModel`` (numpy weights)."""
    from acutance.edgesr.arch import module_arrays
    from acutance.edgesr.runtime import EsrModel
    from acutance.io import list_images
    from acutance.lut.train import load_luma_pairs

    files = sorted(f for d in data_dirs for f in list_images(Path(d), recursive=True)[0])
    if len(files) <= config.val_images:
        raise OptionError(f"need more than {config.val_images} training images under {', '.join(map(str, data_dirs))}")
    start = time.perf_counter()
    pairs = load_luma_pairs(files, config.scale, config.max_images + config.val_images, config.seed)
    val_pairs, pairs = pairs[: config.val_images], pairs[config.val_images :]
    log(f"edge-SR {config.spec().name}: {len(pairs)} training images, {len(val_pairs)} held out "
        f"({time.perf_counter() - start:.0f} s to load)")  # fmt: skip
    net, history = train_on_pairs(config, pairs, val_pairs, log)
    meta = {
        "config": asdict(config),
        "history": history,
        "train_seconds": round(time.perf_counter() - start, 1),
        "data": [str(d) for d in data_dirs],
    }
    return EsrModel(config.spec(), module_arrays(net), meta)
