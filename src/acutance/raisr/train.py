"""Training hashed-filter models: per-bucket least squares from accumulated normal equations.

A model is trained layer by layer. For a layer, every training pair (degraded input, clean target) is run
through the layers trained so far; each pixel then gives one row of A (its k x k patch of the layer's input
plane) and its targets b (the clean value minus the current state: one per output of the layer), filed under
its hash bucket. Per bucket we accumulate Q = sum A^T A and V = sum A^T b (float64) and solve the ridge
system (Q + ridge I) F = V. Buckets seen fewer than ``min_count`` times get the global filter.

Flip/rotate augmentation (8-fold) costs no image work: under a flip or a 90-degree rotation the hash keeps
strength and coherence, moves the angle bin by a known permutation, and permutes the patch taps, the pixel
type and the output block, so each bucket's (Q, V) is permuted into its image bucket and summed.

Pairs: ``upscale`` uses the SR protocol's LR (``make_lr(modcrop(hr, s), s)``, MATLAB bicubic); ``denoise``
adds seeded Gaussian noise of sigma/255 and rounds to 8 bits; ``deblock`` round-trips through OpenCV's JPEG
encoder; ``sharpen`` learns to undo a Gaussian blur. Inference (``model``) never imports this module.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from acutance.color import rgb_to_ycbcr
from acutance.errors import OptionError
from acutance.raisr.hashing import HashParams, hash_image, structure_features
from acutance.raisr.model import TASKS, HashedModel, Layer, apply_layer, initial_state, shrink
from acutance.train.data import image_seed, restoration_pair

__all__ = ["LayerSpec", "TrainOptions", "image_seed", "make_pair", "train_files"]


@dataclass(frozen=True)
class LayerSpec:
    """How to build one layer (see ``model.Layer``)."""

    kind: str = "shuffle"
    channel: int = 0
    guide: int = 0
    k: int = 9
    period: int = 1  # pixel-type period of a "same" layer (the scale for upscale-then-filter)
    n_angle: int = 24
    n_strength: int = 3
    n_coherence: int = 3
    window: int = 5
    sigma: float = 1.0
    ridge: float = 0.1
    min_count: int = 200  # samples (after augmentation) below which a bucket takes the global filter
    fraction: float = 1.0  # share of each image's pixels used (random, seeded)

    def __post_init__(self) -> None:
        if self.kind not in ("shuffle", "same", "coarse"):
            raise OptionError(f"layer kind must be 'shuffle', 'same' or 'coarse', got {self.kind!r}")
        if self.k < 1 or self.k % 2 == 0:
            raise OptionError(f"filter size k must be odd and positive, got {self.k}")
        if self.n_angle % 2:
            raise OptionError(f"n_angle must be even (rotation by 90 degrees moves it by half), got {self.n_angle}")
        if not 0.0 < self.fraction <= 1.0:
            raise OptionError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.kind in ("shuffle", "coarse") and self.period != 1:
            raise OptionError(f"a {self.kind} layer has no pixel types: period must be 1")


@dataclass(frozen=True)
class TrainOptions:
    task: str = "upscale"
    scale: int = 2
    layers: tuple[LayerSpec, ...] = (LayerSpec(),)
    noise_sigma: float = 25.0  # denoise: on the 0-255 scale
    jpeg_quality: int = 20  # deblock
    blur_sigma: float = 1.0  # sharpen: the blur the model learns to undo
    augment: bool = True
    threshold_images: int = 60  # images used to choose the strength/coherence quantiles
    workers: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise OptionError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.scale < 1 or (self.task != "upscale" and self.scale != 1):
            raise OptionError(f"scale must be >= 1 for upscale and 1 otherwise, got {self.scale}")
        if self.noise_sigma < 0 or not 1 <= self.jpeg_quality <= 100 or self.blur_sigma <= 0:
            raise OptionError("noise_sigma must be >= 0, jpeg_quality in 1..100 and blur_sigma > 0")
        if not self.layers:
            raise OptionError("a model needs at least one layer")


# --- training pairs ----------------------------------------------------------------------------------------


def make_pair(rgb: np.ndarray, options: TrainOptions, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(degraded input, clean target), float32 RGB, for the task of ``options`` (``acutance.train.data``)."""
    return restoration_pair(rgb, options.task, scale=options.scale, noise_sigma=options.noise_sigma,
                            jpeg_quality=options.jpeg_quality, blur_sigma=options.blur_sigma, seed=seed)


