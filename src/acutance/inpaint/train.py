"""The inpainting recipe (``acutance train inpaint``) on ``acutance.train``: torch, CPU, one thread by default.

Data: random crops of the training images (``--data``; the shipped model: ``train/BSDS400`` and
``train/T91_partial``), each first resized by a random factor in ``[scale_min, 1]`` (so the network sees
content at several sizes), flipped at random, with a mask from the seeded LaMa-style generator
(``masks.generate_mask``) in an area bin drawn from ``masks.TRAIN_BINS``. The first ``val_images`` images
(sorted) are held out and never trained on: their centre crops with fixed 20-40% masks are scored every
``val_every`` steps (PSNR inside the hole, after pasting the known pixels back), and the best state is kept.

Loss: L1 inside the hole plus ``valid`` x L1 outside it (no perceptual or adversarial term: no pretrained
network to download, and PSNR/SSIM are what the benchmark asks for).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acutance.errors import OptionError
from acutance.options import RecipeConfig

FORMAT = "acutance-inpaint-1"


@dataclass
class TrainConfig(RecipeConfig):
    """Options of ``acutance train inpaint`` (``--config FILE``, JSON or TOML; see ``RecipeConfig``)."""

    width: int = 24
    blocks: int = 4
    temperature: float = 10.0
    steps: int = 20000
    time_limit_min: float = 60.0  # wall-clock minutes of training; the schedule runs on time
    batch: int = 4
    crop: int = 128  # a multiple of 16
    scale_min: float = 0.6
    valid: float = 0.2  # weight of the L1 outside the hole
    lr: float = 1e-3
    lr_min: float = 1e-5
    val_images: int = 8
    val_crop: int = 256
    val_every: int = 200

    def check(self) -> None:
        if self.crop < 32 or self.crop % 16:
            raise OptionError(f"crop must be a multiple of 16 and >= 32, got {self.crop}")
        if self.steps < 1 or self.batch < 1 or not 0 < self.scale_min <= 1:
            raise OptionError("steps >= 1, batch >= 1 and 0 < scale_min <= 1 are required")
        if self.width < 8 or self.blocks < 1:
            raise OptionError("width >= 8 and blocks >= 1 are required")

    def spec(self):
        from acutance.inpaint.net import InpaintSpec

        return InpaintSpec(self.width, self.blocks, self.temperature)


class Crops:
    """Random training crops with masks; all randomness from one generator (checkpointed by the loop)."""

    def __init__(self, images: list[np.ndarray], config: TrainConfig, rng: np.random.Generator):
        self.images, self.config, self.rng = images, config, rng

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        from acutance.inpaint.masks import TRAIN_BINS, generate_mask

        c, rng = self.config.crop, self.rng
        rgbs, masks = [], []
        for _ in range(self.config.batch):
            image = self.images[int(rng.integers(len(self.images)))]
            height, width = image.shape[:2]
            low = max(self.config.scale_min, c / min(height, width))
            scale = rng.uniform(low, 1.0) if low < 1 else low
            size = (max(c, round(width * scale)), max(c, round(height * scale)))
            if size != (width, height):
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            y = int(rng.integers(0, image.shape[0] - c + 1))
            x = int(rng.integers(0, image.shape[1] - c + 1))
            crop = image[y : y + c, x : x + c]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            rgbs.append(crop.astype(np.float32) / 255)
            masks.append(generate_mask(c, c, rng, TRAIN_BINS[int(rng.integers(len(TRAIN_BINS)))]))
        rgb = np.ascontiguousarray(np.stack(rgbs).transpose(0, 3, 1, 2))
        return rgb, np.stack(masks)[:, None].astype(np.float32)


def _load(paths: list[Path], smallest: int) -> list[np.ndarray]:
    from acutance.contract import to_uint
    from acutance.io import read_image

    images = []
    for path in paths:
        rgb = read_image(path).rgb
        if min(rgb.shape[:2]) >= smallest:
            images.append(to_uint(rgb, 8))  # uint8 in memory: 4x less than float
    return images


def validation_set(paths: list[Path], crop: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from acutance.inpaint.masks import generate_mask
    from acutance.io import read_image

    pairs = []
    for i, path in enumerate(paths):
        rgb = read_image(path).rgb
        c = min(crop, *rgb.shape[:2]) // 16 * 16
        y0, x0 = (rgb.shape[0] - c) // 2, (rgb.shape[1] - c) // 2
        bin_ = (0.2, 0.3) if i % 2 == 0 else (0.3, 0.4)
        pairs.append((np.ascontiguousarray(rgb[y0 : y0 + c, x0 : x0 + c]), generate_mask(c, c, 1000 + i, bin_)))
    return pairs


def validate(net, pairs) -> dict:
    import torch

    scores = []
    with torch.no_grad():
        for rgb, mask in pairs:
            x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))[None])
            m = torch.from_numpy(mask[None, None].astype(np.float32))
            out = net(x, m)[0][0].numpy().transpose(1, 2, 0)
            error = np.mean((out[mask] - rgb[mask]) ** 2)
            scores.append(10 * np.log10(1.0 / max(error, 1e-10)))
    return {"val_hole_psnr": round(float(np.mean(scores)), 3)}


def train(config: TrainConfig, data_dirs: list[Path], log=print, run: Path | None = None, progress: bool = False,
          stop_after: int | None = None):
    """Train the inpainting network; returns (module, meta)."""
    from acutance.inpaint.net import InpaintNet
    from acutance.train.data import find_images, held_out_split
    from acutance.train.loop import LoopOptions, begin_recipe, fit, recipe_meta

    torch, run = begin_recipe(config, run, data_dirs, "inpainting training")
    start = time.perf_counter()
    held, rest = held_out_split(find_images(data_dirs, sort=True), config.val_images)
    images = _load(rest, config.crop)
    if not images:
        raise OptionError(f"no training image is at least {config.crop} pixels on its shorter side")
    val_pairs = validation_set(held, config.val_crop)
    log(f"inpainting: {len(images)} training images, {len(held)} held out, "
        f"{time.perf_counter() - start:.0f} s to load")  # fmt: skip
    net = InpaintNet(config.spec())
    rng = np.random.default_rng(config.seed)
    crops = Crops(images, config, rng)

    def losses(step: int) -> dict:
        rgb, mask = (torch.from_numpy(a) for a in crops.batch())
        out = net(rgb, mask)[0]
        error = torch.abs(out - rgb)
        hole = torch.sum(error * mask) / (3 * torch.sum(mask) + 1)
        outside = torch.sum(error * (1 - mask)) / (3 * torch.sum(1 - mask) + 1)
        return {"hole": hole, "valid": config.valid * outside}

    options = LoopOptions(steps=config.steps, lr=config.lr, lr_min=config.lr_min, warmup=100,
                          val_every=config.val_every, log_every=config.val_every // 4 or 1,
                          checkpoint_every=config.val_every // 2 or 1, keep_best=True,
                          time_limit_s=config.time_limit_min * 60, threads=config.threads)  # fmt: skip
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(0.9, 0.99))
    result = fit(net, optimiser, losses, options, rng=rng, run=run, config=config, validate=lambda model: validate(model, val_pairs), name="inpaint",
                 progress=progress, stop_after=stop_after, log=log)  # fmt: skip
    return result.model, recipe_meta(config, result, start, data_dirs,
                                     params=sum(p.numel() for p in net.parameters()))


def onnx_bytes(net, meta: dict) -> bytes:
    """The exported graph: inputs ``rgb`` (1x3xHxW) and ``mask`` (1x1xHxW, 1 = hole), H and W multiples of 8;
    outputs ``output`` (1x3xHxW), ``query`` (1xCxH/8xW/8, unit vectors) and ``known`` (1x1xH/8xW/8).
    ``metadata_props["acutance"]`` holds the description (format, spec, training facts)."""
    import io
    import warnings

    import onnx
    import torch

    net.eval()
    buffer = io.BytesIO()
    dummy = (torch.rand(1, 3, 64, 80), (torch.rand(1, 1, 64, 80) > 0.7).float())
    axes = {0: "batch", 2: "height", 3: "width"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, dummy, buffer, dynamo=False, input_names=["rgb", "mask"],
                          output_names=["output", "query", "known"], opset_version=17,
                          dynamic_axes={"rgb": axes, "mask": axes, "output": axes, "query": axes, "known": axes})  # fmt: skip
    model = onnx.load_from_string(buffer.getvalue())
    description = {"format": FORMAT, "arch": "InpaintNet", "spec": net.spec.as_dict(), "multiple": 16,
                   "token": 16, "licence": "Apache-2.0", **meta}  # fmt: skip
    entry = model.metadata_props.add()
    entry.key, entry.value = "acutance", json.dumps(description, sort_keys=True, default=str)
    model.producer_name = "acutance"
    return model.SerializeToString()


def export(net, meta: dict, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    from acutance.io import atomic_write_bytes, check_writable_output

    check_writable_output(path, overwrite=overwrite)
    return atomic_write_bytes(path, onnx_bytes(net, meta), overwrite=overwrite)
