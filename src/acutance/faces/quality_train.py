"""Training the face-quality regressor (SDD-FIQA style) on LFW.

Steps (``acutance train face-quality --help`` runs both):

1. ``cache``: for every LFW image (``faces/lfw/<identity>/*.jpg``), and a seeded synthetic degradation of
   every third one (blur, downscale, noise, JPEG, alone or combined), find the face, align dlib's 150x150
   chip and compute the 128-d embedding. Written once to a cache folder outside the repository (default
   ``/tmp/acutance_fiqa``); slow (dlib on the CPU, ~0.3 s per face), so run it with ``nice``.
2. ``train``: SDD-FIQA pseudo-labels on the training identities (all but the last ``holdout`` identities in
   sorted order): for each image, the 1-D Wasserstein distance between its cosine similarities to the other
   clean photos of the same person and to clean photos of other people; then a small MLP (Huber loss) from
   :func:`acutance.faces.quality.quality_features` to the label, saved as an npz whose ``meta`` JSON says what
   it was trained on.

Degraded copies are scored against the clean gallery with the same rule, so the labels say how much the
degradation costs recognition; the regressor never sees the identity, only the face image.
Torch is used here only (extra ``train``); inference (:mod:`acutance.faces.quality`) is numpy.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEFAULT_CACHE = Path("/tmp/acutance_fiqa")
LFW_FALLBACK_BOX = (68, 68, 181, 181)  # LFW is centred by construction: where HOG misses, the face is here
HOLDOUT_IDENTITIES = 60
FEATURE_CLIP = 6.0  # standardised features are clipped to +-this, in training and at inference


# ----------------------------------------------------------------------------------------------- data
def lfw_index(lfw: Path) -> tuple[list[str], list[Path], np.ndarray]:
    """(sorted identity names, image paths, identity index per image) of an LFW identity-folder tree."""
    names = sorted(p.name for p in lfw.iterdir() if p.is_dir())
    paths: list[Path] = []
    ids: list[int] = []
    for k, name in enumerate(names):
        for path in sorted((lfw / name).glob("*.jpg")):
            paths.append(path)
            ids.append(k)
    return names, paths, np.asarray(ids, dtype=np.int32)


def split_identities(n_identities: int, holdout: int = HOLDOUT_IDENTITIES) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out identity indices: the LAST ``holdout`` identities in sorted order are held out."""
    all_ids = np.arange(n_identities)
    return all_ids[: n_identities - holdout], all_ids[n_identities - holdout :]


