"""Training data for every trainer: image lists, held-out splits, and aligned (LR, HR) pairs and patches.

Pair sources:
- ``bicubic``: the SR benchmark protocol exactly (modcrop, MATLAB bicubic of the whole image, 8-bit levels),
  computed once per image, so crops of the HR and of its LR are aligned by construction;
- any ``acutance degrade`` preset (or a degradation TOML file): drawn afresh for every HR patch;
- the same-size restoration degradations of the hashed-filter restorers (``restoration_pair``).

``PatchSampler`` gives RGB batches (``N x 3 x h x w``); ``luma_pairs`` + ``luma_batch`` give MATLAB-Y crops
(0-255) for the luma models (LUT, edge-SR). All randomness comes from the generator passed in, so a run is
reproduced by its seed and resumed by the generator's state.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acutance.errors import OptionError


def find_images(folders, *, sort: bool = False) -> list[Path]:
    """The images under the folders (recursive); OptionError when there are none."""
    from acutance.io.files import list_images

    paths: list[Path] = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise OptionError(f"--data {folder}: not a folder")
        images, _ = list_images(folder, recursive=True)
        paths += images
    if sort:
        paths.sort()
    if not paths:
        raise OptionError(f"no training images in {', '.join(map(str, folders)) or '(no folders given)'}")
    return paths


def held_out_split(items: list, count: int) -> tuple[list, list]:
    """``(held_out, rest)``: the first ``count`` items are validated on, never trained on."""
    if len(items) <= count:
        raise OptionError(f"need more than {count} training images (that many are held out), got {len(items)}")
    return items[:count], items[count:]


def shuffled(items: list, limit: int, seed: int) -> list:
    """At most ``limit`` items in a seeded random order (the same order for the same seed)."""
    order = np.random.default_rng(seed).permutation(len(items))[:limit]
    return [items[i] for i in order]


def image_seed(seed: int, name: str) -> int:
    """A per-image seed that depends on neither the order nor the worker an image is processed in."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**32)


# ------------------------------------------------------------------------------------------- pairs


