"""Training patches: aligned (LR, HR) crops from folders of clean images, with the 8 flips/rotations.

``bicubic`` degradation follows the SR benchmark protocol exactly (MATLAB bicubic of the whole image, 8-bit
levels), computed once per image; crops of the HR and of its LR are then aligned by construction.
Any other degradation (an ``acutance degrade`` preset) is drawn afresh for every HR patch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from acutance.errors import OptionError
from acutance.io import read_image
from acutance.io.files import list_images
from acutance.metrics.sr_protocol import make_lr, modcrop


def find_images(folders: tuple[str, ...] | list[str]) -> list[Path]:
    paths: list[Path] = []
    for folder in folders:
        images, _ = list_images(folder, recursive=True)
        paths += images
    if not paths:
        raise OptionError(f"no training images in {', '.join(map(str, folders)) or '(no folders given)'}")
    return paths


@dataclass
class _Item:
    hr: np.ndarray  # float32 HxWx3, modcropped
    lr: np.ndarray | None  # float32, bicubic protocol LR (None for random degradations)


class PatchSampler:
    """Random batches ``(lr, hr)`` as float32 ``N x 3 x h x w`` arrays in [0, 1]."""

    def __init__(
        self,
        folders,
        *,
        scale: int,
        patch: int,
        degradation: str = "bicubic",
        seed: int = 0,
        progress: bool = True,
        reuse: int = 1,
    ) -> None:
        self.scale, self.patch, self.degradation = scale, patch, degradation
        self.reuse = max(1, reuse)
        self._pool: list[tuple[np.ndarray, np.ndarray]] = []
        self.rng = np.random.default_rng(seed)
        self._config = None
        if degradation != "bicubic":
            from acutance.degrade import get_preset, load_config

            self._config = load_config(degradation) if Path(degradation).is_file() else get_preset(degradation)
        hr_side = patch * scale
        self.items: list[_Item] = []
        for path in tqdm(find_images(folders), desc="reading training images", disable=not progress, leave=False):
            hr = modcrop(read_image(path).rgb, scale)
            if min(hr.shape[:2]) < hr_side:
                continue
            lr = make_lr(hr, scale) if degradation == "bicubic" and scale > 1 else None
            if degradation == "bicubic" and scale == 1:
                lr = hr
            self.items.append(_Item(hr, lr))
        if not self.items:
            raise OptionError(f"no training image is at least {hr_side}x{hr_side} pixels")
        areas = np.array([item.hr.shape[0] * item.hr.shape[1] for item in self.items], dtype=np.float64)
        self.weights = areas / areas.sum()  # big images give proportionally more patches

    def __len__(self) -> int:
        return len(self.items)

    def _crop(self) -> tuple[np.ndarray, np.ndarray]:
        """One aligned (LR, HR) crop, before the flips/rotations."""
        item = self.items[self.rng.choice(len(self.items), p=self.weights)]
        s, p = self.scale, self.patch
        height, width = item.hr.shape[0] // s, item.hr.shape[1] // s
        y, x = int(self.rng.integers(0, height - p + 1)), int(self.rng.integers(0, width - p + 1))
        hr = item.hr[y * s : (y + p) * s, x * s : (x + p) * s]
        if item.lr is not None:
            lr = item.lr[y : y + p, x : x + p]
        else:
            from acutance.degrade import degrade_pair

            lr, _ = degrade_pair(np.ascontiguousarray(hr), self._config, self.rng, scale=s)
        return lr, hr

    def _pairs(self, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.reuse == 1 or self._config is None:
            crops = [self._crop() for _ in range(size)]
        else:
            # Random degradations are the slow part: keep a pool of degraded crops, draw the batch from it
            # and replace size/reuse of them, so each crop is seen ``reuse`` times on average (each time with
            # its own flip/rotation).
            pool_size = size * 16
            while len(self._pool) < pool_size:
                self._pool.append(self._crop())
            for _ in range(-(-size // self.reuse)):
                self._pool[int(self.rng.integers(pool_size))] = self._crop()
            crops = [self._pool[int(i)] for i in self.rng.integers(0, pool_size, size)]
        pairs = []
        for lr, hr in crops:
            k, flip = int(self.rng.integers(4)), bool(self.rng.integers(2))
            pairs.append((_d4(lr, k, flip), _d4(hr, k, flip)))
        return pairs

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        pairs = self._pairs(size)
        lr = np.stack([p[0] for p in pairs]).transpose(0, 3, 1, 2)
        hr = np.stack([p[1] for p in pairs]).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(lr, dtype=np.float32), np.ascontiguousarray(hr, dtype=np.float32)


def _d4(image: np.ndarray, k: int, flip: bool) -> np.ndarray:
    image = np.rot90(image, k)
    return image[:, ::-1] if flip else image


def validation_images(folders, count: int, scale: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``count`` images of the folders as (LR, HR) under the bicubic protocol."""
    pairs = []
    for path in find_images(folders)[:count]:
        hr = modcrop(read_image(path).rgb, scale)
        pairs.append((make_lr(hr, scale), hr))
    return pairs
