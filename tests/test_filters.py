"""Classical enhancers: USM, AMD CAS and Anime4K push on generated images; their registry entries, tiling
and the ``acutance sharpen`` command."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import smooth_test_image

import acutance
from acutance.cli.main import main
from acutance.errors import OptionError
from acutance.filters import (
    anime4k_push,
    anime4k_upscale,
    cas_upscale,
    contrast_adaptive_sharpen,
    unsharp_mask,
)
from acutance.io import read_image, write_image
from acutance.pipeline import enhance


def _local_range(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel min and max over each pixel's 3x3 neighbourhood (edge pixels: the part inside)."""
    kernel = np.ones((3, 3), np.uint8)
    return (
        cv2.erode(image, kernel, borderType=cv2.BORDER_REPLICATE),
        cv2.dilate(image, kernel, borderType=cv2.BORDER_REPLICATE),
    )


def _edge(height: int = 32, width: int = 32) -> np.ndarray:
    image = np.full((height, width, 3), 0.3, np.float32)
    image[:, width // 2 :] = 0.7
    return cv2.GaussianBlur(image, (0, 0), 1.0)


def _blurred_line(sigma: float = 1.5) -> np.ndarray:
    """A 3-pixel dark vertical line (0.1) on a light background (0.9), Gaussian blurred."""
    image = np.full((40, 41, 3), 0.9, np.float32)
    image[:, 19:22] = 0.1
    return cv2.GaussianBlur(image, (0, 0), sigma)


def _line_widths(row: np.ndarray, background: float, darkest: float) -> tuple[int, float]:
    """Pixels darker than the midpoint, and the equivalent width (darkness area / depth)."""
    below_mid = int((row < (background + darkest) / 2).sum())
    return below_mid, float(((background - row) / (background - darkest)).sum())


FILTERS = {
    "usm": lambda rgb: unsharp_mask(rgb, amount=1.5, radius=1.5),
    "usm-threshold": lambda rgb: unsharp_mask(rgb, amount=1.0, threshold=0.05),
    "cas": lambda rgb: contrast_adaptive_sharpen(rgb, 1.0),
    "anime4k": lambda rgb: anime4k_push(rgb, passes=2),
    "cas-x2": lambda rgb: cas_upscale(rgb, 2, 0.5),
    "anime4k-x2": lambda rgb: anime4k_upscale(rgb, 2),
}


@pytest.mark.parametrize("name", FILTERS)
def test_filters_keep_the_contract(name):
    rgb = smooth_test_image(30, 26)
    out = FILTERS[name](rgb)
    factor = 2 if name.endswith("x2") else 1
    assert out.shape == (30 * factor, 26 * factor, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(OptionError, match="float32"):
        FILTERS[name](rgb.astype(np.float64))


# ------------------------------------------------------------------------------------------------- USM


def test_usm_amount_zero_is_the_identity():
    rgb = smooth_test_image(40, 50)
    assert np.array_equal(unsharp_mask(rgb, amount=0.0, radius=2.0), rgb)


def test_usm_raises_contrast_at_an_edge():
    edge = _edge()
    out = unsharp_mask(edge, amount=1.0, radius=1.0)
    row_in, row_out = edge[16, :, 0], out[16, :, 0]
    assert row_out[15] < row_in[15] and row_out[16] > row_in[16]  # dark side darker, light side lighter
    assert row_out[16] - row_out[15] > 1.2 * (row_in[16] - row_in[15])
    assert np.allclose(out[:, :8], edge[:, :8], atol=1e-6)  # flat areas untouched


def test_usm_threshold_leaves_small_differences_alone():
    rng = np.random.default_rng(0)
    noisy = (0.5 + rng.uniform(-0.01, 0.01, (32, 32, 3))).astype(np.float32)
    assert np.array_equal(unsharp_mask(noisy, amount=2.0, threshold=0.05), noisy)
    assert not np.array_equal(unsharp_mask(noisy, amount=2.0), noisy)
    edge = np.full((16, 16, 3), 0.3, np.float32)
    edge[:, 8:] = 0.7  # a hard edge passes the threshold
    out = unsharp_mask(edge, amount=1.0, threshold=0.05)
    assert out[0, 7, 0] < 0.3 and out[0, 8, 0] > 0.7


@pytest.mark.parametrize("options", [{"amount": -1}, {"radius": 0}, {"threshold": 2}, {"amount": float("nan")}])
def test_usm_rejects_bad_options(options):
    with pytest.raises(OptionError):
        unsharp_mask(smooth_test_image(8, 8), **options)


# ------------------------------------------------------------------------------------------------- CAS


@pytest.mark.parametrize("sharpness", [0.0, 0.5, 1.0])
def test_cas_stays_within_the_local_range(sharpness):
    rgb = smooth_test_image(48, 56)
    rgb[10:20, 10:40] = np.float32(0.95)  # hard edges as well as smooth texture
    out = contrast_adaptive_sharpen(rgb, sharpness)
    low, high = _local_range(rgb)
    assert np.all(out >= low) and np.all(out <= high)  # every pixel, every channel
    assert np.abs(out - rgb).max() > 0.01  # and it does sharpen


def test_cas_sharpens_more_with_more_sharpness_and_leaves_flat_areas():
    rgb = smooth_test_image(40, 40)
    changes = [np.abs(contrast_adaptive_sharpen(rgb, s) - rgb).mean() for s in (0.0, 0.5, 1.0)]
    assert changes[0] < changes[1] < changes[2]
    flat = np.full((16, 16, 3), 0.4, np.float32)
    assert np.array_equal(contrast_adaptive_sharpen(flat), flat)
    black = np.zeros((8, 8, 3), np.float32)
    assert np.array_equal(contrast_adaptive_sharpen(black), black)  # no division by zero
    with pytest.raises(OptionError):
        contrast_adaptive_sharpen(rgb, 1.5)


# ---------------------------------------------------------------------------------------------- Anime4K


@pytest.mark.parametrize("sigma", [1.0, 1.5])
def test_anime4k_thins_a_blurred_line_without_new_extrema(sigma):
    line = _blurred_line(sigma)
    out = anime4k_push(line)
    background, darkest = 0.9, float(line[20, :, 1].min())
    before = _line_widths(line[20, :, 1], background, darkest)
    after = _line_widths(out[20, :, 1], background, darkest)
    print(f"sigma {sigma}: below midpoint {before[0]} -> {after[0]} px, equivalent {before[1]:.2f} -> {after[1]:.2f}")
    assert after[0] <= before[0] and after[1] < before[1] - 0.2
    if sigma == 1.5:
        assert (before[0], after[0]) == (5, 3)
    assert out.min() >= line.min() and out.max() <= line.max()
    low, high = _local_range(line)
    assert np.all(out >= low) and np.all(out <= high)


def test_anime4k_stays_within_the_local_range_on_texture():
    rgb = smooth_test_image(40, 48, seed=3)
    low, high = _local_range(rgb)
    out = anime4k_push(rgb, strength_color=1 / 3, strength_gradient=1.0)  # the original demo's strengths
    assert np.all(out >= low) and np.all(out <= high)
    assert np.array_equal(anime4k_push(rgb, passes=0), rgb)
    with pytest.raises(OptionError):
        anime4k_push(rgb, passes=-1)


# ------------------------------------------------------------ numba kernels vs the numpy reference
#
# The library runs fused numba kernels; these are the original vectorised numpy versions, kept here as the
# specification they must reproduce (to 1e-5; in practice bit for bit, as both compute in float32 in the
# same order).


def _shifted(array: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Every 3x3 neighbour of every pixel, by (dy, dx), as views of the edge-padded array."""
    height, width = array.shape[:2]
    padded = np.pad(array, ((1, 1), (1, 1)) + ((0, 0),) * (array.ndim - 2), mode="edge")
    return {
        (dy, dx): padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    }


def _reference_cas(rgb: np.ndarray, sharpness: float) -> np.ndarray:
    at = _shifted(rgb)
    north, west, east, south = at[-1, 0], at[0, -1], at[0, 1], at[1, 0]
    corners = (at[-1, -1], at[-1, 1], at[1, -1], at[1, 1])
    cross_min = np.minimum.reduce([north, west, rgb, east, south])
    cross_max = np.maximum.reduce([north, west, rgb, east, south])
    box_min = np.minimum(cross_min, np.minimum.reduce(corners))
    box_max = np.maximum(cross_max, np.maximum.reduce(corners))
    soft_min, soft_max = cross_min + box_min, cross_max + box_max
    ratio = np.divide(
        np.minimum(soft_min, 2.0 - soft_max), soft_max, out=np.zeros_like(soft_max), where=soft_max > 0
    )
    weight = np.sqrt(np.clip(ratio, 0.0, 1.0)) * np.float32(-1.0 / (8.0 - 3.0 * sharpness))
    out = np.clip((weight * (north + west + east + south) + rgb) / (1.0 + 4.0 * weight), box_min, box_max)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


_N = {"tl": (-1, -1), "tc": (-1, 0), "tr": (-1, 1), "ml": (0, -1), "mc": (0, 0), "mr": (0, 1),
      "bl": (1, -1), "bc": (1, 0), "br": (1, 1)}  # fmt: skip
_REFERENCE_KERNELS = (  # Anime4K's order 0, 4, 1, 5, 2, 6, 3, 7: light side, dark side, centre test
    (("tl", "tc", "tr"), ("bl", "bc", "br"), True),
    (("bl", "bc", "br"), ("tl", "tc", "tr"), True),
    (("mr", "tc", "tr"), ("mc", "ml", "bc"), False),
    (("bl", "ml", "bc"), ("mc", "mr", "tc"), False),
    (("mr", "br", "tr"), ("ml", "tl", "bl"), True),
    (("ml", "tl", "bl"), ("mr", "br", "tr"), True),
    (("mr", "br", "bc"), ("mc", "ml", "tc"), False),
    (("tc", "ml", "tl"), ("mc", "mr", "bc"), False),
)


def _reference_luminance(rgb: np.ndarray) -> np.ndarray:
    return (2.0 * rgb[..., 0] + 3.0 * rgb[..., 1] + rgb[..., 2]) / np.float32(6.0)


def _reference_push(rgb: np.ndarray, key: np.ndarray, strength: float, lightest: bool) -> np.ndarray:
    """Blend toward the light side of the matching kernels: the lightest blend, or the first match."""
    colour, keys = _shifted(rgb), _shifted(key)
    out, best = rgb.copy(), keys[0, 0].copy()
    done = np.zeros(rgb.shape[:2], dtype=bool)
    for light, dark, centre in _REFERENCE_KERNELS:
        min_light = np.minimum.reduce([keys[_N[n]] for n in light])
        matched = min_light > np.maximum.reduce([keys[_N[n]] for n in dark])
        if centre:
            matched &= min_light > keys[0, 0]
        mean = (colour[_N[light[0]]] + colour[_N[light[1]]] + colour[_N[light[2]]]) / np.float32(3.0)
        candidate = rgb + np.float32(strength) * (mean - rgb)
        if lightest:
            candidate_key = _reference_luminance(candidate)
            take = matched & (candidate_key > best)
            best[take] = candidate_key[take]
        else:
            take = matched & ~done
            done |= take
        out[take] = candidate[take]
    return out


def _reference_anime4k(rgb: np.ndarray, passes: int, strength_color: float, strength_gradient: float) -> np.ndarray:
    out = rgb.copy()
    for _ in range(passes):
        around = list(_shifted(out).values())
        low, high = np.minimum.reduce(around), np.maximum.reduce(around)
        pushed = _reference_push(out, _reference_luminance(out), strength_color, lightest=True)
        y = _shifted(_reference_luminance(pushed))
        dx = (y[-1, 1] + 2 * y[0, 1] + y[1, 1]) - (y[-1, -1] + 2 * y[0, -1] + y[1, -1])
        dy = (y[-1, -1] + 2 * y[-1, 0] + y[-1, 1]) - (y[1, -1] + 2 * y[1, 0] + y[1, 1])
        flat = 1.0 - np.minimum(np.sqrt(dx * dx + dy * dy), 1.0)
        out = np.clip(_reference_push(pushed, flat, strength_gradient, lightest=False), low, high)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


_SHAPES = [(1, 1), (1, 2), (2, 1), (3, 5), (37, 41), (64, 3), (65, 4), (130, 7)]  # 64: anime4k.STRIP


def _reference_inputs():
    for index, shape in enumerate(_SHAPES):
        yield smooth_test_image(*shape, seed=index)
    line = _blurred_line(1.5)
    line[:5] = 0.0  # black rows: CAS divides by the local max, which is 0 there
    yield line
    yield np.full((9, 7, 3), 0.4, np.float32)


@pytest.mark.parametrize("sharpness", [0.0, 0.5, 1.0])
def test_cas_matches_the_numpy_reference(sharpness):
    for rgb in _reference_inputs():
        out = contrast_adaptive_sharpen(rgb, sharpness)
        assert out.shape == rgb.shape and out.dtype == np.float32
        assert np.abs(out - _reference_cas(rgb, sharpness)).max() <= 1e-5, rgb.shape


@pytest.mark.parametrize(
    "options",
    [
        {"passes": 1, "strength_color": 0.1, "strength_gradient": 0.8},
        {"passes": 2, "strength_color": 1 / 3, "strength_gradient": 1.0},
        {"passes": 3, "strength_color": 1.0, "strength_gradient": 0.5},
    ],
)
def test_anime4k_matches_the_numpy_reference(options):
    for rgb in _reference_inputs():  # sizes change from call to call: the kernels' scratch is resized
        out = anime4k_push(rgb, **options)
        assert out.shape == rgb.shape and out.dtype == np.float32
        assert np.abs(out - _reference_anime4k(rgb, **options)).max() <= 1e-5, rgb.shape


def test_kernels_match_the_reference_on_line_art_and_views():
    rng = np.random.default_rng(7)
    art = np.full((96, 120, 3), 0.85, np.float32)
    for _ in range(12):  # random dark strokes, then blurred and upscaled like real line art
        y, x = rng.integers(0, 90), rng.integers(0, 110)
        art[y : y + rng.integers(1, 4), x : x + rng.integers(5, 40)] = rng.uniform(0.0, 0.3, 3)
    art = cv2.resize(cv2.GaussianBlur(art, (0, 0), 1.0), (240, 192), interpolation=cv2.INTER_CUBIC)
    art = np.clip(art, 0, 1).astype(np.float32)
    assert np.abs(anime4k_push(art) - _reference_anime4k(art, 1, 0.1, 0.8)).max() <= 1e-5
    view = art[::2, 1::3]  # not contiguous
    assert np.abs(anime4k_push(view) - _reference_anime4k(np.ascontiguousarray(view), 1, 0.1, 0.8)).max() <= 1e-5
    assert np.abs(contrast_adaptive_sharpen(view) - _reference_cas(np.ascontiguousarray(view), 0.5)).max() <= 1e-5
    assert np.abs(anime4k_push(art) - art).max() > 0.01  # and the kernels do change line art


# -------------------------------------------------------------------------------- registry and tiling


@pytest.mark.parametrize("name", ["usm", "cas", "cas-x2", "anime4k-x2"])
def test_tiled_equals_untiled(name):
    model = acutance.load_model(name)
    rgb = smooth_test_image(150, 170, seed=1)
    scale = model.info.scales[0]
    whole = enhance(rgb, model, scale, tile=0)
    tiled = enhance(rgb, model, scale, tile=64)
    assert whole.shape == (150 * scale, 170 * scale, 3)
    assert np.abs(tiled - whole).max() < 1e-5


def test_usm_context_follows_the_radius():
    from acutance.models.classical import usm
    from acutance.models.registry import model_info

    assert acutance.load_model("usm").info is model_info("usm")
    wide = usm(model_info("usm"), amount=1.0, radius=4.0)
    assert wide.info.context == 13
    rgb = smooth_test_image(150, 170, seed=2)
    assert np.abs(enhance(rgb, wide, 1, tile=64) - enhance(rgb, wide, 1, tile=0)).max() < 1e-5


def test_registry_entries_match_the_functions():
    rgb = smooth_test_image(24, 28)
    assert np.array_equal(enhance(rgb, acutance.load_model("cas"), 1), contrast_adaptive_sharpen(rgb, 0.5))
    assert np.array_equal(enhance(rgb, acutance.load_model("usm"), 1), unsharp_mask(rgb))
    assert np.array_equal(enhance(rgb, acutance.load_model("anime4k-x2"), 2), anime4k_upscale(rgb, 2))


# ------------------------------------------------------------------------------------------------- CLI


def test_cli_sharpen_writes_method_named_output(tmp_path, capsys):
    source = tmp_path / "a.png"
    write_image(source, smooth_test_image(30, 40))
    assert main(["sharpen", str(source), "--method", "cas"]) == 0
    out = read_image(tmp_path / "a_cas.png")
    assert out.rgb.shape == (30, 40, 3)
    assert main(["sharpen", str(source), "--method", "cas"]) == 1  # exists: not replaced
    assert "--overwrite" in capsys.readouterr().err
    assert main(["sharpen", str(source), "--method", "cas", "--sharpness", "1", "--overwrite"]) == 0
    assert main(["sharpen", str(source), "--method", "usm", "--amount", "1", "-o", str(tmp_path / "b.png")]) == 0
    assert read_image(tmp_path / "b.png").rgb.shape == (30, 40, 3)


def test_cli_sharpen_folder_and_bad_options(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(2):
        write_image(folder / f"{index}.png", smooth_test_image(20, 24, seed=index))
    assert main(["sharpen", str(folder), "--method", "usm"]) == 0
    assert sorted(p.name for p in (tmp_path / "in_usm").iterdir()) == ["0.png", "1.png"]
    before = sorted(tmp_path.rglob("*"))
    assert main(["sharpen", str(folder / "0.png"), "--method", "cas", "--amount", "2"]) == 1
    assert main(["sharpen", str(folder / "0.png"), "--method", "usm", "--radius", "-1"]) == 1
    assert main(["sharpen", str(tmp_path / "missing.png")]) == 1
    assert sorted(tmp_path.rglob("*")) == before  # nothing written
    assert capsys.readouterr().err.count("acutance: error:") == 3
