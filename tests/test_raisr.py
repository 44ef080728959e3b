"""RAISR: hash geometry, exact recovery of a known filter, runtime contract, strict model files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.raisr import HashParams, RaisrModel, hash_image, load, load_model_file, save_model, upscale
from acutance.raisr.hashing import quantise_features, structure_features
from acutance.raisr.runtime import extract_patches, filter_luma, weight_path
from acutance.raisr.train import Accumulator, accumulate_pair, solve, training_pair

PARAMS = HashParams(scale=2, strength_thresholds=(0.004, 0.012), coherence_thresholds=(0.25, 0.5))


def _textured(height: int, width: int, seed: int) -> np.ndarray:
    """A luma image with edges in many orientations plus mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width), np.float32)
    for _ in range(6):
        theta, freq = rng.uniform(0, np.pi), rng.uniform(0.05, 0.4)
        image += np.sin(freq * (np.cos(theta) * xx + np.sin(theta) * yy) + rng.uniform(0, 6)).astype(np.float32)
    image = 0.5 + 0.08 * image + 0.02 * rng.standard_normal((height, width)).astype(np.float32)
    return image.astype(np.float32)


def test_hash_rotation_consistent():
    y = _textured(96, 96, seed=3)
    base, rotated = structure_features(y), structure_features(np.rot90(y).copy())
    back = lambda a: np.rot90(a, -1)  # noqa: E731  rotated image's features, in the original's pixel grid
    a0, s0, c0 = quantise_features(base, PARAMS)
    a1, s1, c1 = (back(q) for q in quantise_features(rotated, PARAMS))
    # Pixels with a clear orientation, away from every bin edge (float rounding may move exact ties).
    width = np.pi / PARAMS.n_angle
    phase = np.mod(base.angle, width)
    clear = (base.coherence > 0.3) & (base.strength > 1e-3) & (phase > 1e-3) & (phase < width - 1e-3)
    for values, cuts in ((base.strength, PARAMS.strength_thresholds), (base.coherence, PARAMS.coherence_thresholds)):
        for cut in cuts:
            clear &= np.abs(values - cut) > 1e-5
    assert clear.sum() > 2000
    np.testing.assert_array_equal(a1[clear], (a0[clear] + PARAMS.n_angle // 2) % PARAMS.n_angle)
    np.testing.assert_array_equal(s1[clear], s0[clear])
    np.testing.assert_array_equal(c1[clear], c0[clear])
    # and the raw angle turns by 90 degrees
    diff = np.mod(back(rotated.angle)[clear] - base.angle[clear], np.pi)
    np.testing.assert_allclose(diff, np.pi / 2, atol=1e-4)


def test_hash_range_and_pixel_type():
    y = _textured(40, 50, seed=1)
    buckets = hash_image(y, PARAMS)
    assert buckets.dtype == np.int32 and buckets.shape == y.shape
    assert buckets.min() >= 0 and buckets.max() < PARAMS.n_buckets
    yy, xx = np.mgrid[0:40, 0:50]
    np.testing.assert_array_equal(buckets % 4, (yy % 2) * 2 + xx % 2)


def test_angle_of_a_straight_edge():
    # Vertical edge: the gradient points along x, angle 0 (bin 0 or the last bin); horizontal: pi/2.
    y = np.zeros((32, 32), np.float32)
    y[:, 16:] = 1.0
    angle = structure_features(y).angle[16, 14:18]
    assert np.all(np.minimum(angle, np.pi - angle) < 1e-3)
    assert np.allclose(structure_features(y.T.copy()).angle[14:18, 16], np.pi / 2, atol=1e-3)


KERNEL = np.array([[0.0, -0.1, 0.0], [-0.05, 0.4, -0.15], [0.0, -0.1, 0.0]], np.float32)


def _known_filter_pair(up_y: np.ndarray) -> np.ndarray:
    # HR = "upscaled" + a fixed 3x3 correlation of it, border mirrored as RAISR's patches are.
    return up_y + cv2.filter2D(up_y, cv2.CV_32F, KERNEL, borderType=cv2.BORDER_REFLECT)


def test_training_recovers_known_filter():
    k = 11
    target = np.zeros((k, k), np.float64)
    target[4:7, 4:7] = KERNEL
    acc = Accumulator(PARAMS.n_buckets, k)
    rng = np.random.default_rng(0)
    for seed in range(3):
        # Full-rank "upscaled" images (structure + strong noise), so every bucket's system is determined.
        up_y = (_textured(120, 120, seed) + 0.1 * rng.standard_normal((120, 120))).astype(np.float32)
        accumulate_pair(acc, up_y, _known_filter_pair(up_y), PARAMS, 1.0, rng)
    filters = solve(acc, ridge=1e-9, min_count=400)
    trained = acc.counts >= 400
    assert trained.sum() > 20
    err = np.abs(filters[trained] - target.ravel()).max()
    assert err < 1e-4, err
    # buckets without enough data got the global filter, which is the same filter here
    assert np.abs(filters[~trained] - target.ravel()).max() < 1e-4


def test_training_on_bicubic_pairs_reproduces_known_filter():
    # With real bicubic upscales the 121 taps are not all identifiable, but the prediction must be exact.
    from acutance.raisr.runtime import RaisrModel

    acc = Accumulator(PARAMS.n_buckets, 11)
    rng = np.random.default_rng(1)
    for seed in range(4):
        up_y, _ = training_pair(smooth_test_image(96, 96, seed=seed), 2)
        accumulate_pair(acc, up_y, _known_filter_pair(up_y), PARAMS, 1.0, rng)
    model = RaisrModel(filters=solve(acc, 1e-10, 50).astype(np.float32), params=PARAMS, k=11)
    up_y, _ = training_pair(smooth_test_image(64, 80, seed=9), 2)
    np.testing.assert_allclose(filter_luma(model, up_y), _known_filter_pair(up_y), atol=1e-3)


def test_extract_patches_centre_and_border():
    image = np.arange(30, dtype=np.float32).reshape(5, 6)
    patches = extract_patches(image, 3, np.array([2, 0]), np.array([3, 0]))
    np.testing.assert_array_equal(patches[0].reshape(3, 3), image[1:4, 2:5])
    np.testing.assert_array_equal(patches[1].reshape(3, 3), [[0, 0, 1], [0, 0, 1], [6, 6, 7]])


def _random_model(scale: int = 2, seed: int = 0) -> RaisrModel:
    params = HashParams(scale=scale, strength_thresholds=(0.004, 0.012), coherence_thresholds=(0.25, 0.5))
    rng = np.random.default_rng(seed)
    filters = (0.01 * rng.standard_normal((params.n_buckets, 121))).astype(np.float32)
    return RaisrModel(filters=filters, params=params, k=11, meta={"note": "test"})


def test_runtime_shape_and_range():
    model = _random_model()
    rgb = smooth_test_image(30, 41)
    out = upscale(model, rgb)
    assert out.shape == (60, 82, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() > -0.5 and out.max() < 1.5
    zero = RaisrModel(np.zeros_like(model.filters), model.params, 11)  # zero residual = plain bicubic
    from acutance.resize import imresize

    np.testing.assert_allclose(upscale(zero, rgb), imresize(rgb, 2), atol=2e-5)


def test_save_load_round_trip(tmp_path: Path):
    model = _random_model(scale=3)
    path = save_model(model, tmp_path / "m.npz")
    loaded = load_model_file(path)
    np.testing.assert_array_equal(loaded.filters, model.filters)
    assert loaded.params == HashParams(
        scale=3,
        strength_thresholds=tuple(float(np.float32(t)) for t in model.params.strength_thresholds),
        coherence_thresholds=tuple(float(np.float32(t)) for t in model.params.coherence_thresholds),
    )
    assert loaded.meta["note"] == "test" and loaded.meta["k"] == 11


def _write_npz(path: Path, **arrays) -> Path:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def test_bad_model_files_raise_model_error(tmp_path: Path):
    good = _random_model()
    meta = {"format": "acutance-raisr-1", "scale": 2, "k": 11, "n_angle": 24, "window": 9, "sigma": 2.0}
    base = dict(
        filters=good.filters,
        strength_thresholds=np.array([0.004, 0.012], np.float32),
        coherence_thresholds=np.array([0.25, 0.5], np.float32),
        meta=np.array(json.dumps(meta)),
    )
    cases = {
        "missing.npz": {k: v for k, v in base.items() if k != "filters"},
        "extra.npz": base | {"bias": np.zeros(3)},
        "shape.npz": base | {"filters": good.filters[:, :100]},
        "meta.npz": base | {"meta": np.array("{not json")},
        "metakey.npz": base | {"meta": np.array(json.dumps({k: v for k, v in meta.items() if k != "sigma"}))},
        "format.npz": base | {"meta": np.array(json.dumps(meta | {"format": "other"}))},
    }
    for name, arrays in cases.items():
        path = _write_npz(tmp_path / name, **arrays)
        with pytest.raises(ModelError, match=name):
            load_model_file(path)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="garbage.npz"):
        load_model_file(garbage)
    with pytest.raises(ModelError, match="absent.npz"):
        load_model_file(tmp_path / "absent.npz")


def test_loader_unknown_name_and_wrong_scale():
    info = ModelInfo(name="raisr-x99", task="upscale", scales=(99,), summary="", licence="", loader="")
    with pytest.raises(ModelError, match="raisr-x99"):
        load(info)


SHIPPED = weight_path("raisr-x2")


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped raisr-x2 model file")
def test_shipped_x2_on_set5(shared_data: Path):
    from acutance.io import list_images
    from acutance.metrics.sr_protocol import evaluate_sr_image

    info = ModelInfo(name="raisr-x2", task="upscale", scales=(2,), summary="", licence="", loader="")
    model = load(info)
    with pytest.raises(ModelError):
        model(smooth_test_image(8, 8), 3)
    images, _ = list_images(shared_data / "sr" / "Set5")
    scores = [evaluate_sr_image(lambda lr: model(lr, 2), p, 2).psnr for p in images]
    assert float(np.mean(scores)) >= 35.5
