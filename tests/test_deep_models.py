"""The shipped deep models (compact-x2, compact-x4, real-x4) through onnxruntime, and the detail knob."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import acutance  # noqa: E402
from acutance.errors import OptionError  # noqa: E402
from acutance.metrics.sr_protocol import make_lr, modcrop, score_sr  # noqa: E402
from acutance.pipeline import enhance  # noqa: E402
from tests.conftest import smooth_test_image  # noqa: E402


@pytest.mark.parametrize("name, scale", [("compact-x2", 2), ("compact-x4", 4), ("real-x4", 4)])
def test_shipped_model_runs_tiled_like_whole(name, scale):
    model = acutance.load_model(name)
    assert model.info.scales == (scale,) and model.info.requires == ("onnxruntime",)
    image = smooth_test_image(70, 90, seed=3)
    whole = enhance(image, model, scale, tile=0)
    tiled = enhance(image, model, scale, tile=32)
    assert whole.shape == (70 * scale, 90 * scale, 3)
    # The tiles get the model's context as border, so tiling changes nothing but rounding.
    assert np.abs(whole - tiled).max() < 1e-4


def test_compact_beats_bicubic_on_the_test_chart():
    from acutance.samples import test_chart

    # The generated chart (edges, rings, text-like strokes). Not smooth_test_image: its i.i.d. pixel noise
    # cannot be recovered from the LR, and a learned model that sharpens it scores below bicubic there.
    hr = modcrop(test_chart(256), 4)
    lr = make_lr(hr, 4)
    ours = score_sr(hr, enhance(lr, acutance.load_model("compact-x4"), 4), 4, single_channel=False)[0]
    base = score_sr(hr, enhance(lr, acutance.load_model("bicubic"), 4), 4, single_channel=False)[0]
    assert ours > base + 1.0  # measured: +2.8 dB at 512


def test_detail_knob_interpolates_weights():
    image = smooth_test_image(24, 28, seed=1)
    outputs = {d: enhance(image, acutance.load_model("real-x4", detail=d), 4) for d in (0.0, 0.5, 1.0)}
    default = enhance(image, acutance.load_model("real-x4"), 4)
    np.testing.assert_allclose(outputs[1.0], default, atol=1e-5)  # detail 1 = the GAN weights as shipped
    spread = np.abs(outputs[1.0] - outputs[0.0]).mean()
    assert spread > 1e-3  # the two stages really differ
    # Halfway weights give an output between the two ends (not exactly their average: the net is nonlinear).
    assert np.abs(outputs[0.5] - outputs[0.0]).mean() < spread and np.abs(outputs[0.5] - outputs[1.0]).mean() < spread


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("real-x4", {"detail": 1.5}, "between 0 and 1"),
        ("compact-x4", {"detail": 0.5}, "takes no options"),
        ("bicubic", {"detail": 0.5}, "takes no options"),
    ],
)
def test_detail_errors(name, options, message):
    with pytest.raises(OptionError, match=message):
        acutance.load_model(name, **options)


def test_detail_on_the_command_line(tmp_path):
    from acutance.cli.main import main
    from acutance.io import read_image, write_image

    write_image(tmp_path / "in.png", smooth_test_image(20, 24))
    assert main(["upscale", str(tmp_path / "in.png"), "-m", "real-x4", "--detail", "0.3", "-o", str(tmp_path / "out.png")]) == 0
    assert read_image(tmp_path / "out.png").rgb.shape == (80, 96, 3)
    assert main(["upscale", str(tmp_path / "in.png"), "-m", "compact-x4", "--detail", "0.3", "-o", str(tmp_path / "x.png")]) == 1
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_compact_x4_set5_floor(shared_data):
    """Acceptance: compact-x4 Set5 x4 Y-PSNR >= 31.0 dB (FSRCNN 30.72) under the standard protocol."""
    from acutance.io import list_images
    from acutance.metrics.sr_protocol import evaluate_sr_image

    model = acutance.load_model("compact-x4")
    images, _ = list_images(shared_data / "sr" / "Set5")
    scores = [evaluate_sr_image(lambda lr: enhance(lr, model, 4), path, 4).psnr for path in images]
    assert np.mean(scores) >= 31.0
