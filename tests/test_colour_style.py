"""DNCM style transfer: the runtime kernel equals the training op, mappings export to .cube exactly enough,
the CLI keeps alpha and bit depth and refuses a grayscale reference; the baselines; the trainer resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_test_image

pytest.importorskip("colour")

from acutance.grading import dncm  # noqa: E402
from acutance.errors import OptionError  # noqa: E402


def random_tables(seed: int, knots: int = 16, spread: float = 0.04):
    rng = np.random.default_rng(seed)
    return [dncm.identity_table(knots) + rng.normal(0, spread, (4, knots, 3)).astype(np.float32) for _ in range(2)]


@pytest.fixture
def encoder_file(tmp_path) -> Path:
    """A small random encoder in the model-file format (the tests do not depend on the trained weights)."""
    rng = np.random.default_rng(0)
    hidden, out = 16, dncm.INPUTS * 16 * 3
    arrays = {"w0": rng.normal(0, 0.1, (dncm.FEATURES, hidden)), "b0": np.zeros(hidden),
              "wn": rng.normal(0, 0.01, (hidden, out)), "bn": np.zeros(out),
              "ws": rng.normal(0, 0.01, (hidden, out)), "bs": np.zeros(out)}  # fmt: skip
    return dncm.save_encoder(tmp_path / "enc.npz", arrays, {"knots": 16, "hidden_layers": 1})


def test_identity_mapping_is_exact():
    image = smooth_test_image(20, 30)
    identity = dncm.ColourMapping(dncm.identity_table(16), dncm.identity_table(16))
    np.testing.assert_allclose(identity.apply(image), image, atol=1e-6)


def test_strength_blends_and_is_checked():
    image = smooth_test_image(16, 16)
    mapping = dncm.ColourMapping(*random_tables(1))
    full = mapping.apply(image, 1.0)
    np.testing.assert_allclose(mapping.apply(image, 0.0), image, atol=1e-6)
    np.testing.assert_allclose(mapping.apply(image, 0.5), (image + full) / 2, atol=1e-5)
    with pytest.raises(OptionError):
        mapping.apply(image, 1.5)


def test_runtime_kernel_equals_the_training_op():
    torch = pytest.importorskip("torch")
    from acutance.grading.dncm_train import map_pixels

    image = smooth_test_image(12, 20)
    first, second = random_tables(2)
    ours = dncm.ColourMapping(first, second).apply(image)
    x = torch.from_numpy(image.reshape(1, -1, 3))
    theirs = map_pixels(map_pixels(x, torch.from_numpy(first)[None]), torch.from_numpy(second)[None])
    np.testing.assert_allclose(ours, theirs.clamp(0, 1).numpy().reshape(image.shape), atol=1e-5)


def test_exported_cube_matches_the_mapping(tmp_path):
    """Acceptance 2 on a random look: a 33^3 export through 'lut apply''s path is within mean dE2000 1.0."""
    import colour

    from acutance.grading.cube import apply_lut, read_cube

    image = smooth_test_image(48, 64)
    mapping = dncm.ColourMapping(*random_tables(3, spread=0.02))  # a wiggly look, rougher than trained ones
    path = mapping.to_cube(tmp_path / "look.cube", 33)
    via_lut = apply_lut(image, read_cube(path), "tetrahedral")
    lab = lambda x: colour.XYZ_to_Lab(colour.sRGB_to_XYZ(x.astype(np.float64)))  # noqa: E731
    assert colour.delta_E(lab(mapping.apply(image)), lab(via_lut), method="CIE 2000").mean() <= 1.0
    assert np.abs(mapping.apply(image) - image).mean() > 0.01  # the look is not the identity


def test_grayscale_reference_is_refused(encoder_file):
    image = smooth_test_image(16, 16)
    grey = np.repeat(image.mean(axis=2, keepdims=True), 3, axis=2)
    with pytest.raises(OptionError, match="grayscale"):
        dncm.compute_mapping(image, grey, dncm.load_encoder(encoder_file))


def test_model_file_is_strict(tmp_path, encoder_file):
    from acutance.errors import AcutanceError

    with np.load(encoder_file) as data:
        arrays = {k: data[k] for k in data.files if k not in ("meta", "ws")}
    np.savez(tmp_path / "broken.npz", meta=np.array('{"format": "acutance-dncm-1", "knots": 16, "hidden_layers": 1}'), **arrays)
    with pytest.raises(AcutanceError, match="lacks the array"):
        dncm.load_encoder(tmp_path / "broken.npz")
    with pytest.raises(AcutanceError, match="no DNCM model file"):
        dncm.load_encoder(tmp_path / "missing.npz")


def _main(argv):
    from acutance.cli.main import main

    return main([str(a) for a in argv])


