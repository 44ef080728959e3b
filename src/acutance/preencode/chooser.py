"""The pre-encode chooser: per sharpening level, a ridge regression from a scene's frequency features
(:mod:`acutance.preencode.features`) to that level's VMAF NEG BD-rate against no sharpening; the level with
the lowest predicted BD-rate wins (level 0 is predicted 0, so a level must promise a saving to be chosen).

Fitted by ``benchmarks/pre_encode.py`` on the per-clip BD-rates it measures (leave-one-clip-out there); the
shipped fit is ``acutance/weights/pre-encode-chooser.npz``, which names the clips it was fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acutance.errors import ModelError
from acutance.preencode.features import FEATURE_NAMES

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "pre-encode-chooser.npz"
ALPHA = 1.0  # ridge penalty on standardised features; fixed beforehand (a handful of clips, no inner tuning)


@dataclass(frozen=True)
class Chooser:
    mean: np.ndarray  # (F,) feature means of the fit
    scale: np.ndarray  # (F,) feature standard deviations
    coef: np.ndarray  # (L, F + 1): per level, the intercept then the weights
    low: np.ndarray  # (F,) the fit's smallest and largest feature values: a scene outside them is
    high: np.ndarray  # clamped to them, as a linear fit on a few clips must not be extrapolated
    fitted_on: tuple[str, ...] = ()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predicted VMAF NEG BD-rate (%) of each level against level 0, for one feature vector."""
        x = np.clip(np.asarray(features, dtype=np.float64), self.low, self.high)
        z = (x - self.mean) / self.scale
        return self.coef[:, 0] + self.coef[:, 1:] @ z

    def choose(self, features: np.ndarray) -> int:
        return int(np.argmin(self.predict(features)))

    @property
    def meta(self) -> dict:
        return {"format": FORMAT, "features": list(FEATURE_NAMES), "fitted_on": list(self.fitted_on)}

    def save(self, path: str | Path) -> Path:
        from acutance.models.weights import write_model_npz

        arrays = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "low": self.low, "high": self.high}
        return write_model_npz(path, self.meta, arrays)

    @classmethod
    def load(cls, path: str | Path = WEIGHTS) -> Chooser:
        """The chooser in ``path``, read by the strict model-file reader."""
        from acutance.models.weights import read_model_npz

        meta, data = read_model_npz(path, FORMAT, "pre-encode chooser")
        if list(meta.get("features", ())) != list(FEATURE_NAMES):
            raise ModelError(f"{path}: fitted on features {meta.get('features')}, expected {list(FEATURE_NAMES)}")
        try:
            chooser = cls(data["mean"], data["scale"], data["coef"], data["low"], data["high"],
                          tuple(meta.get("fitted_on", ())))  # fmt: skip
        except KeyError as error:
            raise ModelError(f"{path}: the pre-encode chooser has no array {error}") from None
        features = len(FEATURE_NAMES)
        if chooser.coef.ndim != 2 or chooser.coef.shape[1] != features + 1 or any(
            a.shape != (features,) for a in (chooser.mean, chooser.scale, chooser.low, chooser.high)
        ):
            raise ModelError(f"{path}: the pre-encode chooser's arrays do not match its {features} features")
        return chooser


# --- the model family: the shipped chooser has a registry name like every weight file ----------------------
FORMAT = "acutance-pre-encode-1"


def read(path) -> Chooser:
    return Chooser.load(path)


def describe(meta: dict) -> dict:
    """Chooses a sharpening level per scene of a video (the ``pre-encode`` stage); no image in, none out."""
    return {"task": "pre-encode", "scales": (1,), "input": "rgb", "context": 0, "default_scale": 1.0}


@dataclass(frozen=True)
class ChooserModel:
    info: object
    model: Chooser

    def __call__(self, rgb: np.ndarray, scale: float = 1.0) -> np.ndarray:
        raise ModelError(f"{self.info.name} chooses sharpening for video: use 'acutance video --pre-encode auto'")  # type: ignore[attr-defined]


Enhancer = ChooserModel


def fit(features: np.ndarray, bd_rates: np.ndarray, names=(), alpha: float = ALPHA) -> Chooser:
    """Fit on ``features`` (N, F) and ``bd_rates`` (N, L): per clip, each level's BD-rate against level 0."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(bd_rates, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    design = np.hstack([np.ones((len(z), 1)), z])
    penalty = alpha * np.eye(design.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    coef = np.linalg.solve(design.T @ design + penalty, design.T @ y).T  # (L, F + 1)
    coef[0] = 0.0  # level 0 is the anchor: exactly 0
    return Chooser(mean, scale, coef, x.min(axis=0), x.max(axis=0), tuple(names))