def degrade_face(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One random face degradation (float32 RGB in, same size out) and its description.

    Strengths span from barely visible to severe, so the labels cover the whole quality range.
    """
    out = rgb.astype(np.float32)
    height, width = out.shape[:2]
    ops = rng.choice(["blur", "down", "noise", "jpeg"], size=int(rng.integers(1, 3)), replace=False)
    parts = []
    for op in ["blur", "down", "noise", "jpeg"]:  # a fixed order, like a camera pipeline
        if op not in ops:
            continue
        if op == "blur":
            sigma = float(rng.uniform(0.5, 5.0))
            out = cv2.GaussianBlur(out, (0, 0), sigma)
            parts.append(f"blur{sigma:.2f}")
        elif op == "down":
            factor = float(rng.uniform(1.5, 8.0))
            small = cv2.resize(out, (max(4, round(width / factor)), max(4, round(height / factor))),
                               interpolation=cv2.INTER_AREA)
            out = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
            parts.append(f"down{factor:.2f}")
        elif op == "noise":
            sigma = float(rng.uniform(0.01, 0.12))
            out = out + rng.normal(0.0, sigma, out.shape).astype(np.float32)
            parts.append(f"noise{sigma:.3f}")
        else:
            quality = int(rng.integers(5, 50))
            u8 = np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)
            _, buf = cv2.imencode(".jpg", u8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
            parts.append(f"jpeg{quality}")
    return np.clip(out, 0.0, 1.0).astype(np.float32), "+".join(parts)


@dataclass(frozen=True)
class CacheOptions:
    lfw: Path
    cache: Path = DEFAULT_CACHE
    seed: int = 0
    chunk: int = 50
    degrade_every: int = 3  # a degraded copy of every 3rd photo (dlib's embedding is the slow part)


_FIELDS = ("image", "variant", "detected", "score", "box", "landmarks", "embedding", "chip", "iod", "degradation")


def build_cache(options: CacheOptions) -> Path:
    """Embeddings, chips and landmarks of every LFW photo, then of degraded copies; resumable by chunk.

    Chunks ``clean_*.npz`` and ``degraded_*.npz`` (photos ``i % degrade_every == 0``), held-out identities
    first, so that an interrupted run is still usable; several processes may run at once (lock files). A degraded copy in which the detector finds no
    face is measured at the clean photo's face (flagged ``detected=False``), as is a clean photo where HOG
    misses (at ``LFW_FALLBACK_BOX``; LFW is centred by construction).
    """
    from tqdm import tqdm

    from acutance.errors import ModelError
    from acutance.faces import identity
    from acutance.faces.quality import face_record
    from acutance.io import read_image

    names, paths, ids = lfw_index(options.lfw)
    options.cache.mkdir(parents=True, exist_ok=True)
    (options.cache / "index.json").write_text(
        json.dumps({"lfw": str(options.lfw), "names": names, "paths": [str(p) for p in paths], "ids": ids.tolist(),
                    "seed": options.seed, "degrade_every": options.degrade_every})
    )
    n = len(paths)
    held_start = int(np.flatnonzero(ids >= len(names) - HOLDOUT_IDENTITIES)[0])
    starts = list(range(0, n, options.chunk))
    held = [s for s in starts if s + options.chunk > held_start]
    # Held-out photos first (the benchmark needs them), then each training chunk clean and degraded.
    jobs = [(0, s) for s in held] + [(1, s) for s in held]
    jobs += [(v, s) for s in starts if s not in held for v in (0, 1)]
    for variant, start in tqdm(jobs, desc="chunks"):
        prefix = ("clean", "degraded")[variant]
        out = options.cache / f"{prefix}_{start:05d}.npz"
        todo = [i for i in range(start, min(n, start + options.chunk))
                if variant == 0 or i % options.degrade_every == 0]
        if out.exists() or not todo or not _claim(out):
            continue
        rows: dict[str, list] = {k: [] for k in _FIELDS}
        for i in todo:
            rgb = read_image(paths[i]).rgb
            desc = ""
            if variant == 1:
                rgb, desc = degrade_face(rgb, np.random.default_rng([options.seed, i]))
            try:
                face, detected = identity.find_face(rgb), True
            except ModelError:
                fallback = LFW_FALLBACK_BOX if variant == 0 else _clean_face(options.cache, i, options.chunk)
                face, detected = identity.find_face(rgb, fallback), False
            record = face_record(rgb, face)
            values = (i, variant, detected, face.score, face.box, face.landmarks, record.embedding,
                      np.clip(np.rint(record.chip * 255), 0, 255).astype(np.uint8), record.eye_distance, desc)
            for key, value in zip(_FIELDS, values):
                rows[key].append(value)
        tmp = out.with_name(out.stem + ".tmp.npz")
        np.savez(tmp, **{k: np.asarray(v) for k, v in rows.items()})
        tmp.replace(out)
        out.with_suffix(".lock").unlink(missing_ok=True)
    return options.cache


def _claim(out: Path) -> bool:
    """Take a chunk for this process (several ``cache`` processes may share the work)."""
    try:
        out.with_suffix(".lock").open("x").close()
        return True
    except FileExistsError:
        return False


def _clean_face(cache: Path, i: int, chunk: int) -> tuple[int, int, int, int]:
    """The box the clean pass used for photo ``i`` (the LFW centre box if that chunk is not done yet)."""
    path = cache / f"clean_{(i // chunk) * chunk:05d}.npz"
    if not path.exists():
        return LFW_FALLBACK_BOX
    data = np.load(path)
    row = int(np.flatnonzero(data["image"] == i)[0])
    return tuple(int(v) for v in data["box"][row])


def load_cache(cache: Path) -> dict[str, np.ndarray]:
    """The whole cache as arrays (one row per face: clean photos, then degraded copies), plus ``ids``."""
    index = json.loads((cache / "index.json").read_text())
    chunks = sorted(cache.glob("clean_*[0-9].npz")) + sorted(cache.glob("degraded_*[0-9].npz"))
    parts = [dict(np.load(p)) for p in chunks]
    data = {k: np.concatenate([p[k] for p in parts]) for k in _FIELDS}
    data["ids"] = np.asarray(index["ids"], dtype=np.int32)[data["image"]]
    data["names"] = np.asarray(index["names"])
    data["paths"] = np.asarray(index["paths"])
    return data


# ---------------------------------------------------------------------------------------- pseudo-labels
def wasserstein_1d(a: np.ndarray, b: np.ndarray, grid: int = 256) -> float:
    """W1 distance between two 1-D empirical distributions: the mean gap between their quantile functions."""
    q = (np.arange(grid) + 0.5) / grid
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def sdd_labels(
    embeddings: np.ndarray,
    ids: np.ndarray,
    image: np.ndarray,
    variant: np.ndarray,
    rows: np.ndarray,
    negatives: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """SDD-FIQA pseudo-label of each row in ``rows``: W1(positive similarities, negative similarities).

    The gallery is the clean (``variant == 0``) rows among ``rows``' identities. Positives: cosine to the other
    clean photos of the same identity (never the row's own clean source); negatives: cosine to ``negatives``
    clean photos of other identities, sampled once per row. Signed by mean(pos) - mean(neg), so a face closer
    to strangers than to its own identity gets a negative label (higher = better).
    """
    rng = np.random.default_rng(seed)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    gallery = rows[variant[rows] == 0]
    labels = np.empty(len(rows), dtype=np.float64)
    for k, r in enumerate(rows):
        same = gallery[(ids[gallery] == ids[r]) & (image[gallery] != image[r])]
        others = gallery[ids[gallery] != ids[r]]
        neg = rng.choice(others, size=min(negatives, len(others)), replace=False)
        pos_sim = unit[same] @ unit[r]
        neg_sim = unit[neg] @ unit[r]
        sign = 1.0 if pos_sim.mean() >= neg_sim.mean() else -1.0
        labels[k] = sign * wasserstein_1d(pos_sim, neg_sim)
    return labels


# ---------------------------------------------------------------------------------------- regressor
@dataclass(frozen=True)
class TrainOptions:
    hidden: int = 64
    epochs: int = 300
    lr: float = 3e-3
    weight_decay: float = 1e-3
    huber_delta: float = 1.0  # in label standard deviations
    seed: int = 0


def fit_mlp(x: np.ndarray, y: np.ndarray, options: TrainOptions, checkpoint: Path | None = None,
            stop_after: int | None = None) -> dict[str, np.ndarray]:
    """One-hidden-layer MLP (standardised features -> label), Huber loss, full-batch AdamW (a constant step,
    on ``acutance.train.loop``; ``checkpoint`` makes it resumable); numpy weights."""
    import torch

    from acutance.train.loop import LoopOptions, fit

    torch.manual_seed(options.seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    y_mean, y_std = float(y.mean()), float(y.std() + 1e-9)
    xt = torch.tensor(np.clip((x - mean) / std, -FEATURE_CLIP, FEATURE_CLIP), dtype=torch.float32)
    yt = torch.tensor((y - y_mean) / y_std, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], options.hidden), torch.nn.GELU(approximate="tanh"),
                              torch.nn.Linear(options.hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    loss_fn = torch.nn.HuberLoss(delta=options.huber_delta)
    loop = LoopOptions(steps=options.epochs, lr=options.lr, lr_min=options.lr, log_every=options.epochs)
    fit(net, opt, lambda step: {"huber": loss_fn(net(xt).squeeze(1), yt)}, loop, checkpoint=checkpoint,
        name="face quality", progress=False, stop_after=stop_after, log=None)
    w1, b1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    w2, b2 = net[2].weight.detach().numpy(), net[2].bias.detach().numpy()
    return {
        "feature_mean": mean.astype(np.float32), "feature_std": std.astype(np.float32),
        "w1": w1.T.astype(np.float32).copy(), "b1": b1.astype(np.float32),
        "w2": w2.T.astype(np.float32).copy(), "b2": b2.astype(np.float32),
        "label_mean": np.float32(y_mean), "label_std": np.float32(y_std),
    }


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (ties broken by order; the scores here are continuous)."""
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def cache_features(data: dict[str, np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
    """:func:`acutance.faces.quality.quality_features` of cached faces (the same numbers as at inference)."""
    from acutance.faces.quality import FaceRecord, detector_feature, quality_features

    rows = np.arange(len(data["image"])) if rows is None else rows
    out = []
    for r in rows:
        record = FaceRecord(chip=data["chip"][r].astype(np.float32) / np.float32(255.0),
                            embedding=data["embedding"][r], landmarks=data["landmarks"][r],
                            box=tuple(int(v) for v in data["box"][r]), eye_distance=float(data["iod"][r]),
                            detector_score=detector_feature(float(data["score"][r])))
        out.append(quality_features(record))
    return np.asarray(out)


CANDIDATES = {
    # name: (features read, hidden units)
    "image-stats": (lambda names: [n for n in names if not n.startswith("emb") or n == "emb_norm"], 16),
    "stats+embedding": (lambda names: list(names), 32),
}


def _cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, columns: np.ndarray, hidden: int,
                    options: TrainOptions, folds: int = 5) -> dict:
    """Spearman of out-of-fold predictions with the labels, folds by identity."""
    from dataclasses import replace

    from acutance.faces.quality import FEATURE_NAMES, QualityModel

    fold_of = {g: k % folds for k, g in enumerate(np.unique(groups))}
    fold = np.array([fold_of[g] for g in groups])
    pred = np.empty(len(y))
    meta = {"feature_clip": FEATURE_CLIP, "features": None}
    for k in range(folds):
        test = fold == k
        arrays = fit_mlp(x[~test][:, columns], y[~test], replace(options, hidden=hidden))
        model = QualityModel(arrays=arrays, meta=meta | {"features": [FEATURE_NAMES[c] for c in columns]})
        pred[test] = model.predict(x[test])
    return {"spearman": spearman(pred, y)}


def train_and_save(cache: Path, output: Path, holdout: int, options: TrainOptions) -> dict:
    """Labels on the training identities, model choice by 5-fold cross-validation by identity, the npz."""
    from dataclasses import replace

    from acutance.faces.quality import FEATURE_NAMES, save_quality_model

    started = time.time()
    data = load_cache(cache)
    n_ids = len(data["names"])
    train_ids, held_ids = split_identities(n_ids, holdout)
    # Only identities whose clean photos are all cached (an interrupted cache leaves some without).
    clean = data["variant"] == 0
    counts = np.bincount(np.asarray(json.loads((cache / "index.json").read_text())["ids"]), minlength=n_ids)
    complete = np.flatnonzero(np.bincount(data["ids"][clean], minlength=n_ids) == counts)
    rows = np.flatnonzero(np.isin(data["ids"], np.intersect1d(train_ids, complete)))
    labels = sdd_labels(data["embedding"], data["ids"], data["image"], data["variant"], rows, seed=options.seed)
    x = cache_features(data, rows)
    groups = data["ids"][rows]
    validation = {}
    for name, (pick, hidden) in CANDIDATES.items():
        columns = np.array([FEATURE_NAMES.index(f) for f in pick(FEATURE_NAMES)])
        validation[name] = _cross_validate(x, labels, groups, columns, hidden, options)
    chosen = max(validation, key=lambda k: validation[k]["spearman"])
    pick, hidden = CANDIDATES[chosen]
    features = pick(FEATURE_NAMES)
    columns = np.array([FEATURE_NAMES.index(f) for f in features])
    arrays = fit_mlp(x[:, columns], labels, replace(options, hidden=hidden))
    used_ids = np.unique(groups)
    meta = {
        "task": "face-quality",
        "method": "SDD-FIQA pseudo-labels (W1 between same- and other-identity cosine similarities of dlib "
                  "embeddings) regressed by a one-hidden-layer MLP with Huber loss",
        "features": features,
        "feature_clip": FEATURE_CLIP,
        "trained_on": {
            "data": "LFW identity folders (faces/lfw: identities with >= 4 images, at most 6 each)",
            "identities": len(used_ids),
            "identity_pool": len(train_ids),
            "held_out": f"the last {holdout} identities in sorted order ({data['names'][held_ids[0]]} .. "
                        f"{data['names'][held_ids[-1]]}), never seen in training",
            "faces": len(rows),
            "clean_photos": int((data["variant"][rows] == 0).sum()),
            "degraded_copies": int((data["variant"][rows] == 1).sum()),
            "degradations": "a seeded random copy of every third photo: 1-2 of Gaussian blur (sigma 0.5-5), "
                            "down-up x1.5-8, Gaussian noise (sigma 0.01-0.12), JPEG (quality 5-49)",
            "negatives_per_face": 1000,
        },
        "label_range": [float(labels.min()), float(np.percentile(labels, 50)), float(labels.max())],
        "training": {k: getattr(options, k) for k in options.__dataclass_fields__} | {"hidden": hidden},
        "cross_validation": {"folds": 5, "by": "identity", "chosen": chosen, "spearman": validation},
        "licence": "trained by acutance on LFW photos (research use only, like LFW itself)",
    }
    save_quality_model(output, arrays, meta)
    return {"seconds": round(time.time() - started, 1), "chosen": chosen, "cross_validation": validation,
            "trained_on": meta["trained_on"], "label_range": meta["label_range"]}