def test_style_cli_keeps_alpha_and_16_bit_and_exports_a_cube(tmp_path, encoder_file, capsys):
    import cv2

    from acutance.grading.cube import read_cube

    image = smooth_test_image(24, 32)
    ref = np.clip(image[..., ::-1] * [1.1, 0.9, 0.8], 0, 1)
    Image.fromarray(np.round(ref * 255).astype(np.uint8)).save(tmp_path / "ref.png")
    alpha = (np.arange(24 * 32).reshape(24, 32) % 251).astype(np.uint8)
    Image.fromarray(np.dstack([np.round(image * 255).astype(np.uint8), alpha]), "RGBA").save(tmp_path / "in.png")
    assert _main(["style", tmp_path / "in.png", "--ref", tmp_path / "ref.png", "--weights", encoder_file,
                  "--strength", "0.8"]) == 0  # fmt: skip
    out = np.asarray(Image.open(tmp_path / "in_style.png"))
    assert out.shape == (24, 32, 4)
    np.testing.assert_array_equal(out[..., 3], alpha)

    cv2.imwrite(str(tmp_path / "deep.png"), np.round(image[..., ::-1] * 65535).astype(np.uint16))
    assert _main(["style", tmp_path / "deep.png", "--ref", tmp_path / "ref.png", "--weights", encoder_file,
                  "-o", tmp_path / "deep_out.png", "--export-lut", tmp_path / "look.cube", "--size", "17"]) == 0
    assert cv2.imread(str(tmp_path / "deep_out.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert read_cube(tmp_path / "look.cube").size == 17


def test_style_cli_grayscale_reference_is_one_line(tmp_path, encoder_file, capsys):
    Image.fromarray(np.round(smooth_test_image(16, 16) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    Image.fromarray(np.full((16, 16), 90, np.uint8), "L").save(tmp_path / "grey.png")
    assert _main(["style", tmp_path / "in.png", "--ref", tmp_path / "grey.png", "--weights", encoder_file]) == 1
    err = capsys.readouterr().err.strip()
    assert "grayscale" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "in_style.png").exists()


def test_shipped_model_moves_colours_towards_the_reference():
    """With the shipped weights: a warm reference makes a neutral image warmer (no data set needed)."""
    if not dncm.DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped DNCM weights")
    image = smooth_test_image(64, 64)
    warm = np.clip(smooth_test_image(64, 64, seed=1)[..., ::-1] * [1.25, 1.0, 0.7], 0, 1).astype(np.float32)
    out = dncm.style_transfer(image, warm)
    ratio = lambda x: x[..., 0].mean() / x[..., 2].mean()  # noqa: E731
    assert ratio(out) > ratio(image) * 1.1


def test_baselines():
    from acutance.grading.transfer import histogram_match, reinhard

    image = smooth_test_image(32, 32)
    ref = (smooth_test_image(32, 32, seed=4) * 0.8 + np.array([0.1, 0.05, 0.0])).astype(np.float32)  # in gamut
    import cv2

    lab = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2Lab).reshape(-1, 3)  # noqa: E731
    np.testing.assert_allclose(lab(reinhard(image, ref)).mean(0), lab(ref).mean(0), atol=1.5)
    matched = histogram_match(image, ref)
    np.testing.assert_allclose(np.sort(matched[..., 2].ravel()), np.sort(ref[..., 2].ravel()), atol=0.02)


def test_broad_looks_and_crops():
    from acutance.grading.dncm_train import DncmConfig, random_crop
    from acutance.grading.perturb import FAMILIES, random_look

    image = smooth_test_image(96, 128, seed=3)
    rng = np.random.default_rng(0)
    for function in FAMILIES["broad"][0]:
        out = function(image, rng, 1.3)
        assert out.dtype == np.float32 and out.shape == image.shape and 0 <= out.min() and out.max() <= 1
    looks = [random_look(image, np.random.default_rng(s), "broad") for s in range(4)]
    assert all(float(np.abs(look - image).mean()) > 1e-3 for look in looks)
    np.testing.assert_array_equal(looks[0], random_look(image, np.random.default_rng(0), "broad"))
    crop = random_crop(image, np.random.default_rng(1), 0.5)
    assert max(crop.shape[:2]) == dncm.THUMB and crop.dtype == np.float32
    for bad in ({"looks": "wild"}, {"crop": 0.0}):
        with pytest.raises(OptionError):
            DncmConfig(**bad).check()


@pytest.mark.parametrize("options", [{}, {"looks": "broad", "crop": 0.5, "source_plain": 0.5}])
def test_trainer_resumes_to_the_same_weights(tmp_path, torch_one_thread, options):
    pytest.importorskip("torch")
    from acutance.grading.dncm_train import DncmConfig, train

    data = tmp_path / "data"
    data.mkdir()
    for i in range(6):
        Image.fromarray(np.round(smooth_test_image(40, 48, seed=i) * 255).astype(np.uint8)).save(data / f"{i}.png")
    config = DncmConfig(steps=4, batch=2, pixels=64, hidden=8, hidden_layers=1, val_images=2, val_every=2, cross=1.0,
                        **options)
    whole, _ = train(config, [data], log=None, run=tmp_path / "a")
    train(config, [data], log=None, run=tmp_path / "b", stop_after=2)
    resumed, meta = train(config, [data], log=None, run=tmp_path / "b")
    assert meta["steps"] == 4
    for key in whole:
        np.testing.assert_array_equal(whole[key], resumed[key])