def read_training_image(path: Path) -> np.ndarray:
    from acutance.io import read_image

    return read_image(path).rgb


# --- normal equations ---------------------------------------------------------------------------------------


@dataclass
class Accumulator:
    """Per-bucket normal equations of one layer: Q (n, kk, kk), V (n, kk, outputs), counts (n,)."""

    n_buckets: int
    k: int
    outputs: int
    q: np.ndarray = field(init=False)
    v: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        kk = self.k * self.k
        self.q = np.zeros((self.n_buckets, kk, kk), np.float64)
        self.v = np.zeros((self.n_buckets, kk, self.outputs), np.float64)
        self.counts = np.zeros(self.n_buckets, np.int64)

    def add(self, patches: np.ndarray, targets: np.ndarray, buckets: np.ndarray) -> None:
        """Add samples: patches (n, k*k), targets (n, outputs), buckets (n,) int."""
        order = np.argsort(buckets, kind="stable")
        patches = np.asarray(patches, np.float64)[order]
        targets = np.asarray(targets, np.float64).reshape(len(order), self.outputs)[order]
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
    """Filters (n_buckets, outputs, k*k) float64: ridge solution per bucket, the global one where data is scarce."""
    kk = acc.k * acc.k
    eye = np.eye(kk)
    global_filter = np.linalg.solve(acc.q.sum(axis=0) + ridge * eye, acc.v.sum(axis=0))
    filters = np.repeat(global_filter[None], acc.n_buckets, axis=0)
    ok = np.flatnonzero(acc.counts >= max(min_count, 1))
    if ok.size:
        filters[ok] = np.linalg.solve(acc.q[ok] + ridge * eye, acc.v[ok])
    return np.ascontiguousarray(filters.transpose(0, 2, 1))


