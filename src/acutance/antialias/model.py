"""The ``aa-x1`` model: hashed learned filters (BLADE-style) that turn aliased edges into anti-aliased ones.

Every pixel an edge passes through (a luma step of at least ``skip`` to a 4-neighbour) gets a k x k filter, chosen by the
structure-tensor hash of the luma (``raisr``'s: angle, strength and coherence bins of the box-windowed
tensor, compared without square roots), and applied alike to R, G and B as a residual on the patch minus
its centre, so flat colours never move. Every other pixel is copied: that is most of a frame, and why a
1080p frame costs a few milliseconds. Training (``acutance.antialias.train``) solves each bucket's filter
by least squares from the normal equations of ``raisr.train``.

The model file is the config: an ``.npz`` with ``filters``, ``strength_thresholds``,
``coherence_thresholds`` and a JSON ``meta`` (format, k, radius, n_angle, skip, training data and numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import AcutanceError, ModelError
from acutance.models.weights import read_model_npz, write_model_npz

FORMAT = "acutance-antialias-1"
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # BT.601 weights of the hash's luma
MAX_TAPS = 15  # filter size k; a larger one in a file would make a small image cost unbounded time
MAX_RADIUS = 8
MAX_ANGLES = 64
MAX_THRESHOLDS = 16


@dataclass(frozen=True)
class AAModel:
    """k: filter size; radius: the hash window is (2 radius + 1)^2; skip: the luma step to a 4-neighbour below which
    a pixel is left alone; filters: float32 (n_buckets, k*k)."""

    k: int
    radius: int
    n_angle: int
    strength_thresholds: tuple[float, ...]  # on sqrt(l1) / the pixel's luma step, ascending
    coherence_thresholds: tuple[float, ...]  # ascending, in [0, 1]
    skip: float
    filters: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (1 <= self.k <= MAX_TAPS and self.k % 2 == 1):
            raise ModelError(f"filter size must be odd and in 1..{MAX_TAPS}, got {self.k}")
        if not 1 <= self.radius <= MAX_RADIUS:
            raise ModelError(f"hash radius must be in 1..{MAX_RADIUS}, got {self.radius}")
        if not (2 <= self.n_angle <= MAX_ANGLES and self.n_angle % 2 == 0):
            raise ModelError(f"n_angle must be even and in 2..{MAX_ANGLES}, got {self.n_angle}")
        for name in ("strength_thresholds", "coherence_thresholds"):
            values = getattr(self, name)
            if len(values) > MAX_THRESHOLDS or any(b <= a for a, b in zip(values, values[1:])):
                raise ModelError(f"{name} must be strictly ascending, at most {MAX_THRESHOLDS}, got {values}")
        if not all(0 <= t <= 1 for t in self.coherence_thresholds) or not all(0 <= t <= 10 for t in self.strength_thresholds):
            raise ModelError("coherence thresholds must lie in [0, 1] and strength thresholds in [0, 10]")
        if not (np.isfinite(self.skip) and self.skip >= 0):
            raise ModelError(f"skip must be a finite number >= 0, got {self.skip}")
        if self.filters.shape != (self.n_buckets, self.k * self.k):
            raise ModelError(f"filters have shape {self.filters.shape}, expected ({self.n_buckets}, {self.k * self.k})")
        if not np.all(np.isfinite(self.filters)):
            raise ModelError("filters have non-finite taps")

    @property
    def n_strength(self) -> int:
        return len(self.strength_thresholds) + 1

    @property
    def n_coherence(self) -> int:
        return len(self.coherence_thresholds) + 1

    @property
    def n_buckets(self) -> int:
        return self.n_angle * self.n_strength * self.n_coherence

    @property
    def context(self) -> int:
        """Input pixels each output reads on each side: its filter, or its hash window plus the gradient."""
        return max(self.k // 2, self.radius + 1)


def hash_arrays(n_angle: int, strength: tuple[float, ...], coherence: tuple[float, ...]):
    """The kernels' form of the thresholds (``raisr.hashing.hash_image``'s): strength^2, (1 - c)^2, (1 + c)^2."""
    s = np.asarray(strength, np.float32)
    c = np.asarray(coherence, np.float32)
    return s * s, (1 - c) ** 2, (1 + c) ** 2


def bucket_map(rgb: np.ndarray, radius: int, skip: float, n_angle: int, strength: tuple[float, ...],
               coherence: tuple[float, ...]) -> np.ndarray:
    """Every pixel's bucket (int32 HxW; -1: left alone), as inference hashes it (training uses this)."""
    from acutance.antialias import kernels

    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    return kernels.bucket_map(rgb, LUMA, radius, np.float32(skip), n_angle, *hash_arrays(n_angle, strength, coherence))


def antialias(rgb: np.ndarray, model: AAModel) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> the same size, its jaggies replaced by learned anti-aliased edges
    (not clipped: a filter may step a little outside [0, 1] on the strongest edges)."""
    from acutance.antialias import kernels

    check_rgb(rgb)
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    filters = model.filters
    return kernels.hashed_filter(
        rgb, LUMA, model.radius, np.float32(model.skip), model.n_angle,
        *hash_arrays(model.n_angle, model.strength_thresholds, model.coherence_thresholds),
        filters, filters.sum(axis=1).astype(np.float32), model.k,
    )  # fmt: skip


def save_model(model: AAModel, path: str | Path) -> Path:
    """Write the model file (npz, no pickle); returns its path."""
    meta = dict(model.meta) | {"format": FORMAT, "task": "antialias", "k": model.k, "radius": model.radius,
                               "n_angle": model.n_angle, "skip": model.skip}
    return write_model_npz(path, meta, {
        "filters": model.filters.astype(np.float32),
        "strength_thresholds": np.asarray(model.strength_thresholds, np.float32),
        "coherence_thresholds": np.asarray(model.coherence_thresholds, np.float32),
    })  # fmt: skip


def load_model_file(path: str | Path) -> AAModel:
    """Read a model file strictly: every key present, nothing else, shapes and ranges checked."""
    name = str(path)
    meta, arrays = read_model_npz(path, FORMAT, "anti-aliasing model file")
    expected = {"filters", "strength_thresholds", "coherence_thresholds"}
    if set(arrays) != expected:
        raise ModelError(f"{name}: expected arrays {sorted(expected)}, found {sorted(arrays)}")
    missing = [key for key in ("k", "radius", "n_angle", "skip") if key not in meta]
    if missing:
        raise ModelError(f"{name}: 'meta' lacks {', '.join(missing)}")
    try:
        return AAModel(
            k=int(meta["k"]), radius=int(meta["radius"]), n_angle=int(meta["n_angle"]),
            strength_thresholds=tuple(float(t) for t in np.ravel(arrays["strength_thresholds"])),
            coherence_thresholds=tuple(float(t) for t in np.ravel(arrays["coherence_thresholds"])),
            skip=float(meta["skip"]), filters=np.ascontiguousarray(arrays["filters"], dtype=np.float32), meta=meta,
        )  # fmt: skip
    except AcutanceError as error:
        raise ModelError(f"{name}: {error}") from None
    except (ValueError, TypeError, OverflowError) as error:
        raise ModelError(f"{name}: invalid model parameters: {error}") from None
