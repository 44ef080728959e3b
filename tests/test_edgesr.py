"""edge-SR: the torch-free runtime equals the torch modules, training lowers the loss, model files are strict,
the registered models run (tiled == untiled), and, on the real data, beat bicubic on Set5 x2."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import smooth_test_image

import acutance
from acutance.edgesr.arch import EsrSpec
from acutance.edgesr.runtime import (
    EsrModel,
    EsrRunner,
    load_model_file,
    onnx_graph,
    save_model,
)
from acutance.errors import ModelError, OptionError
from acutance.pipeline import enhance

SPECS = [
    EsrSpec("max", 2, 4, 5),
    EsrSpec("tm", 2, 3, 5),
    EsrSpec("tr", 2, 2, 7),
    EsrSpec("tr", 3, 2, 3),
    EsrSpec("cnn", 2, 4, 3, depth=3, features=5),
]
@pytest.fixture
def torch1():
    """torch (skip without it), seeded, on one thread."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield torch
    torch.set_num_threads(threads)


REGISTERED = [info.name for info in acutance.list_models() if info.loader.startswith("acutance.edgesr.")]


def _random_model(spec: EsrSpec, seed: int = 0) -> EsrModel:
    rng = np.random.default_rng(seed)
    arrays = {}
    for n, (i, o, k, bias) in enumerate(spec.layers):
        arrays[f"w{n}"] = rng.normal(0, 0.4, (o, i, k, k)).astype(np.float32)
        if bias:
            arrays[f"b{n}"] = rng.normal(0, 0.1, o).astype(np.float32)
    return EsrModel(spec, arrays)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("backend", ["onnxruntime", "opencv"])
def test_runtime_equals_torch(spec, backend, torch1):
    torch = torch1
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    from acutance.edgesr.arch import build, load_arrays

    model = _random_model(spec)
    net = build(spec)
    load_arrays(net, model.arrays)
    y = smooth_test_image(19, 23)[:, :, 0]
    with torch.no_grad():
        expected = net(torch.from_numpy(y)[None, None])[0, 0].numpy()
    got = EsrRunner(model, backend).luma(y)
    assert got.shape == (19 * spec.scale, 23 * spec.scale)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(expected).max())))


def test_onnx_graph_is_valid_onnx():
    onnx = pytest.importorskip("onnx")
    for spec in SPECS:
        onnx.checker.check_model(onnx.load_from_string(onnx_graph(_random_model(spec))), full_check=True)


def test_training_lowers_the_loss(torch1):
    torch = torch1
    from acutance.color import rgb_to_ycbcr
    from acutance.edgesr.arch import build
    from acutance.edgesr.train import TrainConfig, train_on_pairs, validate
    from acutance.metrics.sr_protocol import make_lr

    pairs = []
    for seed in range(4):
        hr = smooth_test_image(64, 64, seed=seed)
        pairs.append((rgb_to_ycbcr(make_lr(hr, 2))[:, :, 0] * 255, rgb_to_ycbcr(hr)[:, :, 0] * 255))
    config = TrainConfig(kind="tr", channels=2, kernel=5, steps=40, batch=4, crop=32, lr=1e-2, val_every=20)
    torch.manual_seed(config.seed)
    before = validate(build(config.spec()), pairs[:1], 2)  # the same initial weights train_on_pairs starts from
    net, history = train_on_pairs(config, pairs[1:], pairs[:1], log=lambda _: None)
    assert history[-1]["best_val_psnr"] > before + 1.0
    assert history[1]["loss"] < history[0]["loss"]
    assert validate(net, pairs[:1], 2) == pytest.approx(history[-1]["best_val_psnr"], abs=1e-3)  # best state kept


