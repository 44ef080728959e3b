"""The ``acutance train aa`` recipe: ``aa-x1``'s filters from aliased / anti-aliased pairs.

Pairs (``acutance.antialias.render``): vector scenes (the "train" fonts and shapes) point-sampled against
supersampled; the training photos shrunk 3x without and with a pre-filter; and line art made from the
photos, its anti-aliasing removed by the DaltonLens-style undo step. Every pixel the model would touch (the
luma step of the aliased input to a 4-neighbour at least ``skip``) gives one sample per colour channel: its k x k
patch minus its centre, against the reference minus the input, filed under its hash bucket.

The solver is the hashed filters' (``acutance.raisr.train``): per-bucket normal equations, the 8-fold
flip/rotate augmentation by permuting them, ridge solutions with the global filter where data is scarce.
The run is phased on the one training home (``acutance.train.loop``: ``open_run``, ``resumable``,
``RunLog``): the hash thresholds, then each chunk of pairs' normal equations are kept in the run folder,
so an interrupted run continues after the last finished chunk with the same result.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from acutance.antialias.model import AAModel, bucket_map, hash_arrays  # noqa: F401  (hash_arrays: tests)
from acutance.errors import OptionError

SOURCES = ("scenes", "frames", "line_art")


@dataclass(frozen=True)
class AATrainOptions:
    k: int = 7
    radius: int = 3  # hash window 7x7
    n_angle: int = 24
    n_strength: int = 4
    n_coherence: int = 4
    skip: float = 0.03  # the smallest luma step to a 4-neighbour that is filtered (about 8/255)
    ridge: float = 0.1
    min_count: int = 400
    scenes: int = 240
    scene_size: int = 160
    factor: int = 3  # odd: the shrink of the frames and of the line art
    fraction: float = 0.25  # share of the candidate pixels of each pair used (seeded)
    chunk: int = 120  # pairs per resumable phase
    augment: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.k < 1 or self.k % 2 == 0 or self.radius < 1 or self.n_angle % 2:
            raise OptionError("k must be odd, radius >= 1 and n_angle even")
        if self.scenes < 0 or self.factor < 1 or self.factor % 2 == 0 or not 0 < self.fraction <= 1:
            raise OptionError("scenes must be >= 0, factor odd, fraction in (0, 1]")


def _centred_symmetries():
    """raisr's 8 flips/rotations with the angle maps of axis-centred bins: a mirror takes the direction t to
    pi - t, bin b to -b; a quarter turn adds half the bins."""
    from acutance.raisr.train import _symmetries

    out = []
    for index, (transform, _) in enumerate(_symmetries()):  # raisr's order: flip outer, turns inner
        flip, turns = index >= 4, index % 4

        def angles(bins, n, flip=flip, turns=turns):
            bins = (-bins) % n if flip else bins
            return (bins + turns * (n // 2)) % n

        out.append((transform, angles))
    return out


SYMMETRIES = _centred_symmetries()


def _hash_params(options: AATrainOptions, strength, coherence):
    """The raisr hash parameters of our buckets (no pixel types), for ``raisr.train.augment``."""
    from acutance.raisr.hashing import HashParams

    return HashParams(scale=1, strength_thresholds=tuple(strength), coherence_thresholds=tuple(coherence),
                      n_angle=options.n_angle, window=2 * options.radius + 1, sigma=1.0)


def pair_list(paths: list[Path], options: AATrainOptions) -> list[tuple[str, int]]:
    """The training pairs as (source, index) items: scene seeds, then photo indices for frames and line art."""
    items = [("scenes", i) for i in range(options.scenes)]
    items += [("frames", i) for i in range(len(paths))]
    items += [("line_art", i) for i in range(len(paths))]
    return items


def make_pair(item: tuple[str, int], paths: list[Path], options: AATrainOptions) -> tuple[np.ndarray, np.ndarray]:
    from acutance.antialias import render
    from acutance.io import read_image
    from acutance.train.data import image_seed

    source, index = item
    if source == "scenes":
        size = options.scene_size
        return render.render_scene(options.seed * 1_000_003 + index, size, size, "train")
    rgb = read_image(paths[index]).rgb
    if source == "frames":
        return render.downscale_pair(rgb, options.factor)
    return render.line_art_pair(rgb, image_seed(options.seed, Path(paths[index]).name), options.factor)


def _features(aliased: np.ndarray, options: AATrainOptions) -> tuple[np.ndarray, np.ndarray]:
    """Strength sqrt(l1) / step and coherence of the candidate pixels (the kernels' box-windowed tensor;
    step: the pixel's largest luma step to a 4-neighbour, see ``kernels._bucket``)."""
    from acutance.antialias import kernels
    from acutance.antialias.model import LUMA

    sums, contrast = kernels.tensor_sums(np.ascontiguousarray(aliased, dtype=np.float32), LUMA, options.radius)
    edge = contrast >= options.skip
    a, b, c = (s[edge].astype(np.float64) for s in sums)
    half_trace, root = 0.5 * (a + c), np.sqrt((0.5 * (a - c)) ** 2 + b * b)
    s1, s2 = np.sqrt(np.maximum(half_trace + root, 0)), np.sqrt(np.maximum(half_trace - root, 0))
    return s1 / contrast[edge], (s1 - s2) / (s1 + s2 + 1e-12)


def choose_thresholds(pairs, options: AATrainOptions) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Equal-population quantiles of strength and coherence over the candidate pixels of ``pairs``."""
    strength, coherence = zip(*(_features(aliased, options) for aliased, _ in pairs))
    s_all, c_all = np.concatenate(strength), np.concatenate(coherence)
    qs = lambda n: np.arange(1, n) / n  # noqa: E731
    s_cut = np.unique(np.quantile(s_all, qs(options.n_strength)).astype(np.float32))
    c_cut = np.unique(np.quantile(c_all, qs(options.n_coherence)).astype(np.float32))
    return tuple(float(t) for t in s_cut), tuple(float(t) for t in c_cut)


def pair_samples(aliased: np.ndarray, reference: np.ndarray, options: AATrainOptions, strength, coherence, rng):
    """(patches (n, k*k), targets (n, 1), buckets (n,)) of one pair: every channel of the sampled candidates."""
    buckets = bucket_map(aliased, options.radius, options.skip, options.n_angle, strength, coherence).ravel()
    index = np.flatnonzero(buckets >= 0)
    if options.fraction < 1.0:
        index = index[rng.random(index.size) < options.fraction]
    k, r = options.k, options.k // 2
    rows, cols = np.divmod(index, aliased.shape[1])
    patches, targets = [], []
    for channel in range(3):
        plane = aliased[:, :, channel]
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(plane, r, mode="edge"), (k, k))
        patch = windows[rows, cols].reshape(index.size, k * k)
        patches.append(patch - patch[:, (k * k) // 2, None])  # relative to the centre, as the kernel applies it
        targets.append((reference[:, :, channel] - plane).ravel()[index, None])
    return np.concatenate(patches), np.concatenate(targets), np.tile(buckets[index], 3)


def _save_acc(acc, path: Path) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, q=acc.q, v=acc.v, counts=acc.counts)


def _load_acc(n_buckets: int, k: int):
    from acutance.raisr.train import Accumulator

    def load(path: Path):
        acc = Accumulator(n_buckets, k, 1)
        with np.load(path) as data:
            acc.q[:], acc.v[:], acc.counts[:] = data["q"], data["v"], data["counts"]
        return acc

    return load


def train(options: AATrainOptions, paths: list[Path], log=print, run: Path | None = None, progress: bool = False,
          stop_after: int | None = None) -> AAModel:
    """Train ``aa-x1``-style filters on the pairs of ``options`` and the photos ``paths``.

    run: the run folder (phases kept there, resumed on a rerun); stop_after: stop after this many chunks of
    this call (tests).
    """
    from tqdm import tqdm

    from acutance.antialias import measure
    from acutance.raisr.train import Accumulator, augment, solve
    from acutance.train.loop import RunLog, Stopped, open_run, resumable

    paths = sorted(Path(p) for p in paths)
    items = pair_list(paths, options)
    if not items:
        raise OptionError("no training pairs: give --data images or scenes > 0")
    run = open_run(run, {"options": asdict(options), "images": [p.name for p in paths]})
    runlog = RunLog(run / "log.jsonl" if run is not None else None, log)
    start = time.perf_counter()
    try:
        def thresholds():
            sample = items[:: max(1, len(items) // 90)]
            s_cut, c_cut = choose_thresholds([make_pair(item, paths, options) for item in sample], options)
            runlog.record(f"hash thresholds: strength {s_cut}, coherence {c_cut}", strength=s_cut, coherence=c_cut)
            return {"strength": s_cut, "coherence": c_cut}

        cuts = resumable(run, "thresholds.json", thresholds,
                         lambda value, path: Path(path).write_text(json.dumps(value), encoding="utf-8"),
                         lambda path: json.loads(Path(path).read_text(encoding="utf-8")), log)
        strength, coherence = tuple(cuts["strength"]), tuple(cuts["coherence"])
        params = _hash_params(options, strength, coherence)
        n_buckets = params.n_buckets
        total = Accumulator(n_buckets, options.k, 1)
        chunks = [items[i : i + options.chunk] for i in range(0, len(items), options.chunk)]
        done_here = 0
        for number, chunk in enumerate(chunks):
            def compute(chunk=chunk, number=number):
                nonlocal done_here
                if stop_after is not None and done_here >= stop_after:
                    raise Stopped(f"stopped before chunk {number}")
                acc = Accumulator(n_buckets, options.k, 1)
                for item in tqdm(chunk, desc=f"chunk {number + 1}/{len(chunks)}", disable=not progress, leave=False):
                    aliased, reference = make_pair(item, paths, options)
                    rng = np.random.default_rng([options.seed, SOURCES.index(item[0]), item[1]])
                    acc.add(*pair_samples(aliased, reference, options, strength, coherence, rng))
                done_here += 1
                runlog.record(f"chunk {number + 1}/{len(chunks)}: {int(acc.counts.sum())} samples",
                              chunk=number, samples=int(acc.counts.sum()))
                return acc

            total.merge(resumable(run, f"chunk{number:03d}.npz", compute, _save_acc, _load_acc(n_buckets, options.k), log))
    finally:
        runlog.close()
    acc = augment(total, params, "same", 1, SYMMETRIES) if options.augment else total
    filters = solve(acc, options.ridge, options.min_count)[:, 0].astype(np.float32)
    charts = measure.edge_charts(seed=1000)  # other edge positions than the benchmark's
    sigma = measure.match_blur_sigma(charts)
    sources = {name: sum(1 for item in items if item[0] == name) for name in SOURCES}
    meta = {
        "summary": "aa-x1: hashed learned anti-aliasing filters (BLADE-style), from acutance train aa",
        "method": "hashed filters (RAISR/BLADE hash, least squares) on aliased/anti-aliased pairs",
        "training_pairs": sources,
        "training_images": len(paths),
        "samples": int(acc.counts.sum()),
        "buckets_trained": int((acc.counts >= options.min_count).sum()),
        "training_seconds": round(time.perf_counter() - start, 1),
        "options": asdict(options),
        "matched_blur_sigma": sigma,
    }
    model = AAModel(k=options.k, radius=options.radius, n_angle=options.n_angle, strength_thresholds=strength,
                    coherence_thresholds=coherence, skip=options.skip, filters=filters, meta=meta)
    return calibrate_strength(model, charts)


def calibrate_strength(model: AAModel, charts, margin: float = 0.97) -> AAModel:
    """Scale the filters (the residual they add) to the largest strength in 1.0, 0.98, ..., 0.7 whose mean
    10-90% edge width on ``charts`` is at most ``margin`` times the anti-aliased reference's.

    Least squares gives the conditional mean, which is a little softer than the box-filtered edge where the
    edge's sub-pixel position is uncertain; a slightly weaker residual keeps edges as sharp as the reference
    for about 0.1 dB (measured on training scenes). The charts are training-side (``edge_charts(seed=1000)``).
    """
    from acutance.antialias import measure
    from acutance.antialias.model import antialias

    target = margin * measure.mean_edge_width(None, charts)
    strength = 0.7
    for candidate in np.round(np.arange(1.0, 0.699, -0.02), 2):
        scaled = replace(model, filters=(model.filters * np.float32(candidate)).astype(np.float32))
        if measure.mean_edge_width(lambda rgb: antialias(rgb, scaled), charts) <= target:
            strength = float(candidate)
            break
    meta = dict(model.meta) | {"strength": strength, "strength_rule": f"edge width <= {margin} x the reference's"}
    return replace(model, filters=(model.filters * np.float32(strength)).astype(np.float32), meta=meta)


def options_from(args) -> AATrainOptions:
    """The options of ``acutance train aa`` (its flags over the defaults)."""
    changes = {name: getattr(args, name) for name in ("k", "scenes", "seed") if getattr(args, name, None) is not None}
    if getattr(args, "no_augment", False):
        changes["augment"] = False
    return replace(AATrainOptions(), **changes)
