"""MATLAB imresize: weights, an independent reference implementation, properties and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acutance.errors import OptionError
from acutance.resize import METHODS, imresize, output_size
from acutance.resize.matlab import _weight_matrix


def reference_imresize_1d(line: np.ndarray, scale: float, method: str, antialias: bool) -> np.ndarray:
    """A direct transcription of MATLAB's contributions() for one line, one output pixel at a time."""
    kernel, width, _ = METHODS[method]
    n = len(line)
    out_len = int(math.ceil(round(n * scale, 9)))
    out = np.zeros(out_len)
    stretch = scale < 1 and antialias
    if stretch:
        width = width / scale
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [left + k for k in range(int(math.ceil(width)) + 2)]
        weights = np.array([(scale * kernel(np.array(scale * (u - j))) if stretch else kernel(np.array(u - j))) for j in taps], dtype=np.float64).ravel()
        weights /= weights.sum()
        total = 0.0
        for j, w in zip(taps, weights):
            k = j - 1  # 0-based
            while k < 0 or k >= n:  # mirror with the edge repeated
                k = -k - 1 if k < 0 else 2 * n - k - 1
            total += w * line[k]
        out[x - 1] = total
    return out


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 0.7, 1.5, 2, 3, 4])
def test_matches_direct_transcription(method, scale, rng):
    image = rng.random((13, 17, 2)).astype(np.float32)
    antialias = METHODS[method][2]
    ours = imresize(image, scale, method=method)
    # Separable: rows, then columns, each with the 1-D reference.
    rows = np.stack([np.stack([reference_imresize_1d(image[:, c, ch], scale, method, antialias) for c in range(17)], 1) for ch in range(2)], -1)
    expected = np.stack([np.stack([reference_imresize_1d(rows[r, :, ch], scale, method, antialias) for r in range(rows.shape[0])], 0) for ch in range(2)], -1)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=2e-6)


def test_bicubic_x2_weights_are_keys_a_minus_half():
    # Output pixel 5 (1-based) of a x2 upscale samples input position 5/2 + 1/4 = 2.75: input pixels 1..4
    # at distances 1.75, 0.75, 0.25, 1.25 -> Keys(a=-0.5) weights; pixel 6 (u = 3.25) mirrors them.
    matrix = _weight_matrix(8, 16, 2.0, "bicubic", True).astype(np.float64)
    np.testing.assert_allclose(matrix[4, 0:4], [-0.0234375, 0.2265625, 0.8671875, -0.0703125], atol=1e-7)
    np.testing.assert_allclose(matrix[5, 1:5], [-0.0703125, 0.8671875, 0.2265625, -0.0234375], atol=1e-7)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-6)


def test_antialiased_shrink_stretches_the_kernel():
    narrow = _weight_matrix(32, 16, 0.5, "bicubic", False)
    wide = _weight_matrix(32, 16, 0.5, "bicubic", True)
    assert np.count_nonzero(wide[8]) == 8 and np.count_nonzero(narrow[8]) == 4


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "lanczos3", "box"])
def test_constant_image_stays_constant(method):
    image = np.full((20, 30, 3), 0.37, dtype=np.float32)
    for scale in (0.3, 0.5, 2, 3.5):
        np.testing.assert_allclose(imresize(image, scale, method=method), 0.37, atol=1e-6)


def test_nearest_integer_upscale_repeats_pixels(rng):
    image = rng.random((5, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(imresize(image, 3, method="nearest"), image.repeat(3, 0).repeat(3, 1))


def test_box_halving_is_2x2_mean(rng):
    image = rng.random((8, 10, 3)).astype(np.float32)
    expected = image.reshape(4, 2, 5, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(imresize(image, 0.5, method="box"), expected, atol=1e-6)


def test_sizes_grayscale_and_channels(rng):
    assert imresize(rng.random((10, 11)).astype(np.float32), 2).shape == (20, 22)
    assert imresize(rng.random((10, 11, 5)).astype(np.float32), 2).shape == (20, 22, 5)  # > 4 channels
    assert imresize(rng.random((9, 9, 3)).astype(np.float32), size=(4, 13)).shape == (4, 13, 3)
    assert output_size(9, 10, 1 / 3) == (3, 4)
    assert output_size(256, 256, 1 / 4) == (64, 64)


def test_smooth_image_survives_up_and_down():
    yy, xx = np.mgrid[0:64, 0:48].astype(np.float32)
    image = (0.5 + 0.4 * np.sin(xx / 5.0) * np.cos(yy / 7.0))[..., None].repeat(3, axis=2)
    back = imresize(imresize(image, 2), 0.5)
    assert np.abs(back - image)[4:-4, 4:-4].max() < 0.01


def test_errors():
    image = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(OptionError, match="unknown resize method"):
        imresize(image, 2, method="sinc")
    with pytest.raises(OptionError, match="exactly one"):
        imresize(image)
    with pytest.raises(OptionError, match="positive"):
        imresize(image, -1)
    with pytest.raises(OptionError, match="positive"):
        imresize(image, size=(0, 3))