def protocol_pair(rgb: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) under the SR test protocol: HR modcropped, LR its MATLAB bicubic downscale at 8-bit levels."""
    from acutance.metrics.sr_protocol import make_lr, modcrop

    hr = modcrop(rgb, scale)
    return (make_lr(hr, scale) if scale > 1 else hr), hr


def restoration_pair(rgb: np.ndarray, task: str, *, scale: int = 1, noise_sigma: float = 25.0,
                     jpeg_quality: int = 20, blur_sigma: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(degraded, clean) float32 RGB for a hashed-filter task: ``upscale`` the SR protocol; ``denoise`` seeded
    Gaussian noise of sigma/255 rounded to 8 bits; ``deblock`` OpenCV's JPEG; ``sharpen`` a Gaussian blur."""
    import cv2

    from acutance.contract import to_float, to_uint

    if task == "upscale":
        return protocol_pair(rgb, scale)
    if task == "denoise":
        rng = np.random.default_rng(seed)
        noisy = rgb + rng.standard_normal(rgb.shape, dtype=np.float32) * np.float32(noise_sigma / 255.0)
        return to_float(to_uint(np.clip(noisy, 0, 1), 8)), rgb
    if task == "deblock":
        ok, data = cv2.imencode(".jpg", to_uint(rgb[:, :, ::-1], 8), [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        return to_float(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()), rgb
    return cv2.GaussianBlur(rgb, (0, 0), blur_sigma, borderType=cv2.BORDER_REFLECT), rgb


def luma_pairs(files: list[Path], scale: int, max_images: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(lr_y, hr_y)] float32 MATLAB Y in 0-255 under the SR protocol, of at most ``max_images`` files in a
    seeded random order."""
    from acutance.color import rgb_to_ycbcr
    from acutance.io import read_image

    pairs = []
    for path in shuffled(list(files), max_images, seed):
        lr, hr = protocol_pair(read_image(path).rgb, scale)
        pairs.append((rgb_to_ycbcr(lr)[:, :, 0] * 255.0, rgb_to_ycbcr(hr)[:, :, 0] * 255.0))
    return pairs


def luma_batch(pairs, scale: int, crop: int, batch: int, rng: np.random.Generator):
    """Random aligned crops of luma pairs: (lr (B,1,c/s,c/s), hr (B,1,c,c)) float32, randomly transposed."""
    lc = crop // scale
    lrs, hrs = [], []
    while len(lrs) < batch:
        lr, hr = pairs[rng.integers(len(pairs))]
        if lr.shape[0] < lc or lr.shape[1] < lc:
            continue
        y, x = rng.integers(lr.shape[0] - lc + 1), rng.integers(lr.shape[1] - lc + 1)
        a, b = lr[y : y + lc, x : x + lc], hr[y * scale : (y + lc) * scale, x * scale : (x + lc) * scale]
        if rng.random() < 0.5:
            a, b = a.T, b.T
        lrs.append(a)
        hrs.append(b)
    return np.stack(lrs)[:, None].copy(), np.stack(hrs)[:, None].copy()


def to_nchw(images) -> np.ndarray:
    """A list of HxWxC float arrays as one contiguous float32 N x C x H x W array."""
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2), dtype=np.float32)


# ----------------------------------------------------------------------------------------- RGB patches


@dataclass
class _Item:
    hr: np.ndarray  # float32 HxWx3, modcropped
    lr: np.ndarray | None  # float32, bicubic protocol LR (None for random degradations)


def degradation_config(degradation: str):
    """The ``acutance degrade`` config of a preset name or a TOML file (None for ``bicubic``)."""
    if degradation == "bicubic":
        return None
    from acutance.degrade import get_preset, load_config

    return load_config(degradation) if Path(degradation).is_file() else get_preset(degradation)


class PatchSampler:
    """Random batches ``(lr, hr)`` as float32 ``N x 3 x h x w`` arrays in [0, 1], with the 8 flips/rotations."""

    def __init__(self, folders, *, scale: int, patch: int, degradation: str = "bicubic", seed: int = 0,
                 progress: bool = True, reuse: int = 1) -> None:
        from tqdm import tqdm

        from acutance.io import read_image

        self.scale, self.patch, self.degradation = scale, patch, degradation
        self.reuse = max(1, reuse)
        self._pool: list[tuple[np.ndarray, np.ndarray]] = []
        self.rng = np.random.default_rng(seed)
        self._config = degradation_config(degradation)
        hr_side = patch * scale
        self.items: list[_Item] = []
        for path in tqdm(find_images(folders), desc="reading training images", disable=not progress, leave=False):
            lr, hr = protocol_pair(read_image(path).rgb, scale)
            if min(hr.shape[:2]) < hr_side:
                continue
            self.items.append(_Item(hr, lr if self._config is None else None))
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
            return item.lr[y : y + p, x : x + p], hr
        from acutance.degrade import degrade_pair

        lr, _ = degrade_pair(np.ascontiguousarray(hr), self._config, self.rng, scale=s)
        return lr, hr

    def _pairs(self, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.reuse == 1 or self._config is None:
            crops = [self._crop() for _ in range(size)]
        else:
            # Random degradations are the slow part: keep a pool of degraded crops, draw the batch from it and
            # replace size/reuse of them, so each crop is seen ``reuse`` times on average (each with its own
            # flip/rotation).
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
        return to_nchw([p[0] for p in pairs]), to_nchw([p[1] for p in pairs])

    # the pool is part of a resumable run's state (``loop.fit(data_state=...)``)
    def state_dict(self) -> tuple[dict, dict]:
        arrays = {f"pool.{i}.{j}": a for i, pair in enumerate(self._pool) for j, a in enumerate(pair)}
        return arrays, {"pool": len(self._pool)}

    def load_state_dict(self, arrays: dict, meta: dict) -> None:
        self._pool = [(arrays[f"pool.{i}.0"], arrays[f"pool.{i}.1"]) for i in range(meta["pool"])]


def _d4(image: np.ndarray, k: int, flip: bool) -> np.ndarray:
    image = np.rot90(image, k)
    return image[:, ::-1] if flip else image


def validation_images(folders, count: int, scale: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``count`` images of the folders as (LR, HR) under the bicubic protocol."""
    from acutance.io import read_image

    return [protocol_pair(read_image(path).rgb, scale) for path in find_images(folders)[:count]]
