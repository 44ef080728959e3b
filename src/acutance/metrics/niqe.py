"""NIQE, the "completely blind" natural image quality evaluator (Mittal, Soundararajan and Bovik, 2013).

No reference is needed: the image's luminance is cut into 96x96 patches, each patch is described by 18
natural-scene statistics of its MSCN coefficients at two scales (36 numbers), a Gaussian is fitted to the
patches' features, and the score is the distance between that Gaussian and the one fitted on pristine
natural images::

    sqrt((mu_p - mu_d)^T pinv((S_p + S_d) / 2) (mu_p - mu_d))

Lower is better (more natural). The computation follows the authors' MATLAB release (``computequality.m``),
on which the published scores are computed:

- luminance as MATLAB ``rgb2gray`` of an 8-bit image (rounded to integers), on the 0-255 scale;
- the image is cropped to whole 96x96 patches (top-left kept);
- MSCN: ``(I - mu) / (sigma + 1)`` with a 7x7 Gaussian window (sigma 7/6), replicated borders;
- per patch: an AGGD fit of the MSCN coefficients (shape, mean of the left and right scale) and AGGD fits of
  the products with the 4 neighbours (horizontal, vertical, two diagonals; shifted circularly inside the
  patch): shape, mean, left scale, right scale; shapes by the moment-matching table on 0.2:0.001:10;
- the second scale is MATLAB ``imresize(I, 0.5)`` (bicubic, antialiased) with 48x48 patches;
- patches whose statistics are undefined (a flat patch: no negative or no positive coefficient) are left
  out of both the mean and the covariance (MATLAB's ``nanmean`` keeps their finite columns in the mean;
  the difference only shows on images with flat areas).

The pristine model is ours (``acutance/weights/niqe-pristine.npz``, fitted by :mod:`acutance.metrics.niqe_fit`
on the BSDS500 images; see docs/niqe.md), so absolute values differ from the MATLAB release's; the ranking
agrees (benchmarks/results/niqe_calibration.md).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from acutance.errors import ModelError, OptionError

PATCH_SIZE = 96
FEATURES_PER_SCALE = 18
SCALES = 2
MODEL_NAME = "niqe-pristine"
MODEL_FORMAT = "acutance-niqe-1"
MIN_PATCHES = 2  # a sample covariance needs two patches

# Neighbour shifts (rows, columns) of MATLAB circshift in the NIQE release: right, down, and the two diagonals.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _gaussian_kernel_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    # fspecial('gaussian', 7, 7/6) is the outer product of this normalised 1-D kernel with itself.
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    kernel = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return kernel / kernel.sum()


_KERNEL = _gaussian_kernel_1d()


@lru_cache(maxsize=1)
def _shape_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(shapes, rho, scale_factor, mean_factor)`` on the shape grid 0.2:0.001:10 of the MATLAB release.

    ``rho(a) = G(2/a)^2 / (G(1/a) G(3/a))`` is what ``E|x|^2 / E[x^2]`` equals for a generalised Gaussian of
    shape ``a``; it increases with ``a``, so the moment-matching ``argmin`` is a sorted search.
    ``scale_factor = sqrt(G(1/a) / G(3/a))`` turns a standard deviation into the AGGD scale;
    ``mean_factor = G(2/a) / G(1/a)`` gives the mean from the two scales.
    """
    shapes = 0.2 + 0.001 * np.arange(9801, dtype=np.float64)
    g1 = np.array([math.gamma(1.0 / a) for a in shapes])
    g2 = np.array([math.gamma(2.0 / a) for a in shapes])
    g3 = np.array([math.gamma(3.0 / a) for a in shapes])
    rho = g2 * g2 / (g1 * g3)
    return shapes, rho, np.sqrt(g1 / g3), g2 / g1


