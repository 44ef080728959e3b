"""Hashed filters (RAISR / BLADE): hash geometry, compiled kernels vs references, exact recovery of known
filters, flip/rotate augmentation, strict model files, shipped models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.errors import ModelError, OptionError
from acutance.models.descriptor import ModelInfo
from acutance.raisr import HashedModel, HashParams, Layer, hash_image, load, load_model_file, run, save_model
from acutance.raisr import kernels
from acutance.raisr.hashing import pixel_types, quantise_features, structure_features
from acutance.models.weights import weight_path
from acutance.raisr.train import (
    Accumulator,
    LayerSpec,
    TrainOptions,
    augment,
    layer_samples,
    make_pair,
    solve,
)
from acutance.resize import imresize

PARAMS = HashParams(scale=2, strength_thresholds=(0.004, 0.012), coherence_thresholds=(0.25, 0.5))
FLAT = HashParams(scale=1, strength_thresholds=(0.004, 0.012), coherence_thresholds=(0.25, 0.5))


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


def _textured_rgb(height: int, width: int, seed: int) -> np.ndarray:
    planes = [_textured(height, width, seed + i) for i in range(3)]
    return np.clip(np.stack(planes, axis=-1), 0, 1).astype(np.float32)


# --- hashing ------------------------------------------------------------------------------------------------


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
    diff = np.mod(back(rotated.angle)[clear] - base.angle[clear], np.pi)
    np.testing.assert_allclose(diff, np.pi / 2, atol=1e-4)


def test_compiled_hash_matches_reference():
    y = _textured(80, 90, seed=5)
    a, s, c = quantise_features(structure_features(y), PARAMS)
    reference = ((a * PARAMS.n_strength + s) * PARAMS.n_coherence + c) * 4 + pixel_types(80, 90, 2)
    buckets = hash_image(y, PARAMS)
    assert buckets.dtype == np.int32 and buckets.shape == y.shape
    assert buckets.min() >= 0 and buckets.max() < PARAMS.n_buckets
    # float32 features in the kernel: only pixels within rounding of a bin edge may differ
    assert (buckets != reference).mean() < 1e-3
    yy, xx = np.mgrid[0:80, 0:90]
    np.testing.assert_array_equal(buckets % 4, (yy % 2) * 2 + xx % 2)


def test_angle_of_a_straight_edge():
    y = np.zeros((32, 32), np.float32)
    y[:, 16:] = 1.0
    angle = structure_features(y).angle[16, 14:18]
    assert np.all(np.minimum(angle, np.pi - angle) < 1e-3)
    assert np.allclose(structure_features(y.T.copy()).angle[14:18, 16], np.pi / 2, atol=1e-3)


# --- compiled kernels ---------------------------------------------------------------------------------------


def test_filter_kernels_match_numpy():
    rng = np.random.default_rng(0)
    plane = rng.random((13, 17), dtype=np.float32)
    buckets = rng.integers(0, 6, (13, 17)).astype(np.int32)
    k = 5
    padded = np.pad(plane, 2, mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k)).reshape(13, 17, k * k)
    windows = windows - windows[:, :, (k * k) // 2, None]  # patches relative to their centre pixel
    same = rng.standard_normal((6, k * k)).astype(np.float32)
    base = rng.random((13, 17), dtype=np.float32)
    expected = base + np.einsum("hwk,hwk->hw", windows, same[buckets])
    got = kernels.filter_same(padded, buckets, same, same.sum(axis=1), k, base)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    shuffle = rng.standard_normal((6, 9, k * k)).astype(np.float32)  # x3: nine outputs per pixel
    base3 = rng.random((39, 51), dtype=np.float32)
    blocks = np.einsum("hwk,hwok->hwo", windows, shuffle[buckets]).reshape(13, 17, 3, 3)
    expected3 = base3 + blocks.transpose(0, 2, 1, 3).reshape(39, 51)
    np.testing.assert_allclose(kernels.filter_shuffle(padded, buckets, shuffle, k, 3, base3), expected3, atol=1e-5)


# --- training -----------------------------------------------------------------------------------------------

KERNEL = np.array([[0.0, -0.1, 0.0], [-0.05, 0.4, -0.15], [0.0, -0.1, 0.0]], np.float32)


def _effective(filters: np.ndarray, k: int) -> np.ndarray:
    """The filter on the raw patch equivalent to ``filters`` on centre-relative patches."""
    filters = filters.copy()
    filters[..., (k * k) // 2] -= filters.sum(axis=-1)
    return filters


def _layer(kind: str, params: HashParams, k: int, outputs: int) -> Layer:
    return Layer(kind, 0, 0, k, params, np.zeros((params.n_buckets, outputs, k * k), np.float32))


def test_training_recovers_known_same_size_filter():
    """A 'same' layer trained on target = input + fixed 3x3 correlation recovers that filter exactly."""
    k = 7
    layer = _layer("same", FLAT, k, 1)
    empty = HashedModel(task="sharpen", scale=1, layers=())
    acc = Accumulator(FLAT.n_buckets, k, 1)
    rng = np.random.default_rng(0)
    for seed in range(3):
        degraded = np.clip(_textured_rgb(100, 100, 10 * seed) + 0.1 * rng.standard_normal((100, 100, 3)), 0, 1)
        degraded = degraded.astype(np.float32)
        # The clean target's luma is the degraded luma plus a known filter of it (chroma untouched).
        from acutance.color import rgb_to_ycbcr, ycbcr_to_rgb

        ycc = rgb_to_ycbcr(degraded)
        ycc[:, :, 0] += cv2.filter2D(ycc[:, :, 0], cv2.CV_32F, KERNEL, borderType=cv2.BORDER_REFLECT)
        acc.add(*layer_samples(empty, layer, degraded, ycbcr_to_rgb(ycc), 1.0, rng))
    filters = solve(acc, ridge=1e-9, min_count=300)
    filters = _effective(filters, k)
    target = np.zeros((k, k))
    target[2:5, 2:5] = KERNEL
    trained = acc.counts >= 300
    assert trained.sum() > 10
    assert np.abs(filters[:, 0] - target.ravel()).max() < 2e-4


def test_training_recovers_known_shuffle_filter():
    """HR = a known linear function of the LR patch per output position: the shuffle layer finds it."""
    k, s = 3, 2
    rng = np.random.default_rng(1)
    truth = rng.standard_normal((s * s, k * k)) * 0.2
    truth[:, (k * k) // 2] -= truth.sum(axis=1)  # residual filters are level-free: taps sum to 0
    layer = _layer("shuffle", FLAT, k, s * s)
    empty = HashedModel(task="upscale", scale=s, layers=())
    acc = Accumulator(FLAT.n_buckets, k, s * s)
    from acutance.color import rgb_to_ycbcr, ycbcr_to_rgb

    for seed in range(3):
        lr = np.clip(_textured_rgb(60, 60, seed) + 0.1 * rng.standard_normal((60, 60, 3)), 0, 1).astype(np.float32)
        up = imresize(rgb_to_ycbcr(lr), s)
        padded = np.pad(rgb_to_ycbcr(lr)[:, :, 0], 1, mode="symmetric")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k)).reshape(60, 60, k * k)
        residual = np.einsum("hwk,ok->hwo", windows, truth).reshape(60, 60, s, s).transpose(0, 2, 1, 3)
        up[:, :, 0] += residual.reshape(120, 120)
        samples = layer_samples(empty, layer, lr, ycbcr_to_rgb(up), 1.0, rng)
        acc.add(*samples)
    filters = _effective(solve(acc, ridge=1e-9, min_count=10), k)
    assert np.abs(filters[acc.counts >= 10] - truth[None]).max() < 1e-3


@pytest.mark.parametrize("kind", ["shuffle", "same", "coarse"])
def test_augmentation_equals_training_on_flipped_and_rotated_images(kind: str):
    """Permuting the normal equations == accumulating the 8 flipped/rotated copies of the images."""
    s, k = 2, 5
    params = PARAMS if kind == "same" else FLAT
    layer = _layer(kind, params, k, s * s if kind == "shuffle" else 1)
    empty = HashedModel(task="upscale", scale=s, layers=())
    options = TrainOptions(scale=s)
    plain, copies = Accumulator(params.n_buckets, k, layer.outputs), Accumulator(params.n_buckets, k, layer.outputs)
    for seed in range(2):
        hr = smooth_test_image(64, 64, seed=seed)
        lr, clean = make_pair(hr, options, 0)
        plain.add(*layer_samples(empty, layer, lr, clean, 1.0, None))
        for flip in (False, True):
            for turns in range(4):
                g = lambda a: np.ascontiguousarray(np.rot90(np.fliplr(a) if flip else a, turns))  # noqa: E731
                lr_g, clean_g = make_pair(g(hr), options, 0)
                copies.add(*layer_samples(empty, layer, lr_g, clean_g, 1.0, None))
    augmented = augment(plain, params, kind, s)
    assert augmented.counts.sum() == copies.counts.sum() == 8 * plain.counts.sum()
    # hash ties under float rounding may move a handful of pixels to a neighbouring bucket
    moved = np.abs(augmented.counts - copies.counts).sum() / copies.counts.sum()
    assert moved < 0.01
    total = lambda a: np.abs(a).sum()  # noqa: E731
    assert total(augmented.q - copies.q) / total(copies.q) < 0.01
    assert total(augmented.v - copies.v) / total(copies.v) < 0.02


# --- model files --------------------------------------------------------------------------------------------


def _random_model(scale: int = 2, seed: int = 0) -> HashedModel:
    rng = np.random.default_rng(seed)
    first = Layer("shuffle", 0, 0, 5, FLAT, (0.01 * rng.standard_normal((FLAT.n_buckets, scale**2, 25))).astype(np.float32))
    refine = HashParams(scale=scale, strength_thresholds=(0.004,), coherence_thresholds=(0.3,), window=5, sigma=1.0)
    second = Layer("same", 0, 0, 3, refine, (0.01 * rng.standard_normal((refine.n_buckets, 1, 9))).astype(np.float32))
    return HashedModel(task="upscale", scale=scale, layers=(first, second), meta={"note": "test"})


def test_flat_areas_of_any_colour_stay_put():
    """Filters act on patches relative to their centre: a flat image of any colour passes unchanged."""
    model = _random_model()
    for colour in ((0.9, 0.1, 0.2), (0.0, 0.0, 1.0), (0.5, 0.5, 0.5)):
        flat = np.ones((12, 16, 3), np.float32) * np.float32(colour)
        np.testing.assert_allclose(run(model, flat), np.ones((24, 32, 3)) * colour, atol=1e-5)


def test_coarse_layer_works_at_half_size_on_any_shape():
    from acutance.raisr.model import enlarge, shrink

    for shape in ((9, 13), (10, 12), (1, 1)):
        plane = np.random.default_rng(0).random(shape, dtype=np.float32)
        low = shrink(plane)
        assert low.shape == ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
        assert enlarge(low, shape).shape == shape
    rng = np.random.default_rng(3)
    coarse = Layer("coarse", 0, 0, 5, FLAT, (0.05 * rng.standard_normal((FLAT.n_buckets, 1, 25))).astype(np.float32))
    model = HashedModel("denoise", 1, (coarse,))
    image = _textured_rgb(33, 47, seed=4)
    out = run(model, image)
    assert out.shape == image.shape and np.abs(out - image).max() > 1e-3  # it does something ...
    flat = np.full((21, 30, 3), (0.7, 0.2, 0.4), np.float32)
    np.testing.assert_allclose(run(model, flat), flat, atol=1e-5)  # ... but never shifts a flat area
    with pytest.raises(ModelError, match="pixel types"):
        Layer("coarse", 0, 0, 5, PARAMS, np.zeros((PARAMS.n_buckets, 1, 25), np.float32))


def test_runtime_shape_and_zero_filters_give_bicubic():
    model = _random_model()
    rgb = smooth_test_image(30, 41)
    out = run(model, rgb)
    assert out.shape == (60, 82, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() > -0.5 and out.max() < 1.5
    zero = HashedModel("upscale", 2, tuple(Layer(l.kind, 0, 0, l.k, l.params, np.zeros_like(l.filters)) for l in model.layers))
    # zero residuals: the luma is exactly MATLAB bicubic (chroma: OpenCV cubic, see model.initial_state)
    from acutance.color import rgb_to_y

    np.testing.assert_allclose(rgb_to_y(run(zero, rgb)), rgb_to_y(imresize(rgb, 2)), atol=2e-5)
    assert np.abs(run(zero, rgb) - imresize(rgb, 2)).mean() < 5e-3


def test_save_load_round_trip_gives_identical_output(tmp_path: Path):
    model = _random_model(scale=3)
    path = save_model(model, tmp_path / "m.npz")
    loaded = load_model_file(path)
    assert loaded.meta["note"] == "test" and loaded.scale == 3 and len(loaded.layers) == 2
    for a, b in zip(loaded.layers, model.layers):
        np.testing.assert_array_equal(a.filters, b.filters)
        assert (a.kind, a.k, a.params.scale) == (b.kind, b.k, b.params.scale)
    rgb = smooth_test_image(20, 24)
    np.testing.assert_array_equal(run(loaded, rgb), run(model, rgb))


def _write_npz(path: Path, **arrays) -> Path:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def test_bad_model_files_raise_model_error(tmp_path: Path):
    good = save_model(_random_model(), tmp_path / "good.npz")
    with np.load(good) as data:
        base = {key: data[key] for key in data.files}
    meta = json.loads(str(base["meta"]))
    cases = {
        "missing.npz": {k: v for k, v in base.items() if k != "layer1.filters"},
        "extra.npz": base | {"bias": np.zeros(3)},
        "shape.npz": base | {"layer0.filters": base["layer0.filters"][:, :, :10]},
        "nan.npz": base | {"layer1.filters": np.full_like(base["layer1.filters"], np.nan)},
        "meta.npz": base | {"meta": np.array("{not json")},
        "metakey.npz": base | {"meta": np.array(json.dumps({k: v for k, v in meta.items() if k != "layers"}))},
        "format.npz": base | {"meta": np.array(json.dumps(meta | {"format": "acutance-raisr-1"}))},
        "kind.npz": base | {"meta": np.array(json.dumps(meta | {"layers": [meta["layers"][0] | {"kind": "conv"}, meta["layers"][1]]}))},
        "nometa.npz": {"filters": np.zeros((3, 3))},
    }
    for name, arrays in cases.items():
        path = _write_npz(tmp_path / name, **arrays)
        with pytest.raises(ModelError, match=name):
            load_model_file(path)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:500])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    for path in (truncated, garbage, tmp_path / "absent.npz"):
        with pytest.raises(ModelError, match=path.name):
            load_model_file(path)


def test_loader_unknown_name_and_scale_refused():
    info = ModelInfo(name="raisr-x99", task="upscale", scales=(99,), summary="", licence="", loader="")
    with pytest.raises(ModelError, match="raisr-x99"):
        load(info)
    from acutance.models.registry import load_model

    model = load_model("raisr-x2")
    with pytest.raises(ModelError, match="x2 only"):
        model(smooth_test_image(8, 8), 3)


def test_layer_spec_and_options_validated():
    with pytest.raises(OptionError):
        LayerSpec(k=4)
    with pytest.raises(OptionError):
        LayerSpec(kind="shuffle", period=2)
    with pytest.raises(OptionError):
        TrainOptions(task="denoise", scale=2)
    with pytest.raises(OptionError):
        TrainOptions(task="colourise")


# --- shipped models -----------------------------------------------------------------------------------------

SHIPPED = weight_path("raisr-x2")


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped raisr-x2 model file")
def test_shipped_x2_on_set5(shared_data: Path):
    from acutance.io import list_images
    from acutance.metrics.sr_protocol import evaluate_sr_image
    from acutance.models.registry import load_model

    model = load_model("raisr-x2")
    images, _ = list_images(shared_data / "sr" / "Set5")
    scores = [evaluate_sr_image(lambda lr: model(lr, 2), p, 2).psnr for p in images]
    assert float(np.mean(scores)) >= 36.0  # the floor; published RAISR: 35.91
