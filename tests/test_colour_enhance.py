"""acutance enhance --color: the adaptive saturation/contrast lift against the plain global boost."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_test_image

from acutance.grading.enhance import auto_colour, saturation_boost


def _saturation(rgb):
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]


def test_dull_images_gain_more_than_vivid_ones_and_nothing_clips():
    vivid = smooth_test_image(48, 48)
    grey = vivid.mean(axis=2, keepdims=True)
    dull = (0.35 * vivid + 0.65 * grey).astype(np.float32)
    gain_dull = _saturation(auto_colour(dull)).mean() / _saturation(dull).mean()
    gain_vivid = _saturation(auto_colour(vivid)).mean() / _saturation(vivid).mean()
    assert gain_dull > 1.15 and gain_dull > gain_vivid
    # saturated pixels stay below full saturation with auto, while the plain boost piles them up at 1
    s = _saturation(vivid)
    assert (_saturation(saturation_boost(vivid, 1.3)) >= 0.999).mean() > (s >= 0.999).mean() + 0.05
    assert (_saturation(auto_colour(vivid)) >= 0.999).mean() <= (s >= 0.999).mean() + 0.01


def test_contrast_stretch_restores_a_washed_out_range():
    image = smooth_test_image(40, 40)
    washed = (0.3 + 0.4 * image).astype(np.float32)
    out = auto_colour(washed)
    assert np.ptp(out.max(axis=2)) > np.ptp(washed.max(axis=2)) * 1.3
    np.testing.assert_allclose(auto_colour(washed, 0.0), washed, atol=2e-3)


def test_enhance_cli_keeps_alpha(tmp_path):
    from acutance.cli.main import main

    alpha = (np.arange(16 * 16).reshape(16, 16) % 256).astype(np.uint8)
    rgb = np.round(smooth_test_image(16, 16) * 255).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "in.png")
    assert main(["enhance", str(tmp_path / "in.png"), "--color", "auto"]) == 0
    assert main(["enhance", str(tmp_path / "in.png"), "--color", "boost", "--gain", "1.2"]) == 0
    for name in ("in_color.png", "in_boost.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / name))[..., 3], alpha)
    assert main(["enhance", str(tmp_path / "in.png"), "--amount", "5", "-o", str(tmp_path / "x.png")]) == 1
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("amount", [0.5, 1.0])
def test_auto_keeps_grey_grey(amount):
    grey = np.repeat(smooth_test_image(16, 16).mean(axis=2, keepdims=True), 3, axis=2).astype(np.float32)
    out = auto_colour(grey, amount)
    assert np.abs(out - out.mean(axis=2, keepdims=True)).max() < 1e-5
