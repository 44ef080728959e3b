"""Face image quality (SDD-FIQA style): how useful a face image is for recognising the person.

The score regresses SDD-FIQA pseudo-labels: for each training face (LFW, plus synthetically degraded
copies), the Wasserstein distance between its similarities to photos of the same person and to photos of
other people (dlib embeddings, cosine). A face the recognition model separates well from strangers scores
high. The regressor (``weights/face-quality.npz``, trained by :mod:`acutance.faces.quality_train`) is a
one-hidden-layer MLP on features of the face image alone: the 128-d embedding (direction and norm), sharpness,
band energies and noise of the aligned chip, contrast, exposure, pose from the landmarks and the HOG detector's
confidence. It never sees the identity. Inference is numpy.

Contract: ``float32 HxWx3 RGB in [0, 1]``; the largest face is measured; ``ModelError`` when no face is
found. Scores are on the label scale (higher = better; LFW training labels run from about 0 to 0.2, median
about 0.11; a face the model can no longer tell from strangers is near 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from acutance.errors import ModelError
from acutance.faces import identity

WEIGHT_NAME = "face-quality"
FORMAT = "acutance-face-quality"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FaceRecord:
    """What the quality features are computed from: the aligned chip, its embedding and the face geometry."""

    chip: np.ndarray  # float32 150x150x3, dlib alignment
    embedding: np.ndarray  # float32 (128,)
    landmarks: np.ndarray  # 5x2, dlib 5-point order, image pixels
    box: tuple[int, int, int, int]
    eye_distance: float  # pixels between the eye centres in the input image
    detector_score: float  # dlib HOG confidence of this face; -1 when the detector did not find it


def face_record(rgb: np.ndarray, face: Any = None) -> FaceRecord:
    """Find (or take) the face, align its chip and embed it.

    For a face given as a box, the detector still runs, and the confidence of the detection overlapping the
    box (intersection over union > 0.3) is kept; -1 when there is none. A :class:`identity.DlibFace` is
    trusted as found in this very image (its score is used).
    """
    found = face if isinstance(face, identity.DlibFace) else identity.find_face(rgb, face)
    score = found.score
    if not np.isfinite(score):
        score = _matching_detection_score(rgb, found.box)
    chip = identity.face_chip(rgb, found)
    embedding = identity.embedding_from_chip(chip)
    return FaceRecord(chip=chip, embedding=embedding, landmarks=found.landmarks, box=found.box,
                      eye_distance=eye_distance(found.landmarks), detector_score=detector_feature(score))


def detector_feature(score: float) -> float:
    """HOG confidence as a feature: undetected (nan) -> -1, very sure -> at most 4."""
    return float(np.clip(score, -1.0, 4.0)) if np.isfinite(score) else -1.0


def _matching_detection_score(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    best = float("nan")
    for other, score in identity.detect_boxes(rgb):
        ix = max(0, min(box[2], other[2]) - max(box[0], other[0]))
        iy = max(0, min(box[3], other[3]) - max(box[1], other[1]))
        inter = ix * iy
        union = (box[2] - box[0]) * (box[3] - box[1]) + (other[2] - other[0]) * (other[3] - other[1]) - inter
        if union > 0 and inter / union > 0.3 and not score <= best:
            best = score
    return best


def eye_distance(landmarks: np.ndarray) -> float:
    """Distance between the two eye centres (means of dlib points 0,1 and 2,3)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return float(np.linalg.norm(lm[0:2].mean(0) - lm[2:4].mean(0)))


# ------------------------------------------------------------------------------------------- features
FEATURE_NAMES = tuple(
    [f"emb{i}" for i in range(identity.EMBEDDING_DIM)]
    + ["emb_norm", "lap_var", "band1", "band2", "band3", "noise", "contrast", "brightness", "clipped",
       "saturation", "yaw", "roll", "eye_ratio", "det_score"]
)
_INNER = slice(25, 125)  # the inner face of dlib's 150 px chip (padding 0.25): eyes, nose, mouth


