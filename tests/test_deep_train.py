"""``acutance train sr``: config checks, losses, a few training steps on generated images, resume, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from acutance.cli.main import main  # noqa: E402
from acutance.deep.train import losses  # noqa: E402
from acutance.deep.train.config import config_from_dict, load_train_config, shipped_config_names  # noqa: E402
from acutance.deep.train.recipe import export_weights, read_weights, train  # noqa: E402
from acutance.errors import ModelError, OptionError  # noqa: E402
from acutance.io import write_image  # noqa: E402
from tests.conftest import smooth_test_image  # noqa: E402


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hr")
    for i in range(3):
        write_image(folder / f"img{i}.png", smooth_test_image(64 + 8 * i, 72, seed=i))
    (folder / "notes.txt").write_text("not an image")  # skipped, not an error
    return folder


def tiny_config(folder: Path, **train) -> dict:
    return {
        "model": {"name": "tiny", "scale": 2, "num_feat": 4, "num_conv": 1},
        "data": {"train": [str(folder)], "patch": 8, "batch": 2},
        "train": {"iterations": 4, "checkpoint_every": 2, "warmup": 1, "threads": 1, **train},
        "gan": {"disc_feat": 4},
    }


def test_shipped_configs_parse():
    names = shipped_config_names()
    assert {"compact-x2", "compact-x4", "real-x4-fidelity", "real-x4"} <= set(names)
    for name in names:
        config = load_train_config(name)
        assert config.model.name == name
    assert load_train_config("real-x4").train.gan_weight > 0


@pytest.mark.parametrize(
    "data, message",
    [
        ({"model": {"nmae": "x"}}, "unknown key model.nmae"),
        ({"trian": {}}, "unknown table [trian]"),
        ({"train": {"iterations": "many"}}, "train.iterations must be an integer"),
        ({"train": {"pixel_loss": "l3"}}, "train.pixel_loss"),
        ({"data": {"degradation": "nonsense"}}, "data.degradation"),
        ({"model": {"scale": 5}}, "model.scale"),
    ],
)
def test_config_errors_name_the_key(data, message):
    with pytest.raises(OptionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_from_dict(data)


def test_unknown_config_name():
    with pytest.raises(OptionError, match="compact-x4"):
        load_train_config("no-such-config")


def test_losses_behave():
    target = torch.zeros(1, 3, 16, 16)
    target[..., 8:] = 1.0  # a vertical edge
    weight = losses.gradient_weight(target)
    assert float(weight[0, 0, 4, 7]) > 4.0 and float(weight[0, 0, 4, 2]) == pytest.approx(1.0, abs=1e-4)
    # The same error counts more on the edge than on a flat area under CDC; plain L1 cannot tell.
    on_edge, on_flat = target.clone(), target.clone()
    on_edge[..., 7] += 0.5
    on_flat[..., 2] += 0.5
    assert losses.cdc_loss(on_edge, target) > 2 * losses.cdc_loss(on_flat, target)
    assert float(torch.nn.functional.l1_loss(on_edge, target)) == pytest.approx(float(torch.nn.functional.l1_loss(on_flat, target)))
    assert float(losses.fft_loss(target, target)) == 0.0 and float(losses.fft_loss(on_edge, target)) > 0
    assert float(losses.charbonnier(target, target)) == pytest.approx(1e-3)
    # Relativistic GAN: the generator loss falls as fakes look more real than reals; the discriminator's rises.
    real, fake_bad, fake_good = torch.full((4,), 2.0), torch.full((4,), -2.0), torch.full((4,), 3.0)
    assert losses.relativistic_g_loss(real, fake_good) < losses.relativistic_g_loss(real, fake_bad)
    assert losses.relativistic_d_loss(real, fake_good) > losses.relativistic_d_loss(real, fake_bad)


def test_training_steps_resume_and_export(image_folder, tmp_path):
    config = config_from_dict(tiny_config(image_folder, cdc_weight=1.0, fft_weight=0.5, gan_weight=0.1))
    straight = train(config, tmp_path / "straight", progress=False)
    first = train(config, tmp_path / "resumed", progress=False, stop_after=2)
    meta, state = read_weights(first)
    assert meta["training"]["steps"] == 2 and not meta["training"]["finished"]
    resumed = train(config, tmp_path / "resumed", progress=False)
    meta, state = read_weights(resumed)
    assert meta["training"]["steps"] == 4 and meta["training"]["finished"]
    assert meta["model"]["num_feat"] == 4 and meta["training"]["losses"]["gan_weight"] == 0.1
    # Stopping and continuing gives the same weights as one run (random states are in the checkpoint).
    _, reference = read_weights(straight)
    for key in reference:
        np.testing.assert_allclose(state[key].numpy(), reference[key].numpy(), atol=1e-6, err_msg=key)
    log = [json.loads(line) for line in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4] and all("gan" in r and "disc" in r for r in log)

    # The ONNX export runs without torch at inference and matches the torch net.
    onnx_path = export_weights(resumed, tmp_path / "tiny.onnx")
    from acutance.deep.runtime import load_onnx
    from acutance.deep.train.recipe import build_net

    net = build_net(meta["model"])
    net.load_state_dict(state)
    lr = smooth_test_image(12, 10)
    with torch.no_grad():
        expected = net(torch.from_numpy(lr.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    got = load_onnx(onnx_path)(lr, 2)
    assert np.abs(got - expected).max() < 1e-4


def test_training_lowers_the_loss(image_folder, tmp_path):
    config = config_from_dict(tiny_config(image_folder, iterations=60, checkpoint_every=30, lr=3e-3, ema=0.0))
    train(config, tmp_path / "run", progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    # The running L1 average must come down from its start (bicubic skip: the net learns the residual).
    assert log[-1]["pixel"] < log[0]["pixel"]


def test_resume_with_another_model_is_refused(image_folder, tmp_path):
    train(config_from_dict(tiny_config(image_folder)), tmp_path / "run", progress=False, stop_after=2)
    other = tiny_config(image_folder)
    other["model"]["num_feat"] = 6
    with pytest.raises(OptionError, match=r"another \[model\] config"):
        train(config_from_dict(other), tmp_path / "run", progress=False)


def test_init_must_fit(image_folder, tmp_path):
    weights = train(config_from_dict(tiny_config(image_folder)), tmp_path / "a", progress=False, stop_after=1)
    other = tiny_config(image_folder, init=str(weights))
    other["model"]["num_feat"] = 6
    with pytest.raises(ModelError, match="do not fit"):
        train(config_from_dict(other), tmp_path / "b", progress=False)


def test_cli_trains_and_the_result_upscales(image_folder, tmp_path):
    config_file = tmp_path / "tiny.toml"
    config_file.write_text(
        "[model]\nname = 'tiny'\nscale = 2\nnum_feat = 4\nnum_conv = 1\n"
        f"[data]\ntrain = ['{image_folder}']\npatch = 8\nbatch = 2\n"
        "[train]\niterations = 3\nthreads = 1\n"
    )
    out = tmp_path / "run"
    assert main(["train", "sr", "--config", str(config_file), "-o", str(out)]) == 0
    assert (out / "tiny.safetensors").is_file() and (out / "tiny.onnx").is_file()
    write_image(tmp_path / "small.png", smooth_test_image(16, 20))
    target = tmp_path / "big.png"
    assert main(["upscale", str(tmp_path / "small.png"), "--model", str(out / "tiny.onnx"), "-o", str(target)]) == 0
    from acutance.io import read_image

    assert read_image(target).rgb.shape == (32, 40, 3)
    # A random-degradation config reads its preset name; a missing data folder is a clear error.
    assert main(["train", "sr", "--config", str(config_file), "-o", str(tmp_path / "x"), "--data", str(tmp_path / "nope")]) == 1
