"""Fit the NIQE pristine model: a Gaussian of the patch features of pristine natural images.

As the MATLAB release's ``estimatemodelparam.m``: every image is cropped to whole 96x96 patches, the
36 features of each patch are computed (:func:`acutance.metrics.niqe.patch_features`), and only the patches
whose sharpness (mean local deviation) exceeds ``sharpness_threshold`` times the sharpest patch of the same
image are kept, so that defocused backgrounds and sky do not count as "natural". The mean and covariance of
all kept patches form the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from acutance.errors import OptionError
from acutance.metrics.niqe import PATCH_SIZE, NiqeModel, gaussian_fit, luminance_255, patch_features

SHARPNESS_THRESHOLD = 0.75


def image_patch_features(
    rgb: np.ndarray, *, patch_size: int = PATCH_SIZE, sharpness_threshold: float = SHARPNESS_THRESHOLD
) -> np.ndarray:
    """The (K, 36) features of the sharp patches of one float32 HxWx3 image (see the module docstring)."""
    features, sharpness = patch_features(luminance_255(rgb), patch_size)
    return features[sharpness > sharpness_threshold * sharpness.max()]


def fit_pristine(
    paths: Sequence[str | os.PathLike],
    *,
    patch_size: int = PATCH_SIZE,
    sharpness_threshold: float = SHARPNESS_THRESHOLD,
    meta: dict | None = None,
    progress: Callable[[Path], None] | None = None,
) -> NiqeModel:
    """Fit a :class:`NiqeModel` on the images at ``paths`` (read with ``acutance.io.read_image``).

    Images smaller than one patch are skipped. ``meta`` is stored with counts added (images, patches).
    The result depends only on the files and the options (no randomness).
    """
    from acutance.io import read_image

    if not 0.0 <= sharpness_threshold < 1.0:
        raise OptionError(f"sharpness_threshold must be in [0, 1), got {sharpness_threshold}")
    blocks = []
    used = 0
    for path in paths:
        rgb = read_image(path).rgb
        if progress:
            progress(Path(path))
        if rgb.shape[0] < patch_size or rgb.shape[1] < patch_size:
            continue
        blocks.append(image_patch_features(rgb, patch_size=patch_size, sharpness_threshold=sharpness_threshold))
        used += 1
    if not blocks:
        raise OptionError(f"no image of at least {patch_size}x{patch_size} among {len(paths)} files")
    features = np.concatenate(blocks, axis=0)
    mean, cov, n = gaussian_fit(features)
    if n < features.shape[1] + 1:
        raise OptionError(f"only {n} usable patches: too few for a {features.shape[1]}-dimensional Gaussian")
    info = dict(meta or {})
    info.update(images=used, patches_kept=int(n), patches_with_nan=int(len(features) - n),
                sharpness_threshold=sharpness_threshold)  # fmt: skip
    return NiqeModel(mean=mean, cov=cov, patch_size=patch_size, meta=info)