def _log(value: float) -> float:
    return float(np.log(max(value, 1e-12)))


def quality_features(record: FaceRecord) -> np.ndarray:
    """Feature vector (float64, ``FEATURE_NAMES``) of one face: scale-free image statistics + embedding.

    Everything is measured on the aligned 150 px chip, so the features do not depend on the input's
    resolution except through what it does to the face (a small face gives a soft chip).
    """
    emb = np.asarray(record.embedding, dtype=np.float64)
    norm = float(np.linalg.norm(emb))
    chip = np.asarray(record.chip, dtype=np.float32)
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    inner = gray[_INNER, _INNER]
    lap = cv2.Laplacian(inner, cv2.CV_32F, ksize=1)
    # Band energies of a difference-of-Gaussians pyramid: where the detail has gone (blur, downscale).
    g1 = cv2.GaussianBlur(inner, (0, 0), 1.0)
    g2 = cv2.GaussianBlur(inner, (0, 0), 2.0)
    g4 = cv2.GaussianBlur(inner, (0, 0), 4.0)
    # Immerkaer's fast noise estimate (a Laplacian difference mask that cancels smooth structure).
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    noise = float(np.mean(np.abs(cv2.filter2D(inner, cv2.CV_32F, mask)[1:-1, 1:-1]))) * np.sqrt(np.pi / 2) / 6
    hsv_s = chip.max(axis=2) - chip.min(axis=2)
    lm = np.asarray(record.landmarks, dtype=np.float64)
    eye_a, eye_b = lm[0:2].mean(0), lm[2:4].mean(0)
    iod = max(float(np.linalg.norm(eye_a - eye_b)), 1e-6)
    mid = (eye_a + eye_b) / 2
    axis = (eye_a - eye_b) / iod
    yaw = float(np.dot(lm[4] - mid, axis)) / iod  # nose off the eye midline: head turned
    roll = float(abs(np.arctan2(abs(axis[1]), abs(axis[0]))))
    len_a, len_b = np.linalg.norm(lm[0] - lm[1]), np.linalg.norm(lm[2] - lm[3])
    eye_ratio = float(abs(np.log(max(len_a, 1e-3) / max(len_b, 1e-3))))  # foreshortening of one eye
    stats = [
        _log(norm),
        _log(float(lap.var())),
        _log(float(np.var(inner - g1))),
        _log(float(np.var(g1 - g2))),
        _log(float(np.var(g2 - g4))),
        _log(noise),
        float(inner.std()),
        float(inner.mean()),
        float(np.mean((inner < 0.02) | (inner > 0.98))),
        float(hsv_s.mean()),
        abs(yaw),
        roll,
        eye_ratio,
        float(record.detector_score),
    ]
    return np.concatenate([emb / max(norm, 1e-12), np.asarray(stats, dtype=np.float64)])


# ------------------------------------------------------------------------------------------- regressor
_ARRAYS = {"feature_mean", "feature_std", "w1", "b1", "w2", "b2", "label_mean", "label_std"}


@dataclass(frozen=True)
class QualityModel:
    """The face-quality regressor: standardise, clip, one GELU (tanh form) hidden layer, linear output."""

    arrays: dict[str, np.ndarray]
    meta: dict

    @property
    def columns(self) -> np.ndarray:
        """Indices into ``FEATURE_NAMES`` of the features this model reads (``meta['features']``)."""
        return np.array([FEATURE_NAMES.index(name) for name in self.meta["features"]], dtype=np.intp)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Scores for a batch of full feature rows (N x len(FEATURE_NAMES)) or one row."""
        a = self.arrays
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))[:, self.columns]
        clip = float(self.meta.get("feature_clip", 6.0))
        z = np.clip((x - a["feature_mean"]) / a["feature_std"], -clip, clip)
        h = z @ a["w1"] + a["b1"]
        h = 0.5 * h * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (h + 0.044715 * h**3)))  # GELU, tanh form
        return (h @ a["w2"] + a["b2"])[:, 0] * float(a["label_std"]) + float(a["label_mean"])


def save_quality_model(path: str | Path, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write the regressor npz with its ``meta`` JSON (format, features read, training data, numbers).

    ``meta['features']`` names the features the arrays expect, in order (default: all of ``FEATURE_NAMES``).
    """
    path = Path(path)
    full = {"features": list(FEATURE_NAMES)} | dict(meta) | {"format": FORMAT, "version": FORMAT_VERSION}
    payload = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps(full, sort_keys=True))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.savez_compressed(handle, **payload)
    tmp.replace(path)
    return path


