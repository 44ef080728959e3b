"""The edge-SR recipe (torch, CPU, one thread by default) under the SR protocol, on ``acutance.train``.

Data: the HR images under the training folder(s), modcropped; LR = MATLAB bicubic (antialiased), stored as
8-bit RGB, exactly as the test protocol makes it (``acutance.train.data.luma_pairs``); the networks see
MATLAB Y / 255. A few images are held out (``val_images``) and scored (Y-PSNR, ``scale`` border cropped)
every ``val_every`` steps; the best state on them is kept, so the test sets are never looked at.
Loss L2 (or L1) on random aligned crops (LR ``crop / scale`` pixels, random transposition); Adam with a
cosine-decayed step (``acutance.train.loop``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from acutance.edgesr.arch import EsrSpec
from acutance.errors import OptionError
from acutance.options import RecipeConfig


@dataclass
class TrainConfig(RecipeConfig):
    """Options of ``acutance train edgesr`` (``--config FILE``, JSON or TOML; see ``RecipeConfig``)."""

    kind: str = "tr"
    scale: int = 2
    channels: int = 4
    kernel: int = 5
    # eSR-CNN only
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

    def check(self) -> None:
        self.spec()  # validates the architecture
        if self.loss not in ("l1", "l2"):
            raise OptionError(f"loss must be 'l1' or 'l2', got {self.loss!r}")
        if self.crop % self.scale:
            raise OptionError(f"crop {self.crop} is not a multiple of the scale {self.scale}")
        if self.steps < 1 or self.batch < 1:
            raise OptionError("steps and batch must be >= 1")

    def spec(self) -> EsrSpec:
        from acutance.errors import ModelError

        try:
            return EsrSpec(self.kind, self.scale, self.channels, self.kernel, self.depth, self.features)
        except ModelError as error:
            raise OptionError(str(error)) from None


def validate(net, pairs, scale: int) -> float:
    """Mean Y-PSNR (dB, 0-255 Y, output rounded to 8-bit levels, ``scale`` border cropped) on (lr, hr) pairs."""
    import torch

    scores = []
    with torch.no_grad():
        for lr, hr in pairs:
            out = net(torch.from_numpy(lr / np.float32(255.0))[None, None])[0, 0].numpy() * 255.0
            out = np.clip(np.rint(out), 0, 255)
            diff = (out - hr)[scale:-scale, scale:-scale].astype(np.float64)
            scores.append(10 * np.log10(255.0**2 / max(np.mean(diff**2), 1e-12)))
    return float(np.mean(scores))


def train_on_pairs(config: TrainConfig, pairs, val_pairs=(), log=print, run: Path | None = None,
                   progress: bool = False, stop_after: int | None = None):
    """Train a fresh module on (lr_y, hr_y) pairs (0-255 float32); returns (module, history).

    run: a run folder (checkpoint + log): rerunning continues from it.
    """
    from acutance.edgesr.arch import build
    from acutance.train.data import luma_batch
    from acutance.train.loop import LoopOptions, fit, seeded_torch

    torch = seeded_torch(config, "edge-SR training")
    rng = np.random.default_rng(config.seed + 1)
    net = build(config.spec())

    def losses(step: int) -> dict:
        lr_np, hr_np = luma_batch(pairs, config.scale, config.crop, config.batch, rng)
        err = net(torch.from_numpy(lr_np / np.float32(255.0))) - torch.from_numpy(hr_np / np.float32(255.0))
        return {"loss": torch.mean(err * err) if config.loss == "l2" else torch.mean(torch.abs(err))}

    scores = (lambda model: {"val_psnr": round(validate(model, val_pairs, config.scale), 3)}) if val_pairs else None
    options = LoopOptions(steps=config.steps, lr=config.lr, lr_min=config.lr_min, val_every=config.val_every,
                          log_every=config.val_every, checkpoint_every=config.val_every, keep_best=bool(val_pairs))
    result = fit(net, torch.optim.Adam(net.parameters(), lr=config.lr), losses, options, rng=rng,
                 run=run, config=config, validate=scores,
                 name=config.spec().name, progress=progress, stop_after=stop_after, log=log)
    history = [dict(entry) for entry in result.history]
    if result.best is not None:
        history.append({"best_step": result.best["step"], "best_val_psnr": result.best["val_psnr"]})
    return result.model, history


def train(config: TrainConfig, data_dirs: list[Path], log=print, run: Path | None = None, progress: bool = False,
          stop_after: int | None = None):
    """Train an edge-SR model on the images under ``data_dirs``; returns an ``EsrModel`` (numpy weights)."""
    from acutance.edgesr.arch import module_arrays
    from acutance.edgesr.runtime import EsrModel
    from acutance.train.data import find_images, held_out_split, luma_pairs
    from acutance.train.loop import open_recipe_run

    run = open_recipe_run(run, config, data_dirs)
    files = find_images(data_dirs, sort=True)
    start = time.perf_counter()
    val_pairs, pairs = held_out_split(luma_pairs(files, config.scale, config.max_images + config.val_images,
                                                 config.seed), config.val_images)  # fmt: skip
    log(f"edge-SR {config.spec().name}: {len(pairs)} training images, {len(val_pairs)} held out "
        f"({time.perf_counter() - start:.0f} s to load)")  # fmt: skip
    net, history = train_on_pairs(config, pairs, val_pairs, log, run, progress, stop_after)
    meta = {
        "config": asdict(config),
        "history": history,
        "train_seconds": round(time.perf_counter() - start, 1),
        "data": [str(d) for d in data_dirs],
    }
    return EsrModel(config.spec(), module_arrays(net), meta)
