"""The inpainting core: bit-exact outside the mask, the mask rules, the mask generator, the ONNX model."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from acutance.errors import AcutanceError, OptionError
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


METHODS = ["telea", "ns", "learned", "auto"]


@pytest.mark.parametrize("method", METHODS)
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


def test_the_full_resolution_path_is_bit_exact_outside_and_transfers_texture():
    """An image larger than low_res goes through the low-resolution network and the contextual residual
    aggregation: outside the hole nothing changes; inside, the residuals add high frequencies that the
    upsampled low-resolution fill alone lacks."""
    height, width = 200, 328  # not multiples of the 32-pixel token: padding is exercised
    rng = np.random.default_rng(1)
    stripes = 0.5 + 0.4 * np.sin(np.arange(width, dtype=np.float32) * 2.2)  # a fine, regular texture
    rgb = np.clip(np.repeat(stripes[None, :, None], height, 0).repeat(3, 2) + 0.02 * rng.random((height, width, 3)),
                  0, 1).astype(np.float32)
    hole = np.zeros((height, width), np.float32)
    hole[60:140, 100:220] = 1
    sharp = inpaint(rgb, hole, "learned", low_res=100)
    flat = inpaint(rgb, hole, "learned", low_res=100, residuals=False)
    keep = hole < 0.5
    assert np.array_equal(sharp[keep], rgb[keep]) and np.array_equal(flat[keep], rgb[keep])

    def detail(image):
        inside = image[70:130, 110:210, 0]
        return float(np.abs(np.diff(inside, axis=1)).mean())

    assert detail(sharp) > 2 * detail(flat)


def test_auto_follows_the_thickness_rule():
    rgb = _image()
    thin = np.zeros((96, 128), np.float32)
    thin[40:44, 5:120] = 1
    assert np.array_equal(inpaint(rgb, thin, "auto"), inpaint(rgb, thin, "telea"))
    thick = _box_mask()
    assert np.array_equal(inpaint(rgb, thick, "auto"), inpaint(rgb, thick, "learned"))


def test_the_shipped_model_runs_without_torch():
    import json
    import subprocess
    import sys

    probe = (
        "import json, sys, numpy as np\n"
        "from acutance.inpaint import inpaint\n"
        "rgb = np.random.default_rng(0).random((64, 96, 3), dtype=np.float32)\n"
        "mask = np.zeros((64, 96), np.float32); mask[20:40, 30:70] = 1\n"
        "out = inpaint(rgb, mask, 'learned')\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'changed': bool((out != rgb).any())}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"torch": False, "changed": True}


def test_a_file_that_is_not_an_inpainting_model_is_refused(tmp_path):
    from acutance.errors import ModelError

    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not an ONNX model"):
        inpaint(_image(), _box_mask(), "learned", model=bad)
    with pytest.raises(ModelError, match="not an acutance inpainting model"):
        from importlib import resources

        inpaint(_image(), _box_mask(), "learned", model=resources.files("acutance") / "weights" / "compact-x2.onnx")


def test_the_mask_generator_is_seeded_and_hits_its_bins():
    from acutance.inpaint.masks import BENCH_BINS, KINDS, generate_mask

    for area in BENCH_BINS:
        for seed in range(6):
            mask = generate_mask(120, 160, seed, area)
            assert mask.dtype == bool and mask.shape == (120, 160)
            assert area[0] <= mask.mean() < area[1]
            assert np.array_equal(mask, generate_mask(120, 160, seed, area))
    assert not np.array_equal(generate_mask(120, 160, 1, (0.2, 0.3)), generate_mask(120, 160, 2, (0.2, 0.3)))
    for kind in KINDS:  # every shape alone can reach a medium bin
        assert 0.1 <= generate_mask(120, 160, 0, (0.1, 0.2), kinds=(kind,)).mean() < 0.2
    with pytest.raises(AcutanceError):
        generate_mask(120, 160, 0, (0.5, 0.4))


def test_the_recipe_lowers_the_loss_and_resumes_to_identical_weights(tmp_path):
    torch = pytest.importorskip("torch")
    from acutance.inpaint.net import InpaintNet
    from acutance.inpaint.train import TrainConfig, train, validate, validation_set
    from acutance.io import write_image

    data = tmp_path / "data"
    data.mkdir()
    y, x = np.mgrid[0:64, 0:80].astype(np.float32)
    for i in range(5):  # stripes the push-pull fill blurs away and a network can learn to continue
        stripes = 0.5 + 0.4 * np.sin(x * (0.5 + 0.1 * i) + y * 0.3)
        write_image(data / f"{i}.png", np.repeat(stripes[:, :, None], 3, 2).astype(np.float32))
    quiet = lambda *_: None  # noqa: E731
    config = dict(width=8, blocks=1, steps=40, batch=2, crop=48, val_images=1, val_crop=48, val_every=20, lr=1e-2)
    straight, meta = train(TrainConfig(**config), [data], log=quiet, run=tmp_path / "a")
    train(TrainConfig(**config), [data], log=quiet, run=tmp_path / "b", stop_after=25)
    resumed, _ = train(TrainConfig(**config), [data], log=quiet, run=tmp_path / "b")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    pairs = validation_set(sorted(data.iterdir())[:1], 48)
    untrained = InpaintNet(TrainConfig(**config).spec())  # the push-pull fill alone (last layer at zero)
    assert meta["steps"] == 40
    assert validate(straight, pairs)["val_hole_psnr"] > validate(untrained, pairs)["val_hole_psnr"]


def test_the_learned_fill_meets_the_border_as_telea_does():
    """The blend from Telea: the first ring of hole pixels is Telea's, so the step across the border is Telea's;
    deeper in, the network's fill takes over (bridge=0: the network's fill alone)."""
    import cv2

    rgb = cv2.GaussianBlur(np.random.default_rng(0).random((200, 260, 3)).astype(np.float32), (0, 0), 3)
    mask = np.zeros((200, 260), np.float32)
    mask[50:150, 60:200] = 1
    hole = mask > 0
    distance = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    learned, telea = inpaint(rgb, mask, "learned"), inpaint(rgb, mask, "telea")
    plain = inpaint(rgb, mask, "learned", bridge=0)
    ring, inner = hole & (distance <= 1), hole & (distance > 24)
    assert np.array_equal(learned[ring], telea[ring])
    assert np.array_equal(learned[inner], plain[inner])
    assert not np.array_equal(learned[ring], plain[ring])
    with pytest.raises(OptionError, match="bridge"):
        inpaint(rgb, mask, "learned", bridge=-1)