def _symmetries():
    """The 8 flips/rotations as (array transform, angle-bin map) pairs; angle map takes (bins, n_angle)."""
    out = []
    for flip in (False, True):
        for turns in range(4):
            def transform(a, flip=flip, turns=turns):
                return np.rot90(np.fliplr(a) if flip else a, turns)

            def angles(bins, n, flip=flip, turns=turns):
                # fliplr mirrors the direction t -> pi - t; np.rot90 turns it by +pi/2 (half the bins).
                bins = (n - 1 - bins) if flip else bins
                return (bins + turns * (n // 2)) % n

            out.append((transform, angles))
    return out


def augment(acc: Accumulator, params: HashParams, kind: str, scale: int, symmetries=None) -> Accumulator:
    """The 8-fold flip/rotate augmentation of accumulated normal equations (see the module docstring).

    symmetries: (transform, angle-bin map) pairs of another angle binning (default ``_symmetries()``).
    """
    k, n_types = acc.k, params.n_types
    taps = np.arange(k * k).reshape(k, k)
    out_block = int(round(np.sqrt(acc.outputs)))
    outputs = np.arange(acc.outputs).reshape(out_block, out_block)
    types = np.arange(n_types).reshape(params.scale, params.scale)
    bucket = np.arange(acc.n_buckets)
    key, pixel_type = np.divmod(bucket, n_types)
    rest, angle = key % (params.n_strength * params.n_coherence), key // (params.n_strength * params.n_coherence)
    result = Accumulator(acc.n_buckets, k, acc.outputs)
    for transform, angle_map in symmetries or _symmetries():
        p = transform(taps).ravel()
        r = transform(outputs).ravel() if kind == "shuffle" else np.zeros(1, int)
        new_type = np.argsort(transform(types).ravel())[pixel_type]
        target = (angle_map(angle, params.n_angle) * params.n_strength * params.n_coherence + rest) * n_types + new_type
        q = acc.q[:, p][:, :, p]
        v = acc.v[:, p][:, :, r]
        np.add.at(result.q, target, q)
        np.add.at(result.v, target, v)
        np.add.at(result.counts, target, acc.counts)
    return result


# --- per-image work -----------------------------------------------------------------------------------------


def _patches(plane: np.ndarray, k: int, index: np.ndarray) -> np.ndarray:
    """The k x k patches at the given flat pixel indices, minus their centre pixel (as the kernels use them)."""
    padded = np.pad(plane, k // 2, mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k))
    rows, cols = np.divmod(index, plane.shape[1])
    patches = windows[rows, cols].reshape(len(index), k * k)
    return patches - patches[:, (k * k) // 2, None]


def layer_samples(
    partial: HashedModel, layer: Layer, degraded: np.ndarray, clean: np.ndarray, fraction: float, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patches, targets, buckets) of one training pair for ``layer``, after the layers of ``partial``."""
    source, state = initial_state(partial, degraded)
    for done in partial.layers:
        apply_layer(done, source, state, partial.scale)
    clean_plane = rgb_to_ycbcr(clean)[:, :, layer.channel]
    residual = clean_plane - state[:, :, layer.channel]
    if layer.kind == "shuffle":
        s = partial.scale
        plane, guide = source[:, :, layer.channel], source[:, :, layer.guide]
        h, w = plane.shape
        targets = residual.reshape(h, s, w, s).transpose(0, 2, 1, 3).reshape(h * w, s * s)
    elif layer.kind == "coarse":  # the half-size plane learns the half-size clean plane
        plane, guide = shrink(state[:, :, layer.channel]), shrink(state[:, :, layer.guide])
        targets = (shrink(clean_plane) - plane).reshape(-1, 1)
    else:
        plane, guide = state[:, :, layer.channel], state[:, :, layer.guide]
        targets = residual.reshape(-1, 1)
    buckets = hash_image(guide, layer.params).ravel()
    n = buckets.size
    index = np.arange(n) if fraction >= 1.0 else np.flatnonzero(rng.random(n) < fraction)
    return _patches(np.ascontiguousarray(plane), layer.k, index), targets[index], buckets[index]


def _accumulate(
    paths: list[Path], partial: HashedModel, layer: Layer, options: TrainOptions, fraction: float, workers: int = 1,
    progress: bool = False,
) -> Accumulator:
    from tqdm import tqdm

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if workers > 1:  # the processes already fill the cores: no nested threads
        import numba

        numba.set_num_threads(1)
    acc = Accumulator(layer.params.n_buckets, layer.k, layer.outputs)
    for path in tqdm(paths, desc=f"layer {len(partial.layers)}", disable=not progress, leave=False):
        seed = image_seed(options.seed, Path(path).name)
        degraded, clean = make_pair(read_training_image(path), options, seed)
        rng = np.random.default_rng(seed + 1)
        acc.add(*layer_samples(partial, layer, degraded, clean, fraction, rng))
    return acc


def _guide_planes(paths: list[Path], partial: HashedModel, spec: LayerSpec, options: TrainOptions) -> list[np.ndarray]:
    planes = []
    for path in paths:
        degraded, _ = make_pair(read_training_image(path), options, image_seed(options.seed, Path(path).name))
        source, state = initial_state(partial, degraded)
        for done in partial.layers:
            apply_layer(done, source, state, partial.scale)
        plane = (source if spec.kind == "shuffle" else state)[:, :, spec.guide]
        planes.append(shrink(plane) if spec.kind == "coarse" else plane)
    return planes


def choose_thresholds(planes: list[np.ndarray], spec: LayerSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Strength and coherence thresholds: equal-population quantiles over the given guide planes."""
    strength, coherence = [], []
    for plane in planes:
        features = structure_features(plane, spec.window, spec.sigma)
        strength.append(features.strength[::3, ::3].ravel())
        coherence.append(features.coherence[::3, ::3].ravel())
    s_all, c_all = np.concatenate(strength), np.concatenate(coherence)
    qs = lambda n: np.arange(1, n) / n  # noqa: E731
    s_cut = np.unique(np.quantile(s_all, qs(spec.n_strength)).astype(np.float32))
    c_cut = np.unique(np.quantile(c_all, qs(spec.n_coherence)).astype(np.float32))
    return tuple(float(t) for t in s_cut), tuple(float(t) for t in c_cut)


def train_layer(
    paths: list[Path], partial: HashedModel, spec: LayerSpec, options: TrainOptions, log=print, progress: bool = False
) -> tuple[Layer, dict]:
    """Train one more layer on top of ``partial``; returns it and its statistics."""
    start = time.perf_counter()
    step = max(1, len(paths) // options.threshold_images)
    planes = _guide_planes(paths[::step][: options.threshold_images], partial, spec, options)
    strength_t, coherence_t = choose_thresholds(planes, spec)
    params = HashParams(
        scale=spec.period, strength_thresholds=strength_t, coherence_thresholds=coherence_t,
        n_angle=spec.n_angle, window=spec.window, sigma=spec.sigma,
    )
    outputs = options.scale**2 if spec.kind == "shuffle" else 1
    placeholder = np.zeros((params.n_buckets, outputs, spec.k**2), np.float32)
    layer = Layer(spec.kind, spec.channel, spec.guide, spec.k, params, placeholder)
    workers = max(1, min(options.workers, len(paths)))
    shards = [paths[i::workers] for i in range(workers)]
    if workers == 1:
        acc = _accumulate(paths, partial, layer, options, spec.fraction, 1, progress)
    else:
        # spawn, not fork: the parent has used numba's OpenMP threads, which do not survive a fork.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [
                pool.submit(_accumulate, shard, partial, layer, options, spec.fraction, workers) for shard in shards
            ]
            acc = futures[0].result()
            for future in futures[1:]:
                acc.merge(future.result())
    if options.augment:
        acc = augment(acc, params, spec.kind, options.scale)
    filters = solve(acc, spec.ridge, spec.min_count).astype(np.float32)
    stats = {
        "samples": int(acc.counts.sum()),
        "buckets_trained": int((acc.counts >= spec.min_count).sum()),
        "buckets": int(params.n_buckets),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return replace(layer, filters=filters), stats


def train_files(paths: list[Path], options: TrainOptions, meta: dict | None = None, log=print,
                run: Path | None = None, progress: bool = False, stop_after: int | None = None) -> HashedModel:
    """Train a model on clean image files (each degraded as the task says).

    run: a run folder; each finished layer is kept there (``layerN.npz``), so a rerun resumes after it, and
    ``log.jsonl`` gets a line per layer. stop_after: stop after this many layers of this call (tests).
    """
    from acutance.raisr.model import load_model_file, save_model
    from acutance.train.loop import RunLog, Stopped, open_run, resumable

    paths = sorted(Path(p) for p in paths)
    if not paths:
        raise OptionError("no training images")
    # the worker count does not change the result: a run may resume with another
    run = open_run(run, {"options": repr(replace(options, workers=1)), "images": [p.name for p in paths]})
    runlog = RunLog(run / "log.jsonl" if run is not None else None, log)
    start = time.perf_counter()
    model = HashedModel(task=options.task, scale=options.scale, layers=())
    layer_stats = []
    done_here = 0
    try:
        for i, spec in enumerate(options.layers):
            def compute(model=model, spec=spec):
                nonlocal done_here
                if stop_after is not None and done_here >= stop_after:
                    raise Stopped(f"stopped before layer {i}")
                layer, stats = train_layer(paths, model, spec, options, log, progress)
                done_here += 1
                runlog.record(f"layer {i} ({spec.kind}, k={spec.k}): {stats}", layer=i, **stats)
                return replace(model, layers=model.layers + (layer,), meta={"layer_stats": layer_stats + [stats]})

            model = resumable(run, f"layer{i}.npz", compute, save_model, load_model_file, log)
            layer_stats = list(model.meta["layer_stats"])
    finally:
        runlog.close()
    info = dict(meta or {})
    info.update(
        {
            "training_images": len(paths),
            "training_seconds": round(time.perf_counter() - start, 1),
            "layer_stats": layer_stats,
            "augment": options.augment,
            "ridge": [spec.ridge for spec in options.layers],
            "min_count": [spec.min_count for spec in options.layers],
            "degradation": {
                "upscale": "MATLAB bicubic downscale",
                "denoise": f"Gaussian noise sigma {options.noise_sigma}/255, 8-bit",
                "deblock": f"OpenCV JPEG quality {options.jpeg_quality}",
                "sharpen": f"Gaussian blur sigma {options.blur_sigma}",
            }[options.task],
        }
    )
    return replace(model, meta=info)


def hashed_options(args) -> tuple[TrainOptions, dict]:
    """The options and model metadata of ``acutance train raisr`` / ``acutance train blade``."""
    from acutance.raisr.presets import restore_layers, upscale_layers

    data = [str(d) for d in args.data]
    if args.method == "raisr":
        options = TrainOptions(task="upscale", scale=args.scale, layers=upscale_layers(args.preset, args.scale),
                               augment=not args.no_augment, workers=args.workers, seed=args.seed)
        return options, {"method": "RAISR", "preset": args.preset, "training_data": data}
    options = TrainOptions(
        task=args.task, scale=1, layers=restore_layers(args.task), noise_sigma=args.sigma,
        jpeg_quality=args.jpeg_quality, blur_sigma=args.blur, augment=not args.no_augment,
        workers=args.workers, seed=args.seed,
    )  # fmt: skip
    return options, {"method": "BLADE", "training_data": data}
