"""Training RAISR filters: per-bucket least squares on the residual over bicubic.

For each training pixel: the k x k patch of the bicubic-upscaled LR luma (one row of A) and the HR luma minus
the bicubic value (b). Per bucket we accumulate Q = sum A^T A (k^2 x k^2, float64) and V = sum A^T b, then
solve the ridge system (Q + ridge I) h = V. Buckets seen fewer than ``min_count`` times get the global
filter (solved on every sample). LR is made exactly as the SR protocol does: ``make_lr(modcrop(hr, s), s)``.

Work is done in batches: pixels of several images are grouped by bucket (one sort), then one
``patches.T @ patches`` per bucket present. Many small products: run with ``OPENBLAS_NUM_THREADS=1`` and
use ``workers`` processes instead.

Training code; inference (``acutance.raisr.runtime``) never imports it.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acutance.color import rgb_to_ycbcr
from acutance.errors import OptionError
from acutance.metrics.sr_protocol import make_lr, modcrop
from acutance.raisr.hashing import HashParams, hash_image, structure_features
from acutance.raisr.runtime import RaisrModel, extract_patches
from acutance.resize import imresize


@dataclass(frozen=True)
class TrainOptions:
    scale: int = 2
    k: int = 11
    n_angle: int = 24
    n_strength: int = 3
    n_coherence: int = 3
    window: int = 9
    sigma: float = 2.0
    ridge: float = 0.1
    min_count: int = 200  # buckets with fewer samples fall back to the global filter
    fraction: float = 0.25  # share of each image's pixels used (random, fixed seed)
    threshold_images: int = 60  # images used to choose the strength/coherence quantiles
    workers: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.scale < 1 or self.k < 1 or self.k % 2 == 0:
            raise OptionError(f"scale must be >= 1 and k odd, got scale={self.scale}, k={self.k}")
        if not 0.0 < self.fraction <= 1.0:
            raise OptionError(f"fraction must be in (0, 1], got {self.fraction}")


@dataclass
class Accumulator:
    """Per-bucket normal equations."""

    n_buckets: int
    k: int
    q: np.ndarray = field(init=False)
    v: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        kk = self.k * self.k
        self.q = np.zeros((self.n_buckets, kk, kk), np.float64)
        self.v = np.zeros((self.n_buckets, kk), np.float64)
        self.counts = np.zeros(self.n_buckets, np.int64)

    def add(self, patches: np.ndarray, targets: np.ndarray, buckets: np.ndarray) -> None:
        """Add samples: patches (n, k*k), targets (n,), buckets (n,) int."""
        order = np.argsort(buckets, kind="stable")
        patches = np.asarray(patches, np.float64)[order]
        targets = np.asarray(targets, np.float64)[order]
        ids, starts, counts = np.unique(buckets[order], return_index=True, return_counts=True)
        for bucket, start, count in zip(ids, starts, counts):
            a = patches[start : start + count]
            self.q[bucket] += a.T @ a
            self.v[bucket] += a.T @ targets[start : start + count]
        self.counts[ids] += counts

    def merge(self, other: "Accumulator") -> None:
        self.q += other.q
        self.v += other.v
        self.counts += other.counts


def solve(acc: Accumulator, ridge: float, min_count: int) -> np.ndarray:
    """Filters (n_buckets, k*k) float64: ridge solution per bucket, the global one where data is scarce."""
    kk = acc.k * acc.k
    eye = np.eye(kk)
    global_filter = np.linalg.solve(acc.q.sum(axis=0) + ridge * eye, acc.v.sum(axis=0))
    filters = np.tile(global_filter, (acc.n_buckets, 1))
    ok = np.flatnonzero(acc.counts >= max(min_count, 1))
    if ok.size:
        filters[ok] = np.linalg.solve(acc.q[ok] + ridge * eye, acc.v[ok][..., None])[..., 0]
    return filters


def training_pair(rgb: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(bicubic-upscaled LR luma, HR luma), float32 HxW, LR made as the SR protocol does."""
    hr = modcrop(rgb, scale)
    lr = make_lr(hr, scale)
    up_y = imresize(rgb_to_ycbcr(lr)[:, :, 0], scale)
    return up_y, rgb_to_ycbcr(hr)[:, :, 0]