def aggd_from_moments(moments: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit asymmetric generalised Gaussians by moment matching, from ``moments`` (..., 5) of ``count`` samples.

    The moments are ``(sum of squares of the negative values, number of negative values, the same two for the
    positive values, sum of absolute values)``. Returns ``(shape, left_scale, right_scale, mean)``; NaN where
    there is no negative or no positive value (the fit is undefined).
    """
    shapes, rho, scale_factor, mean_factor = _shape_table()
    left_squares, n_left, right_squares, n_right, absolute = np.moveaxis(moments, -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt(left_squares / n_left)
        right_std = np.sqrt(right_squares / n_right)
        ratio = left_std / right_std
        r_hat = (absolute / count) ** 2 / ((left_squares + right_squares) / count)
        r_norm = r_hat * (ratio**3 + 1.0) * (ratio + 1.0) / (ratio**2 + 1.0) ** 2
    valid = np.isfinite(r_norm)
    target = np.where(valid, r_norm, 0.0)
    # Nearest table entry (the first one on a tie, as MATLAB's min does).
    upper = np.clip(np.searchsorted(rho, target), 1, len(rho) - 1)
    lower = upper - 1
    index = np.where((rho[upper] - target) ** 2 < (rho[lower] - target) ** 2, upper, lower)
    shape = np.where(valid, shapes[index], np.nan)
    left = np.where(valid, left_std * scale_factor[index], np.nan)
    right = np.where(valid, right_std * scale_factor[index], np.nan)
    mean = (right - left) * mean_factor[index]
    return shape, left, right, mean


def aggd_fit(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`aggd_from_moments` of each row of ``samples`` (N x n, float64)."""
    negative = np.minimum(samples, 0.0)
    positive = samples - negative
    moments = np.stack(
        [
            np.einsum("ij,ij->i", negative, negative),
            np.count_nonzero(negative, axis=1).astype(np.float64),
            np.einsum("ij,ij->i", positive, positive),
            np.count_nonzero(positive, axis=1).astype(np.float64),
            positive.sum(axis=1) - negative.sum(axis=1),
        ],
        axis=-1,
    )
    return aggd_from_moments(moments, samples.shape[1])


def mscn(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mscn, sigma)`` of a float64 HxW image: ``(I - mu) / (sigma + 1)`` with the 7x7, sigma 7/6 window.

    Borders replicated (MATLAB ``imfilter(..., 'replicate')``); sigma is ``sqrt(|E[I^2] - mu^2|)``.
    """
    import cv2

    mu = cv2.sepFilter2D(gray, cv2.CV_64F, _KERNEL, _KERNEL, borderType=cv2.BORDER_REPLICATE)
    second = cv2.sepFilter2D(gray * gray, cv2.CV_64F, _KERNEL, _KERNEL, borderType=cv2.BORDER_REPLICATE)
    sigma = np.sqrt(np.abs(second - mu * mu))
    return (gray - mu) / (sigma + 1.0), sigma


def _patches(plane: np.ndarray, size: int) -> np.ndarray:
    """HxW (multiples of ``size``) -> (N, size, size) patches, column-major over the patch grid as MATLAB."""
    rows, cols = plane.shape[0] // size, plane.shape[1] // size
    return np.ascontiguousarray(plane.reshape(rows, size, cols, size).transpose(2, 0, 1, 3).reshape(-1, size, size))


def _scale_features(coefficients: np.ndarray, size: int) -> np.ndarray:
    """The 18 features of every ``size`` x ``size`` patch of an MSCN plane: (N, 18)."""
    from acutance.metrics.niqe_kernels import patch_moments  # numba: imported on first use, not with the module

    shape, left, right, mean = aggd_from_moments(patch_moments(coefficients, size), size * size)
    columns = [shape[:, 0], (left[:, 0] + right[:, 0]) / 2.0]
    for series in range(1, 5):
        columns += [shape[:, series], mean[:, series], left[:, series], right[:, series]]
    return np.stack(columns, axis=1)


def _scale_features_numpy(coefficients: np.ndarray, size: int) -> np.ndarray:
    """:func:`_scale_features` with numpy only (the reference the tests compare the compiled kernel with)."""
    patches = _patches(coefficients, size)
    n = patches.shape[0]
    shape, left, right, _ = aggd_fit(patches.reshape(n, -1))
    columns = [shape, (left + right) / 2.0]
    for dy, dx in _SHIFTS:
        shifted = np.roll(patches, (dy, dx), axis=(1, 2))  # circular inside each patch, as circshift per block
        shape, left, right, mean = aggd_fit((patches * shifted).reshape(n, -1))
        columns += [shape, mean, left, right]
    return np.stack(columns, axis=1)


def luminance_255(rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> float64 HxW MATLAB ``rgb2gray`` of the 8-bit image, rounded, 0-255."""
    from acutance.color.ycbcr import rgb_to_gray

    return np.round(rgb_to_gray(np.clip(rgb, 0.0, 1.0)) * 255.0)


def patch_features(gray: np.ndarray, patch_size: int = PATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``(features, sharpness)`` of a float64 HxW luminance on the 0-255 scale.

    The image is cropped to whole ``patch_size`` patches. ``features``: (N, 36), the 18 statistics at full
    and half resolution per patch (NaN where undefined); ``sharpness``: (N,) mean local deviation ``sigma``
    of each patch at full resolution (the fitting keeps the sharpest patches of each image).
    """
    from acutance.resize import imresize

    rows, cols = gray.shape[0] // patch_size, gray.shape[1] // patch_size
    if rows * cols == 0:
        raise OptionError(
            f"NIQE needs at least one {patch_size}x{patch_size} patch; the image is {gray.shape[1]}x{gray.shape[0]}"
        )
    plane = np.ascontiguousarray(gray[: rows * patch_size, : cols * patch_size], dtype=np.float64)
    features = []
    sharpness = None
    for scale in range(1, SCALES + 1):
        coefficients, sigma = mscn(plane)
        features.append(_scale_features(coefficients, patch_size // scale))
        if scale == 1:
            sharpness = _patches(sigma, patch_size).mean(axis=(1, 2))
            # MATLAB imresize(I, 0.5) on the double image; float32 inside keeps ~1e-5 of 255.
            plane = imresize(plane.astype(np.float32), 0.5).astype(np.float64)
    return np.concatenate(features, axis=1), sharpness


@dataclass(frozen=True)
class NiqeModel:
    """A multivariate Gaussian of the 36 patch features: ``mean`` (36,), ``cov`` (36, 36) and provenance."""

    mean: np.ndarray
    cov: np.ndarray
    patch_size: int = PATCH_SIZE
    meta: dict = field(default_factory=dict)


def save_model(model: NiqeModel, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``model`` as an npz (``mean``, ``cov``, ``meta`` JSON with the format tag and patch size)."""
    import io

    from acutance.io import atomic_write_bytes

    meta = dict(model.meta, format=MODEL_FORMAT, patch_size=model.patch_size)
    buffer = io.BytesIO()
    np.savez(buffer, mean=model.mean.astype(np.float64), cov=model.cov.astype(np.float64), meta=json.dumps(meta))
    atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite)


def read_model(path: str | os.PathLike) -> NiqeModel:
    """Read a model written by :func:`save_model`; anything else is a ``ModelError`` naming the file."""
    from acutance.models.weights import read_model_npz

    dims = FEATURES_PER_SCALE * SCALES
    meta, arrays = read_model_npz(path, MODEL_FORMAT, "NIQE model file")
    if set(arrays) != {"mean", "cov"}:
        raise ModelError(f"{path}: a NIQE model file holds mean and cov, not {sorted(arrays)}")
    mean, cov = arrays["mean"], arrays["cov"]
    if mean.shape != (dims,) or cov.shape != (dims, dims) or not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        raise ModelError(f"{path}: expected a finite mean ({dims},) and covariance ({dims}, {dims}), "
                         f"got {mean.shape} and {cov.shape}")  # fmt: skip
    patch_size = meta.get("patch_size", PATCH_SIZE)
    if type(patch_size) is not int or not 8 <= patch_size <= 1024:  # (a damaged file; found by benchmarks/fuzz.py)
        raise ModelError(f"{path}: 'patch_size' must be a whole number of pixels, got {patch_size!r:.40}")
    return NiqeModel(mean=mean, cov=cov, patch_size=patch_size, meta=meta)


@lru_cache(maxsize=1)
def default_model() -> NiqeModel:
    """The shipped pristine model (registry name ``niqe-pristine``)."""
    from acutance.models.registry import load_model

    return load_model(MODEL_NAME).model  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------- the family

FORMAT = MODEL_FORMAT
read = read_model


def describe(meta: dict) -> dict:
    """A no-reference score of whole images (on the luminance): no scale, no tiles."""
    return {"task": "quality", "scales": (1,), "input": "luma", "context": 0, "default_scale": 1.0}


@dataclass(frozen=True)
class NiqeScorer:
    """The registered pristine model: ``scorer.score(rgb) -> float`` (lower = more natural). Not an
    image-to-image model: called as one, it says where it belongs."""

    info: object
    model: NiqeModel

    def score(self, rgb: np.ndarray) -> float:
        return niqe(rgb, self.model)

    def __call__(self, rgb: np.ndarray, scale: float = 1.0) -> np.ndarray:
        raise ModelError(f"{self.info.name} scores images (NIQE), it makes none: use 'acutance metrics --niqe IN'")  # type: ignore[attr-defined]


Enhancer = NiqeScorer


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``(mean, cov, n)`` of the rows of ``features`` without NaN (``cov`` with the n - 1 normalisation)."""
    complete = features[np.isfinite(features).all(axis=1)]
    if len(complete) < MIN_PATCHES:
        return np.full(features.shape[1], np.nan), np.full((features.shape[1],) * 2, np.nan), len(complete)
    return complete.mean(axis=0), np.cov(complete, rowvar=False), len(complete)


def niqe_distance(features: np.ndarray, model: NiqeModel) -> float:
    """The NIQE score of patch ``features`` (N, 36) against ``model``."""
    mean, cov, n = gaussian_fit(features)
    if n < MIN_PATCHES:
        raise OptionError(
            f"NIQE needs at least {MIN_PATCHES} patches with texture; this image has {n} of {len(features)} "
            "(flat patches have no statistics)"
        )
    difference = model.mean - mean
    value = float(difference @ np.linalg.pinv((model.cov + cov) / 2.0) @ difference)
    return math.sqrt(max(value, 0.0))


def niqe(rgb: np.ndarray, model: NiqeModel | None = None) -> float:
    """NIQE of a float32 HxWx3 RGB image in [0, 1]; lower is more natural.

    The image must hold at least 2 whole 96x96 patches (e.g. 192x96); fewer is an ``OptionError``, as is an
    image with fewer than 2 textured patches. Scores from a few patches are noisy: use images of 0.1
    megapixel or more (a 384x288 image has 12 patches). ``model`` defaults to the shipped pristine model.
    """
    from acutance.contract import check_rgb

    check_rgb(rgb)
    model = model or default_model()
    size = model.patch_size
    patches = (rgb.shape[0] // size) * (rgb.shape[1] // size)
    if patches < MIN_PATCHES:
        raise OptionError(
            f"NIQE needs an image with at least {MIN_PATCHES} whole {size}x{size} patches (e.g. {2 * size}x{size}); "
            f"got {rgb.shape[1]}x{rgb.shape[0]}"
        )
    features, _ = patch_features(luminance_255(rgb), size)
    return niqe_distance(features, model)