def load_quality_model(path: str | Path) -> QualityModel:
    """Read a regressor file strictly: the expected arrays, nothing else, consistent shapes."""
    from acutance.models.weights import read_model_npz

    name = str(path)
    meta, arrays = read_model_npz(path, FORMAT, "face-quality model file")
    if meta.get("version") != FORMAT_VERSION:
        raise ModelError(f"{name}: 'meta' must say format {FORMAT!r} version {FORMAT_VERSION}")
    features = meta.get("features")
    listed = isinstance(features, list) and all(isinstance(f, str) for f in features)
    unknown = [f for f in features if f not in FEATURE_NAMES] if listed else []
    if not listed or not features or unknown or len(set(features)) != len(features):
        raise ModelError(f"{name}: 'features' must list distinct names of this version's features "
                         f"(unknown: {unknown[:5]})")
    if set(arrays) != _ARRAYS:
        raise ModelError(f"{name}: arrays {sorted(arrays)} differ from the expected {sorted(_ARRAYS)}")
    if arrays["w1"].ndim != 2:
        raise ModelError(f"{name}: w1 has shape {arrays['w1'].shape}, expected (features, hidden)")
    n, hidden = len(features), arrays["w1"].shape[-1]
    shapes = {"feature_mean": (n,), "feature_std": (n,), "w1": (n, hidden), "b1": (hidden,), "w2": (hidden, 1),
              "b2": (1,), "label_mean": (), "label_std": ()}
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise ModelError(f"{name}: {key} has shape {arrays[key].shape}, expected {shape}")
        if not np.all(np.isfinite(arrays[key])):
            raise ModelError(f"{name}: {key} holds non-finite values")
    if np.any(arrays["feature_std"] <= 0):
        raise ModelError(f"{name}: feature_std must be positive")
    return QualityModel(arrays={k: v.astype(np.float64) for k, v in arrays.items()}, meta=meta)


@lru_cache(maxsize=1)
def shipped_model() -> QualityModel:
    """The shipped regressor (registry name ``face-quality``), loaded once."""
    from acutance.models.registry import load_model

    return load_model(WEIGHT_NAME).model  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------- the family

read = load_quality_model


def describe(meta: dict) -> dict:
    """A scorer of whole images (the largest face is measured): no scale, no tiles."""
    return {"task": "quality", "scales": (1,), "context": 0, "default_scale": 1.0}


@dataclass(frozen=True)
class QualityScorer:
    """A registered face-quality model: ``scorer.score(rgb, face=None) -> float`` (higher = better).
    Not an image-to-image model: called as one, it says where it belongs."""

    info: Any
    model: QualityModel

    def score(self, rgb: np.ndarray, face: Any = None) -> float:
        return face_quality(rgb, face, self.model)

    def __call__(self, rgb: np.ndarray, scale: float = 1.0) -> np.ndarray:
        raise ModelError(f"{self.info.name} scores face images, it makes none: use 'acutance metrics --face-quality IN'")


Enhancer = QualityScorer


def face_quality(rgb: np.ndarray, face: Any = None, model: QualityModel | None = None) -> float:
    """Quality score of the largest face in ``rgb`` (or of ``face``): higher = easier to recognise.

    ``ModelError`` when no face is found. Deterministic (no jitter, no randomness).
    """
    record = face_record(rgb, face)
    return float((model or shipped_model()).predict(quality_features(record))[0])
