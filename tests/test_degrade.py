"""Degradation synthesis: kernels, noise, JPEG, the seeded pipeline, its sampler statistics, configs."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from collections import Counter

import cv2
import numpy as np
import pytest

from acutance.degrade import (
    DegradeConfig,
    apply_params,
    degrade,
    degrade_pair,
    get_preset,
    load_config,
    make_rng,
    replay,
    sample_params,
    save_config,
)
from acutance.degrade.config import KERNEL_SIZES, config_from_dict, config_to_toml
from acutance.degrade.jpeg import jpeg_compress
from acutance.degrade.kernels import (
    KERNEL_TYPES,
    bessel_j1,
    filter_image,
    gaussian_kernel,
    generalized_gaussian_kernel,
    make_kernel,
    plateau_kernel,
    sinc_kernel,
)
from acutance.degrade.noise import add_gaussian_noise, add_poisson_noise
from acutance.degrade.pairs import PairsOptions, image_patches
from acutance.degrade.presets import PRESETS
from acutance.degrade.resize_ops import resize
from acutance.degrade.sampling_aug import candidate_count, reconstruction_psnr, select_informative
from acutance.errors import OptionError
from acutance.resize import imresize
from conftest import smooth_test_image

ANISO = [("aniso", None), ("generalized_aniso", 0.7), ("generalized_aniso", 2.5), ("plateau_aniso", 1.5)]


def natural_like(size: int = 128, seed: int = 0) -> np.ndarray:
    """Smooth random texture scaled to [0, 1]: JPEG on it behaves as on a photograph."""
    noise = np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 3)
    return ((blurred - blurred.min()) / (blurred.max() - blurred.min())).astype(np.float32)


# --- 1. kernels ---------------------------------------------------------------------------------------------


def all_kernels() -> list[tuple[str, np.ndarray]]:
    out = []
    for size in (7, 13, 21):
        for kind in KERNEL_TYPES:
            params = {"sigma_x": 2.1, "sigma_y": 0.8 if "aniso" in kind else 2.1, "theta": 0.6, "beta": 1.7}
            out.append((f"{kind}-{size}", make_kernel(kind, size, **params)))
        out.append((f"sinc-{size}", sinc_kernel(size, 1.3)))
    return out


@pytest.mark.parametrize("name,kernel", all_kernels(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_kernel_sums_to_one(name, kernel):
    assert kernel.dtype == np.float32
    assert abs(float(kernel.sum(dtype=np.float64)) - 1.0) < 1e-5, name


@pytest.mark.parametrize(
    "kernel",
    [gaussian_kernel(21, 2.5), generalized_gaussian_kernel(21, 2.0, beta=0.6), plateau_kernel(21, 1.5, beta=1.8), sinc_kernel(21, 1.1)],
)
def test_isotropic_kernels_are_rotation_symmetric(kernel):
    np.testing.assert_allclose(kernel, np.rot90(kernel), atol=1e-8)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-8)
    c = 10  # equal radius 5 in four directions that no 90-degree symmetry maps onto each other: (5,0) and (3,4)
    assert abs(kernel[c, c + 5] - kernel[c + 3, c + 4]) < 1e-7 * kernel.max() + 1e-9
    assert abs(kernel[c - 4, c + 3] - kernel[c + 5, c]) < 1e-7 * kernel.max() + 1e-9


def principal_angle(kernel: np.ndarray) -> float:
    """Direction of the largest second moment, in (x = column, y = row) coordinates, modulo pi.

    Moments are taken over the inscribed disc: the square window's corners would pull heavy-tailed kernels
    (plateau) toward the diagonals whatever their axis.
    """
    half = (kernel.shape[0] - 1) / 2
    y, x = np.mgrid[0 : kernel.shape[0], 0 : kernel.shape[1]] - half
    w = kernel.astype(np.float64) * (np.hypot(x, y) <= half)
    mxx, myy, mxy = (w * x * x).sum(), (w * y * y).sum(), (w * x * y).sum()
    return 0.5 * math.atan2(2 * mxy, mxx - myy)


def angle_error(a: float, b: float) -> float:
    d = (a - b) % math.pi
    return min(d, math.pi - d)


@pytest.mark.parametrize("kind,beta", ANISO)
@pytest.mark.parametrize("theta", [-2.5, -0.9, 0.0, 0.4, 1.2, 2.9])
def test_anisotropic_kernel_principal_axis_follows_theta(kind, beta, theta):
    kernel = make_kernel(kind, 21, sigma_x=3.0, sigma_y=1.0, theta=theta, beta=beta)
    assert angle_error(principal_angle(kernel), theta) < 0.02


def test_anisotropic_kernel_axis_is_not_trivially_zero():
    # The moment check can fail: a kernel built without rotation has its axis at 0, not at theta.
    unrotated = gaussian_kernel(21, 3.0, 1.0, 0.0)
    assert angle_error(principal_angle(unrotated), 1.0) > 0.9


def test_bessel_j1_known_values():
    values = bessel_j1(np.array([0.0, 1.0, 2.5, 10.0, 44.0]))
    expected = [0.0, 0.44005058574493355, 0.4970941024642741, 0.04347274616886144, -0.08280335]
    np.testing.assert_allclose(values, expected, atol=1e-7)


@pytest.mark.parametrize("size", [13, 21])
@pytest.mark.parametrize("cutoff", [math.pi / 3, math.pi / 2, 2 * math.pi / 3])
def test_sinc_kernel_passes_below_cutoff_and_stops_above(size, cutoff):
    n = 256
    response = np.abs(np.fft.fft2(sinc_kernel(size, cutoff), s=(n, n)))
    freq = np.fft.fftfreq(n) * 2 * math.pi
    radius = np.hypot(freq[:, None], freq[None, :])
    transition = 2 * math.pi / size  # a kernel of this length cannot cut sharper than one of its bins
    passband = response[radius < cutoff - transition]
    stopband = response[(radius > cutoff + transition) & (radius <= math.pi)]
    # Truncation ripples (Gibbs) overshoot by up to ~50% (13 taps at pi/3): passing means >= 0.7, not == 1.
    assert passband.min() > 0.7 and passband.max() < 1.6
    assert stopband.max() < 0.15 and stopband.mean() < 0.05


def test_kernel_bad_parameters():
    with pytest.raises(OptionError, match="sigma_x must be a positive"):
        gaussian_kernel(21, -1.0)
    with pytest.raises(OptionError, match="odd"):
        gaussian_kernel(20, 1.0)
    with pytest.raises(OptionError, match="cutoff"):
        sinc_kernel(21, 4.0)


@pytest.mark.parametrize("shape", [(64, 48, 3), (5, 7, 3), (1, 1, 3)])
def test_filter_image_matches_direct_filtering(shape):
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    border = cv2.BORDER_REFLECT_101 if min(shape[:2]) > 1 else cv2.BORDER_REPLICATE
    for kernel in (gaussian_kernel(21, 2.0), gaussian_kernel(21, 2.0, 0.7, 0.5), sinc_kernel(13, 1.0), plateau_kernel(9, 1.0)):
        direct = cv2.filter2D(image, -1, kernel, borderType=border).reshape(shape)
        np.testing.assert_allclose(filter_image(image, kernel), direct, atol=2e-6)


# --- 2. noise -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [2.0, 10.0, 30.0])
def test_gaussian_noise_has_the_asked_sigma(sigma):
    flat = np.full((256, 256, 3), 0.5, dtype=np.float32)
    noisy = add_gaussian_noise(flat, sigma, np.random.default_rng(1))
    measured = float(np.std(noisy - flat, dtype=np.float64)) * 255
    assert abs(measured - sigma) < 0.05 * sigma


def test_gray_noise_is_equal_across_channels_and_colour_noise_is_not():
    flat = np.full((64, 64, 3), 0.5, dtype=np.float32)
    gray = add_gaussian_noise(flat, 10.0, np.random.default_rng(2), gray=True) - flat
    assert np.array_equal(gray[:, :, 0], gray[:, :, 1]) and np.array_equal(gray[:, :, 1], gray[:, :, 2])
    assert gray.std() > 0.02
    colour = add_gaussian_noise(flat, 10.0, np.random.default_rng(2)) - flat
    assert not np.allclose(colour[:, :, 0], colour[:, :, 1])
    ramp = np.tile(np.linspace(0.2, 0.8, 64, dtype=np.float32)[None, :, None], (64, 1, 3))
    gray_poisson = add_poisson_noise(ramp, 1.0, np.random.default_rng(3), gray=True) - ramp
    assert np.array_equal(gray_poisson[:, :, 0], gray_poisson[:, :, 2]) and gray_poisson.std() > 0.005


def test_poisson_noise_variance_scales_with_intensity():
    # A ramp holds all 256 levels, so the photon count of full scale is 256 and var(v) = v / 256.
    ramp = np.tile(np.arange(256, dtype=np.float32)[None, :, None] / 255, (4000, 1, 3))
    noise = add_poisson_noise(ramp, 1.0, np.random.default_rng(4), clip=False) - ramp
    for level in (32, 64, 128, 250):
        variance = float(noise[:, level].var(dtype=np.float64))
        assert abs(variance / (level / 255 / 256) - 1.0) < 0.05, level
        assert abs(float(noise[:, level].mean())) < 0.002
    assert noise[:, 0].max() == 0.0  # black has no shot noise
    ratio = noise[:, 200].var() / noise[:, 50].var()
    assert abs(ratio - 4.0) < 0.3
    scaled = add_poisson_noise(ramp, 2.0, np.random.default_rng(4), clip=False) - ramp
    assert abs(scaled[:, 128].std() / noise[:, 128].std() - 2.0) < 0.05


def test_noise_rejects_negative_levels():
    image = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(OptionError, match="sigma must be >= 0"):
        add_gaussian_noise(image, -3.0, np.random.default_rng(0))
    with pytest.raises(OptionError, match="Poisson noise scale"):
        add_poisson_noise(image, -1.0, np.random.default_rng(0))


# --- 3. JPEG ------------------------------------------------------------------------------------------------


def blockiness(image: np.ndarray) -> float:
    """Mean step across 8x8 block edges over the mean step inside blocks (1 for an image without blocks)."""
    gray = image.mean(axis=2)
    cols, rows = np.abs(np.diff(gray, axis=1)), np.abs(np.diff(gray, axis=0))
    edge_c, edge_r = np.zeros(cols.shape[1], bool), np.zeros(rows.shape[0], bool)
    edge_c[7::8], edge_r[7::8] = True, True
    at_edges = cols[:, edge_c].mean() + rows[edge_r].mean()
    inside = cols[:, ~edge_c].mean() + rows[~edge_r].mean()
    return float(at_edges / inside)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(1.0 / float(np.mean((a.astype(np.float64) - b) ** 2)))


def test_jpeg_is_real_lossy_and_blockier_as_quality_drops():
    image = natural_like()
    out = {q: jpeg_compress(image, q) for q in (100, 90, 60, 30, 10)}
    assert not np.array_equal(out[90], np.rint(image * 255) / 255)
    assert psnr(out[100], image) > 40
    scores = [blockiness(out[q]) for q in (90, 60, 30, 10)]
    assert scores == sorted(scores) and scores[-1] > 2 * scores[0], scores
    assert abs(blockiness(image) - 1.0) < 0.05
    assert out[30].dtype == np.float32 and out[30].shape == image.shape


def test_jpeg_rejects_bad_quality():
    with pytest.raises(OptionError, match="quality"):
        jpeg_compress(natural_like(16), 0)


# --- 4. determinism, shapes, replay -------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("scale", [2, 4])
def test_every_preset_gives_exact_lr_shape_float32_in_unit_range(preset, scale):
    hr = smooth_test_image(96, 64, seed=1)
    for seed in range(3):
        lr, params = degrade_pair(hr, get_preset(preset), make_rng(seed), scale=scale)
        assert lr.shape == (96 // scale, 64 // scale, 3)
        assert lr.dtype == np.float32 and lr.min() >= 0.0 and lr.max() <= 1.0
        np.testing.assert_allclose(lr * 255, np.rint(lr * 255), atol=1e-3)  # on 8-bit levels
        json.dumps(params)  # JSON-ready


def test_same_seed_same_bytes_different_seeds_differ():
    hr = smooth_test_image(128, 128, seed=2)
    config = get_preset("realesrgan")
    first = [degrade_pair(hr, config, make_rng(seed, "x.png"))[0].tobytes() for seed in range(4)]
    again = [degrade_pair(hr, config, make_rng(seed, "x.png"))[0].tobytes() for seed in range(4)]
    assert first == again
    assert len(set(first)) == 4
    assert degrade_pair(hr, config, make_rng(0, "y.png"))[0].tobytes() != first[0]  # the key matters too


def _digest_script(seeds: list[int]) -> str:
    return (
        "import hashlib, sys; sys.path.insert(0, 'tests');"
        "from conftest import smooth_test_image; from acutance.degrade import degrade;"
        "hr = smooth_test_image(128, 128, seed=2);"
        f"print(' '.join(hashlib.sha256(degrade(hr, 'realesrgan', scale=4, seed=s, key='a/b.png').tobytes()).hexdigest() for s in {seeds}))"
    )


def test_same_seed_same_bytes_in_another_process():
    from conftest import REPO_ROOT

    seeds = [0, 1, 2, 3, 4, 5]
    hr = smooth_test_image(128, 128, seed=2)
    here = [hashlib.sha256(degrade(hr, "realesrgan", scale=4, seed=s, key="a/b.png").tobytes()).hexdigest() for s in seeds]
    out = subprocess.run(
        [sys.executable, "-c", _digest_script(seeds)], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == here


def test_sidecar_replay_reproduces_the_output():
    hr = smooth_test_image(96, 96, seed=3)
    for seed in range(6):
        lr, params = degrade_pair(hr, get_preset("realesrgan"), make_rng(seed))
        sidecar = json.loads(json.dumps({"params": params}))  # through text, as from the file
        assert np.array_equal(replay(hr, sidecar), lr)
        assert np.array_equal(apply_params(hr, sidecar["params"]), lr)
    changed = json.loads(json.dumps(params))
    changed["final"]["jpeg"] = {"quality": 5}
    assert not np.array_equal(apply_params(hr, changed), lr)


def test_bicubic_preset_is_matlab_imresize():
    hr = smooth_test_image(64, 80, seed=4)
    lr = degrade(hr, "bicubic", scale=4, seed=9)
    expected = np.clip(np.rint(np.clip(imresize(hr, 1 / 4), 0, 1) * 255), 0, 255) / 255
    np.testing.assert_allclose(lr, expected, atol=1e-6)


def test_tiny_images_do_not_break_the_pipeline():
    hr = smooth_test_image(8, 8, seed=5)
    for seed in range(40):
        lr = degrade(hr, "realesrgan", scale=4, seed=seed)
        assert lr.shape == (2, 2, 3)
    with pytest.raises(OptionError, match="smaller than the scale"):
        degrade(smooth_test_image(3, 8), "realesrgan", scale=4)


def test_resize_modes_reach_the_size():
    image = smooth_test_image(30, 40)
    for mode in ("area", "bilinear", "bicubic", "matlab_bicubic"):
        assert resize(image, (13, 71), mode).shape == (13, 71, 3)
    with pytest.raises(OptionError, match="unknown resize mode"):
        resize(image, (10, 10), "lanczos")


# --- 5. sampler statistics ----------------------------------------------------------------------------------


def test_realesrgan_sampler_matches_configured_probabilities():
    config = get_preset("realesrgan")
    rng = make_rng(2024)
    samples = [sample_params(config, 4, rng) for _ in range(2000)]
    tol = 0.03

    def check(counter: Counter, total: int, expected: dict, what: str) -> None:
        for key, p in expected.items():
            freq = counter[key] / total
            assert abs(freq - p) < tol, f"{what} {key}: {freq:.3f} vs {p:.3f}"

    for index, round_config in enumerate(config.rounds):
        rounds = [s["rounds"][index] for s in samples]
        blurs = [r["blur"] for r in rounds if r["blur"] is not None]
        assert abs(len(blurs) / 2000 - round_config.blur_prob) < tol
        k = round_config.kernel
        expected_kernels = {t: (1 - k.sinc_prob) * p for t, p in zip(k.types, k.probs)} | {"sinc": k.sinc_prob}
        check(Counter(b["type"] for b in blurs), len(blurs), expected_kernels, f"round {index} kernel")
        check(Counter(b["size"] for b in blurs), len(blurs), {s: 1 / len(KERNEL_SIZES) for s in KERNEL_SIZES}, "size")
        noises = [r["noise"] for r in rounds]
        check(Counter(n["type"] for n in noises), 2000, {"gaussian": round_config.gaussian_noise_prob, "poisson": 1 - round_config.gaussian_noise_prob}, f"round {index} noise")
        check(Counter(n["gray"] for n in noises), 2000, {True: round_config.gray_noise_prob}, f"round {index} gray")
        directions = dict(zip(("up", "down", "keep"), round_config.resize_probs))
        check(Counter(r["resize"]["direction"] for r in rounds), 2000, directions, f"round {index} resize")
        check(Counter(r["resize"]["mode"] for r in rounds), 2000, {m: 1 / 3 for m in ("area", "bilinear", "bicubic")}, f"round {index} mode")
        for r in rounds:  # ranges respected
            lo, hi = round_config.noise_sigma if r["noise"]["type"] == "gaussian" else round_config.poisson_scale
            assert lo <= r["noise"]["level"] <= hi
            assert round_config.resize_range[0] <= r["resize"]["factor"] <= round_config.resize_range[1]
    finals = [s["final"] for s in samples]
    check(Counter(f["order"] for f in finals), 2000, {"resize_first": 0.5, "jpeg_first": 0.5}, "final order")
    check(Counter(f["sinc"] is not None for f in finals), 2000, {True: 0.8}, "final sinc")
    check(Counter(f["resize_mode"] for f in finals), 2000, {m: 1 / 3 for m in ("area", "bilinear", "bicubic")}, "final mode")
    qualities = [f["jpeg"]["quality"] for f in finals] + [s["rounds"][0]["jpeg"]["quality"] for s in samples]
    assert min(qualities) == 30 and max(qualities) == 95


def test_sampler_statistics_follow_a_changed_config():
    # The counts come from the config, not from constants: a skewed config must show up in the samples.
    config = config_from_dict({"rounds": [{"kernel": {"probs": [0.0, 1.0, 0.0, 0.0, 0.0, 0.0], "sinc_prob": 0.0}, "gray_noise_prob": 1.0}]})
    samples = [sample_params(config, 4, make_rng(1, str(i))) for i in range(200)]
    assert all(s["rounds"][0]["blur"]["type"] == "aniso" for s in samples)
    assert all(s["rounds"][0]["noise"]["gray"] for s in samples)


# --- configs and TOML ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_toml_round_trip_gives_the_same_config(preset, tmp_path):
    config = get_preset(preset)
    path = save_config(config, tmp_path / "c.toml")
    assert load_config(path) == config
    # Loading over a different base must not leak the base's values (empty rounds included).
    assert load_config(path, base=get_preset("realesrgan")) == config


def test_defaults_are_the_published_values():
    config = DegradeConfig()
    first, second = config.rounds
    assert first.kernel.probs == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03) and first.kernel.sinc_prob == 0.1
    assert first.kernel.sigma == (0.2, 3.0) and second.kernel.sigma == (0.2, 1.5)
    assert first.resize_probs == (0.2, 0.7, 0.1) and first.resize_range == (0.15, 1.5)
    assert second.resize_probs == (0.3, 0.4, 0.3) and second.resize_range == (0.3, 1.2)
    assert first.noise_sigma == (1.0, 30.0) and second.noise_sigma == (1.0, 25.0)
    assert first.poisson_scale == (0.05, 3.0) and second.poisson_scale == (0.05, 2.5)
    assert second.blur_prob == 0.8 and config.final.sinc_prob == 0.8 and config.final.jpeg_quality == (30, 95)


def test_partial_toml_overrides_the_preset(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[[rounds]]\nnoise_sigma = [5.0, 6.0]\n[final]\njpeg_prob = 0.0\n", encoding="utf-8")
    config = load_config(path, base=get_preset("realesrgan-light"))
    assert config.rounds[0].noise_sigma == (5.0, 6.0) and config.rounds[0].kernel.sigma == (0.2, 3.0)
    assert config.final.jpeg_prob == 0.0 and config.final.sinc_prob == 0.8


# --- 7. bad input (library level; the CLI tests check the messages users see) --------------------------------


@pytest.mark.parametrize(
    "data,message",
    [
        ({"rounds": [{"noise_sigmaa": [1, 2]}]}, "unknown config key 'rounds\\[0\\].noise_sigmaa'"),
        ({"colour": 1}, "unknown config key 'colour'"),
        ({"rounds": [{"noise_sigma": [-1.0, 30.0]}]}, "rounds\\[0\\].noise_sigma: values must be >= 0"),
        ({"rounds": [{"kernel": {"sigma": [-0.5, 3.0]}}]}, "rounds\\[0\\].kernel.sigma: values must be > 0"),
        ({"rounds": [{"kernel": {"probs": [0.5, 0.5, 0.5, 0, 0, 0]}}]}, "must sum to 1"),
        ({"final": {"jpeg_quality": [0, 95]}}, "final.jpeg_quality"),
        ({"final": {"order": "sideways"}}, "final.order"),
        ({"rounds": [{"blur_prob": "high"}]}, "expected a number"),
        ({"rounds": [{"resize_modes": ["lanczos"]}]}, "unknown resize mode 'lanczos'"),
    ],
)
def test_bad_config_is_a_clear_error(data, message):
    with pytest.raises(OptionError, match=message):
        config_from_dict(data)


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(OptionError, match="unknown degradation preset 'realesrgan2'; choose one of bicubic"):
        get_preset("realesrgan2")


def test_scale_must_divide_the_patch():
    with pytest.raises(OptionError, match="--patch 130 is not a multiple of --scale 4"):
        PairsOptions(scale=4, patch=130)
    with pytest.raises(OptionError, match="sampling-aug"):
        PairsOptions(sampling_aug=1.5)


def test_bad_toml_file_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[final\n", encoding="utf-8")
    with pytest.raises(OptionError, match="bad.toml is not valid TOML"):
        load_config(path)
    path.write_text("[final]\nsinc_probability = 0.5\n", encoding="utf-8")
    with pytest.raises(OptionError, match="bad.toml: unknown config key 'final.sinc_probability'"):
        load_config(path)


# --- SamplingAug and patches --------------------------------------------------------------------------------


def test_sampling_aug_prefers_detailed_patches():
    flat = np.full((32, 32, 3), 0.4, np.float32)
    smooth = natural_like(32, seed=1) * 0.2 + 0.4
    busy = np.random.default_rng(5).random((32, 32, 3), dtype=np.float32)
    scores = [reconstruction_psnr(p, 4) for p in (flat, smooth, busy)]
    assert scores[0] == math.inf and scores[2] < scores[1] < scores[0]
    assert select_informative(scores, 2) == [2, 1]
    assert candidate_count(8, 0.25) == 32 and candidate_count(8, None) == 8


def test_image_patches_align_and_reproduce():
    image = natural_like(160, seed=6)
    options = PairsOptions(scale=4, patch=64, per_image=3, sampling_aug=0.5, seed=3, preset="realesrgan")
    pairs = image_patches(image, "dir/img.png", get_preset("realesrgan"), options)
    again = image_patches(image, "dir/img.png", get_preset("realesrgan"), options)
    assert len(pairs) == 3 and len({p["candidate"] for p in pairs}) == 3
    for p, q in zip(pairs, again):
        top, left, size, _ = p["box"]
        assert p["hr"].shape == (64, 64, 3) and p["lr"].shape == (16, 16, 3)
        np.testing.assert_allclose(p["hr"], image[top : top + size, left : left + size], atol=0.5 / 255 + 1e-6)
        assert np.array_equal(p["lr"], q["lr"]) and np.array_equal(apply_params(p["hr"], p["params"]), p["lr"])
    # the kept candidates are the worst reconstructed of the six drawn
    all_six = image_patches(image, "dir/img.png", get_preset("realesrgan"), PairsOptions(scale=4, patch=64, per_image=6, seed=3))
    kept_scores = sorted(reconstruction_psnr(p["hr"], 4) for p in pairs)
    every = sorted(reconstruction_psnr(p["hr"], 4) for p in all_six)
    assert kept_scores == pytest.approx(every[:3])


def test_config_toml_text_is_stable():
    text = config_to_toml(get_preset("realesrgan"))
    assert text.count("[[rounds]]") == 2 and "[final]" in text and "sinc_prob = 0.8" in text
    assert "rounds = []" in config_to_toml(get_preset("bicubic"))


def test_hr_usm_sharpens_edges_and_leaves_flat_and_faint_texture_alone():
    from acutance.degrade.hr_sharpen import soft_unsharp_mask

    flat = np.full((80, 80, 3), 0.5, np.float32)
    assert np.array_equal(soft_unsharp_mask(flat), flat)
    step = np.full((80, 80, 3), 0.2, np.float32)
    step[:, 40:] = 0.8
    sharp = soft_unsharp_mask(step)
    assert sharp[:, 41:45].max() > 0.85 and sharp[:, 36:39].min() < 0.15  # overshoot both sides of the edge
    assert np.allclose(sharp[:, :5], 0.2, atol=0.01)  # far from the edge: unchanged
    faint = flat + (np.random.default_rng(0).random((80, 80, 3), dtype=np.float32) - 0.5) * (8 / 255)
    assert np.abs(soft_unsharp_mask(faint) - faint).max() < 1.5 / 255  # below the 10/255 threshold


def test_pairs_with_usm_hr_sharpen_the_target():
    image = natural_like(160, seed=8)
    plain = image_patches(image, "a.png", get_preset("bicubic"), PairsOptions(patch=64, per_image=2))
    sharp = image_patches(image, "a.png", get_preset("bicubic"), PairsOptions(patch=64, per_image=2, usm_hr=True))
    assert [p["box"] for p in plain] == [p["box"] for p in sharp]
    assert all(np.abs(a["hr"] - b["hr"]).max() > 0.02 for a, b in zip(plain, sharp))
    assert all(np.array_equal(apply_params(b["hr"], b["params"]), b["lr"]) for b in sharp)
