"""BLADE restorers: the shipped models remove what they were trained on; the CLI picks the right model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import smooth_test_image

from acutance.cli.main import main
from acutance.contract import to_float, to_uint
from acutance.io import read_image, write_image
from acutance.metrics.psnr import psnr
from acutance.models.registry import load_model


def _photo_like(seed: int = 0) -> np.ndarray:
    """Smooth regions and edges at 96x128 with the mild colour of natural photos (what the models learned:
    their chroma filters smooth JPEG's subsampled chroma, which would blur a saturated colour checkerboard)."""
    image = cv2.GaussianBlur(smooth_test_image(96, 128, seed=seed), (0, 0), 1.2)
    gray = image.mean(axis=2, keepdims=True)
    return np.clip(gray + 0.3 * (image - gray), 0, 1).astype(np.float32)


@pytest.mark.parametrize("sigma, name", [(15, "blade-denoise-15"), (25, "blade-denoise-25"), (50, "blade-denoise-50"),
                                         (50, "blade-denoise-ms-50")])
def test_denoisers_beat_their_input(sigma: int, name: str):
    clean = _photo_like()
    rng = np.random.default_rng(sigma)
    noisy = to_float(to_uint(np.clip(clean + rng.normal(0, sigma / 255, clean.shape), 0, 1), 8))
    out = load_model(name)(noisy, 1.0)
    assert out.shape == clean.shape and out.dtype == np.float32
    gain = psnr(np.clip(out, 0, 1), clean) - psnr(noisy, clean)
    assert gain > 3.0, gain


@pytest.mark.parametrize("quality", [10, 20, 30, 40])
def test_deblockers_beat_their_input(quality: int):
    clean = _photo_like(seed=1)
    ok, data = cv2.imencode(".jpg", to_uint(clean[:, :, ::-1], 8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    jpeg = to_float(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy())
    out = load_model(f"blade-deblock-q{quality}")(jpeg, 1.0)
    # Luma: the blocking and ringing. (The chroma filters smooth JPEG's subsampled chroma, which suits photos,
    # not this chart's sharp colour checkerboard; photos are checked on Kodak24 below.)
    luma = lambda a: psnr(np.clip(a, 0, 1), clean, y_channel=True)  # noqa: E731
    assert luma(out) > luma(jpeg) + 0.3


@pytest.mark.slow
def test_deblock_improves_photos_in_rgb(shared_data: Path):
    from acutance.io import list_images

    images, _ = list_images(shared_data / "restore" / "Kodak24")
    model = load_model("blade-deblock-q20")
    for path in sorted(images)[:2]:
        clean = read_image(path).rgb
        ok, data = cv2.imencode(".jpg", to_uint(clean[:, :, ::-1], 8), [cv2.IMWRITE_JPEG_QUALITY, 20])
        jpeg = to_float(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy())
        assert psnr(np.clip(model(jpeg, 1.0), 0, 1), clean) > psnr(jpeg, clean) + 0.3


def test_denoise_cli_picks_the_nearest_model_and_refuses_other_tasks(tmp_path: Path, capsys):
    source = tmp_path / "noisy.png"
    write_image(source, _photo_like())
    assert main(["denoise", str(source), "--sigma", "22"]) == 0
    assert (tmp_path / "noisy_blade-denoise-25.png").is_file()
    assert main(["denoise", str(source), "--sigma", "45"]) == 0
    assert (tmp_path / "noisy_blade-denoise-ms-50.png").is_file()
    assert main(["deblock", str(source), "--jpeg-quality", "12", "-o", str(tmp_path / "d.png")]) == 0
    assert read_image(tmp_path / "d.png").rgb.shape == (96, 128, 3)
    capsys.readouterr()
    assert main(["denoise", str(source), "--model", "raisr-x2", "-o", str(tmp_path / "x.png")]) == 1
    assert "upscale model" in capsys.readouterr().err
    assert main(["denoise", str(source), "--sigma", "-3", "-o", str(tmp_path / "x.png")]) == 1
    assert not (tmp_path / "x.png").exists()


def test_blade_sharpen_undoes_a_mild_blur_and_cli_method(tmp_path: Path, capsys):
    clean = _photo_like(seed=2)
    blurred = cv2.GaussianBlur(clean, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)
    out = load_model("blade-sharpen")(blurred, 1.0)
    assert psnr(np.clip(out, 0, 1), clean) > psnr(blurred, clean) + 1.0
    flat = np.full((32, 32, 3), (0.8, 0.2, 0.3), np.float32)  # no halo, no shift on flat areas
    np.testing.assert_allclose(load_model("blade-sharpen")(flat, 1.0), flat, atol=1e-5)
    source = tmp_path / "soft.png"
    write_image(source, blurred)
    assert main(["sharpen", str(source), "--method", "blade"]) == 0
    assert (tmp_path / "soft_blade.png").is_file()
    capsys.readouterr()
    assert main(["sharpen", str(source), "--method", "blade", "--sharpness", "0.3", "-o", str(tmp_path / "x.png")]) == 1
    assert "--sharpness" in capsys.readouterr().err and not (tmp_path / "x.png").exists()