def accumulate_pair(
    acc: Accumulator, up_y: np.ndarray, hr_y: np.ndarray, params: HashParams, fraction: float, rng
) -> None:
    """Add one (upscaled luma, HR luma) pair's samples (a random ``fraction`` of its pixels)."""
    buckets = hash_image(up_y, params).ravel()
    residual = (hr_y.astype(np.float64) - up_y).ravel()
    n = buckets.size
    index = np.arange(n) if fraction >= 1.0 else np.flatnonzero(rng.random(n) < fraction)
    rows, cols = np.divmod(index, up_y.shape[1])
    acc.add(extract_patches(up_y, acc.k, rows, cols), residual[index], buckets[index])


def choose_thresholds(
    up_images: list[np.ndarray], options: TrainOptions
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Strength and coherence thresholds: equal-population quantiles over the given upscaled lumas."""
    strength, coherence = [], []
    for up_y in up_images:
        features = structure_features(up_y, options.window, options.sigma)
        strength.append(features.strength[::3, ::3].ravel())
        coherence.append(features.coherence[::3, ::3].ravel())
    s_all, c_all = np.concatenate(strength), np.concatenate(coherence)
    qs = lambda n: np.arange(1, n) / n  # noqa: E731
    return (
        tuple(float(t) for t in np.quantile(s_all, qs(options.n_strength))),
        tuple(float(t) for t in np.quantile(c_all, qs(options.n_coherence))),
    )


def _read_pair(path: Path, scale: int) -> tuple[np.ndarray, np.ndarray]:
    from acutance.io import read_image

    return training_pair(read_image(path).rgb, scale)


def _accumulate_files(paths: list[Path], params: HashParams, options: TrainOptions, worker: int) -> Accumulator:
    acc = Accumulator(params.n_buckets, options.k)
    rng = np.random.default_rng(options.seed * 1000 + worker)
    for path in paths:
        up_y, hr_y = _read_pair(path, options.scale)
        accumulate_pair(acc, up_y, hr_y, params, options.fraction, rng)
    return acc


def train_files(paths: list[Path], options: TrainOptions, meta: dict | None = None) -> RaisrModel:
    """Train a model on HR image files (the protocol's LR is made from each)."""
    if not paths:
        raise OptionError("no training images")
    start = time.perf_counter()
    step = max(1, len(paths) // options.threshold_images)
    sample = [_read_pair(p, options.scale)[0] for p in paths[::step][: options.threshold_images]]
    strength_t, coherence_t = choose_thresholds(sample, options)
    params = HashParams(
        scale=options.scale,
        strength_thresholds=strength_t,
        coherence_thresholds=coherence_t,
        n_angle=options.n_angle,
        window=options.window,
        sigma=options.sigma,
    )
    shards = [paths[i :: options.workers] for i in range(options.workers)]
    if options.workers == 1:
        acc = _accumulate_files(paths, params, options, 0)
    else:
        with ProcessPoolExecutor(options.workers) as pool:
            futures = [pool.submit(_accumulate_files, s, params, options, i) for i, s in enumerate(shards)]
            acc = futures[0].result()
            for future in futures[1:]:
                acc.merge(future.result())
    filters = solve(acc, options.ridge, options.min_count)
    info = dict(meta or {})
    info.update(
        {
            "training_images": len(paths),
            "training_samples": int(acc.counts.sum()),
            "buckets_trained": int((acc.counts >= options.min_count).sum()),
            "ridge": options.ridge,
            "min_count": options.min_count,
            "fraction": options.fraction,
            "training_seconds": round(time.perf_counter() - start, 1),
        }
    )
    return RaisrModel(filters=filters.astype(np.float32), params=params, k=options.k, meta=info)