def test_model_file_round_trip_and_strict_loading(tmp_path):
    model = _random_model(SPECS[4])
    path = save_model(model, tmp_path / "m.npz")
    again = load_model_file(path)
    assert again.spec == model.spec and again.meta["params"] == model.spec.params
    assert all(np.array_equal(again.arrays[k], v) for k, v in model.arrays.items())
    bad = dict(model.arrays)
    del bad["b1"]
    with pytest.raises(ModelError, match="missing arrays"):
        EsrModel(model.spec, bad)
    bad = dict(model.arrays, w0=np.zeros((3, 1, 3, 3), np.float32))
    with pytest.raises(ModelError, match="w0 has shape"):
        EsrModel(model.spec, bad)
    np.savez(tmp_path / "other.npz", meta=np.array('{"format": "something-else"}'))
    with pytest.raises(ModelError, match="format"):
        load_model_file(tmp_path / "other.npz")
    loaded = acutance.load_model(str(path))  # a file of your own, by path, through the registry
    assert loaded(smooth_test_image(8, 10), 2).shape == (16, 20, 3)


def test_spec_and_config_validation():
    with pytest.raises(ModelError):
        EsrSpec("avg")
    with pytest.raises(ModelError):
        EsrSpec("tr", 2, 4, 4)  # even kernel
    with pytest.raises(ModelError):
        EsrSpec("cnn", 2, 4, 3)  # no D, S
    assert EsrSpec("tr", 2, 4, 7).params == 3 * 4 * 4 * 49
    assert EsrSpec("cnn", 2, 4, 3, 4, 8).context == 4
    from acutance.edgesr.train import TrainConfig

    with pytest.raises(OptionError, match="unknown"):
        TrainConfig.load(None, colour=True)
    with pytest.raises(OptionError):
        TrainConfig.load(None, kind="tr", kernel=4)


@pytest.mark.parametrize("name", REGISTERED)
def test_registered_models_run_and_tile(name):
    model = acutance.load_model(name)
    image = smooth_test_image(40, 52)
    whole = enhance(image, model, 2, tile=0)
    assert whole.shape == (80, 104, 3) and whole.dtype == np.float32
    tiled = enhance(image, model, 2, tile=16, overlap=2)
    assert np.abs(whole - tiled).max() < 1e-5
    with pytest.raises(ModelError, match="x2 only"):
        model(image, 3)
    with pytest.raises(OptionError):
        model(np.zeros((4, 4, 3), np.uint8), 2)


def test_every_shipped_variant_is_registered():
    assert len(REGISTERED) == 7  # eSR-MAX x2, TM x2, TR x2, CNN


@pytest.mark.slow
@pytest.mark.parametrize("name", REGISTERED)
def test_registered_models_beat_bicubic_on_set5(name, shared_data):
    from acutance.io import list_images
    from acutance.metrics.sr_protocol import evaluate_sr_image
    from acutance.resize import imresize

    model = acutance.load_model(name)
    images, _ = list_images(shared_data / "sr" / "Set5")
    ours = np.mean([evaluate_sr_image(lambda lr: model(lr, 2), p, 2).psnr for p in images])
    bicubic = np.mean([evaluate_sr_image(lambda lr: imresize(lr, 2), p, 2).psnr for p in images])
    assert bicubic == pytest.approx(33.66, abs=0.05)  # the protocol is the published one
    assert ours > bicubic + 0.5


def test_train_command_writes_a_model_upscale_runs(tmp_path, torch1):
    import json

    from acutance.cli.main import main
    from acutance.io import read_image, write_image

    data = tmp_path / "data"
    data.mkdir()
    for seed in range(3):
        write_image(data / f"img{seed}.png", smooth_test_image(64, 72, seed=seed))
    config = tmp_path / "fast.json"
    config.write_text(json.dumps({"batch": 4, "crop": 32, "val_images": 1, "val_every": 10}))
    out = tmp_path / "mine.npz"
    argv = ["train", "edgesr", "--kind", "max", "--channels", "2", "--kernel", "3", "--steps", "20",
            "--data", str(data), "-o", str(out), "--config", str(config)]  # fmt: skip
    assert main(argv) == 0
    model = load_model_file(out)
    assert model.spec == EsrSpec("max", 2, 2, 3) and model.meta["config"]["steps"] == 20
    write_image(tmp_path / "in.png", smooth_test_image(20, 24, seed=7))
    assert main(["upscale", str(tmp_path / "in.png"), "--model", str(out), "-o", str(tmp_path / "o.png")]) == 0
    assert read_image(tmp_path / "o.png").rgb.shape == (40, 48, 3)
