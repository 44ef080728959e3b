"""The inpainting core: bit-exact outside the mask, the mask rules, the mask generator, the ONNX model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from acutance.errors import AcutanceError
from acutance.inpaint import EmptyMaskWarning, MaskError, choose_method, inpaint, prepare_mask


def _image(height=96, width=128, seed=0):
    """A smooth gradient with texture: both the classical and the learned fill have something to do."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    noise = np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.3 * np.sin(x / 7)], axis=2)
    return np.clip(0.8 * base + 0.2 * noise, 0, 1).astype(np.float32)


def _box_mask(height=96, width=128):
    mask = np.zeros((height, width), np.float32)
    mask[30:60, 40:90] = 1
    return mask


CLASSICAL = ["telea", "ns"]


@pytest.mark.parametrize("method", CLASSICAL)
def test_outside_the_mask_is_bit_exact_and_inside_is_filled(method):
    rgb, mask = _image(), _box_mask()
    out = inpaint(rgb, mask, method)
    keep = mask < 0.5
    assert out.dtype == np.float32 and out.shape == rgb.shape
    assert np.array_equal(out[keep], rgb[keep])
    assert not np.array_equal(out[~keep], rgb[~keep])
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_the_input_is_not_modified():
    rgb, mask = _image(), _box_mask()
    before = rgb.copy()
    inpaint(rgb, mask, "telea")
    assert np.array_equal(rgb, before)


def test_a_mask_of_another_size_states_both_sizes():
    with pytest.raises(MaskError, match=r"mask is 100x50 but the image is 128x96") as caught:
        inpaint(_image(), np.ones((50, 100), np.float32), "telea")
    assert isinstance(caught.value, AcutanceError)
    assert "\n" not in str(caught.value)


def test_an_empty_mask_returns_the_input_with_a_notice():
    rgb = _image()
    with pytest.warns(EmptyMaskWarning):
        out = inpaint(rgb, np.zeros(rgb.shape[:2], np.float32), "telea")
    assert np.array_equal(out, rgb) and out is not rgb


def test_a_full_mask_is_a_clear_error():
    with pytest.raises(MaskError, match="covers the whole 128x96 image"):
        inpaint(_image(), np.ones((96, 128), np.float32), "ns")


def test_a_non_binary_mask_is_thresholded_at_one_half():
    rgb = _image()
    soft = np.zeros((96, 128), np.float32)
    soft[10:20, 10:20] = 0.49
    soft[50:60, 50:60] = 0.5
    fill = prepare_mask(soft, rgb.shape)
    assert fill.sum() == 100 and fill[55, 55] and not fill[15, 15]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = inpaint(rgb, soft, "telea")
    assert np.array_equal(out[~fill], rgb[~fill])
    assert np.array_equal(prepare_mask(np.rint(soft * 255).astype(np.uint8), rgb.shape), fill)


def test_bad_masks_and_methods_are_acutance_errors():
    rgb = _image()
    for bad in (np.zeros((96, 128, 3), np.float32), np.full((96, 128), np.nan, np.float32), [[0.0]]):
        with pytest.raises(MaskError):
            inpaint(rgb, bad, "telea")
    with pytest.raises(AcutanceError, match="unknown inpainting method"):
        inpaint(rgb, _box_mask(), "lama")


def test_auto_takes_telea_for_thin_masks_and_the_network_for_thick_ones():
    thin = np.zeros((96, 128), bool)
    thin[40:44, 5:120] = True  # a 4-pixel scratch
    thick = np.zeros((96, 128), bool)
    thick[20:70, 30:90] = True
    assert choose_method(thin) == "telea"
    assert choose_method(thick) == "learned"
