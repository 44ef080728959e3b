"""Invertible rescaling (acutance.rescale): the bijection, the JPEG proxy, the ONNX pair, the downscale
command with its tag, padding, alpha and 16-bit inputs, and the training recipe on the training home."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import smooth_test_image

torch = pytest.importorskip("torch")

from acutance.rescale.irn import Downscaler, InvRescaleNet, IrnSpec, Upscaler  # noqa: E402


def _perturbed(spec: IrnSpec, seed: int = 0) -> InvRescaleNet:
    """A net with random (not identity-initialised) subnets, so invertibility is tested on real couplings."""
    torch.manual_seed(seed)
    net = InvRescaleNet(spec)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


@pytest.mark.parametrize("scale,top_blocks", [(2, 0), (4, 0), (4, 3)])
def test_forward_then_inverse_with_true_z_is_exact(scale, top_blocks, torch_one_thread):
    net = _perturbed(IrnSpec(scale=scale, blocks=2, features=8, top_blocks=top_blocks, restore=4))
    hr = torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        lr, z = net(hr)
        assert lr.shape == (2, 3, 24 // scale, 40 // scale) and z.shape == (2, 3 * scale * scale - 3, 24 // scale, 40 // scale)
        assert float((net.inverse(lr, z) - hr).abs().max()) < 1e-4
        # and the latent matters: z = 0 is not the true z of a random net
        assert float((net.inverse(lr) - hr).abs().max()) > 1e-3


def test_levels_restorer_and_init_from_an_x2_pair(tmp_path, torch_one_thread):
    """x4 with 1 + 3 blocks; the restoration CNN starts as the identity; an x2 pair's weights start an x4's
    first level; another width is refused."""
    from acutance.errors import OptionError
    from acutance.rescale.export import export_pair
    from acutance.train.loop import init_from_onnx

    net = InvRescaleNet(IrnSpec(scale=4, blocks=1, features=4, top_blocks=3, restore=4))
    assert sum(1 for op in net.ops if hasattr(op, "split")) == 4 and net.z_channels == 45
    lr = torch.rand(1, 3, 8, 8)
    assert torch.equal(net.restore_lr(lr), lr)
    x2 = _perturbed(IrnSpec(scale=2, blocks=1, features=4))
    up, _ = export_pair(x2, tmp_path / "irn-a.onnx", "irn-a", "test")
    assert init_from_onnx(net, str(up), "net.") == 18  # one coupling block: three subnets of three convolutions, w and b
    assert torch.equal(net.ops[1].f[0].weight, x2.ops[1].f[0].weight)
    with pytest.raises(OptionError, match="features"):
        init_from_onnx(InvRescaleNet(IrnSpec(scale=2, blocks=1, features=8)), str(up), "net.")


@pytest.mark.parametrize("scale", [2, 4])
def test_untrained_net_is_the_haar_split(scale, torch_one_thread):
    """Identity-initialised couplings: LR = the box mean, z = the Haar detail."""
    net = InvRescaleNet(IrnSpec(scale=scale, blocks=1, features=4))
    hr = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        lr, _ = net(hr)
    assert torch.allclose(lr, torch.nn.functional.avg_pool2d(hr, scale), atol=1e-6)


def test_jpeg_proxy_is_close_to_the_codec_and_differentiable(torch_one_thread):
    from acutance.rescale.jpeg import jpeg_proxy, jpeg_real, quantise

    x = torch.from_numpy(smooth_test_image(64, 80).transpose(2, 0, 1)[None].copy()).requires_grad_(True)
    for quality in (90, 75):
        proxy, real = jpeg_proxy(x, quality), jpeg_real(x, quality)
        assert proxy.shape == x.shape
        err = float(((proxy - real) ** 2).mean().detach())
        assert 10 * np.log10(1 / err) > 38  # the proxy's output is within ~40 dB of libjpeg's
        assert float(((real - x) ** 2).mean()) > 0  # the real codec changed the image
    jpeg_proxy(quantise(x), 80).sum().backward()
    assert float(x.grad.abs().mean()) > 0.1


def test_onnx_pair_matches_torch_at_any_size(tmp_path, torch_one_thread):
    from acutance.deep.runtime import make_session
    from acutance.rescale.export import export_pair

    net = _perturbed(IrnSpec(scale=2, blocks=2, features=8))
    up, down = export_pair(net, tmp_path / "irn-t.onnx", "irn-t", "test")
    assert down.name == "irn-t.down.onnx"
    x = np.random.default_rng(0).random((1, 3, 30, 46), dtype=np.float32)  # not the export's dummy size
    lr = make_session(str(down)).run(None, {"input": x})[0]
    hr = make_session(str(up)).run(None, {"input": lr})[0]
    with torch.no_grad():
        lr_t = Downscaler(net)(torch.from_numpy(x))
        hr_t = Upscaler(net)(lr_t)
    assert lr.shape == (1, 3, 15, 23) and hr.shape == x.shape
    assert np.abs(lr - lr_t.numpy()).max() < 1e-5 and np.abs(hr - hr_t.numpy()).max() < 1e-5


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Path:
    """An exported x2 pair of a (roughly) Haar net: close to the identity round trip on smooth images."""
    from acutance.rescale.export import export_pair

    torch.manual_seed(0)
    net = InvRescaleNet(IrnSpec(scale=2, blocks=1, features=4)).eval()
    up, _ = export_pair(net, tmp_path_factory.mktemp("pair") / "irn-t.onnx", "irn-t", "test")
    return up


def _cli(argv) -> int:
    from acutance.cli.main import main

    return main([str(a) for a in argv])


def _write(path: Path, rgb, alpha=None, bit_depth=8) -> Path:
    from acutance.io import write_image
    from acutance.io.image import Image, ImageMeta

    meta = ImageMeta(bit_depth=bit_depth, grayscale=False, format="PNG", icc_profile=None, exif=None)
    write_image(path, Image(rgb, alpha, meta))
    return path


def test_downscale_bicubic_is_matlab_and_tagged(tmp_path, capsys):
    from acutance.io import read_image
    from acutance.rescale.tag import read_tag
    from acutance.resize import imresize

    rgb = smooth_test_image(40, 52)
    src = _write(tmp_path / "in.png", rgb)
    assert _cli(["downscale", src, "-o", tmp_path / "lr.png", "--model", "bicubic", "--scale", "2"]) == 0
    lr = read_image(tmp_path / "lr.png")
    expected = np.round(np.clip(imresize(read_image(src).rgb, 0.5), 0, 1) * 255) / 255
    assert np.abs(lr.rgb - expected).max() < 1e-6
    assert read_tag(tmp_path / "lr.png", lr) == {"model": "bicubic", "scale": 2, "size": [52, 40]}
    assert _cli(["downscale", src, "-o", tmp_path / "x.png", "--model", "bicubic"]) == 1  # no --scale
    assert "needs --scale" in capsys.readouterr().err


def test_irn_round_trip_with_padding_and_notices(tmp_path, pair, capsys):
    """An odd-sized HR is padded for the downscale and cropped back by the upscale; mismatched pairs warn."""
    from acutance.io import read_image
    from acutance.metrics import psnr

    rgb = smooth_test_image(37, 51)  # neither side a multiple of 2
    src = _write(tmp_path / "in.png", rgb)
    assert _cli(["downscale", src, "-o", tmp_path / "lr.png", "--model", pair]) == 0
    assert read_image(tmp_path / "lr.png").rgb.shape == (19, 26, 3)
    capsys.readouterr()
    assert _cli(["upscale", tmp_path / "lr.png", "-o", tmp_path / "hr.png", "--model", pair]) == 0
    out = read_image(tmp_path / "hr.png").rgb
    assert out.shape == rgb.shape  # cropped back to the original
    assert psnr(rgb, out) > 24  # a Haar pair: box down, box up
    assert "warning" not in capsys.readouterr().err
    # an IRN LR upscaled by another model: a notice, and the result is still written
    assert _cli(["upscale", tmp_path / "lr.png", "-o", tmp_path / "bic.png", "--model", "bicubic", "--scale", "2"]) == 0
    assert "was downscaled by irn-t" in capsys.readouterr().err
    # a plain LR upscaled by the IRN model: a notice
    _write(tmp_path / "plain.png", rgb[:18, :26])
    assert _cli(["upscale", tmp_path / "plain.png", "-o", tmp_path / "p2.png", "--model", pair]) == 0
    assert "was not downscaled by irn-t" in capsys.readouterr().err


def test_padding_helper_keeps_pixels():
    from acutance.rescale.runtime import pad_to_multiple

    x = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (8, 8) and np.array_equal(padded[:5, :7], x)
    assert pad_to_multiple(np.zeros((1, 3, 3), np.float32), 2).shape == (2, 4, 3)  # 1-pixel side: edge


def test_alpha_is_downscaled_plainly_and_16_bit_kept(tmp_path, pair):
    from acutance.io import read_image
    from acutance.resize import imresize

    rgb = smooth_test_image(32, 48)
    alpha = np.tile(np.linspace(0, 1, 48, dtype=np.float32), (32, 1))
    src = _write(tmp_path / "a.png", rgb, alpha, bit_depth=16)
    assert _cli(["downscale", src, "-o", tmp_path / "lr.png", "--model", pair]) == 0
    lr = read_image(tmp_path / "lr.png")
    assert lr.meta.bit_depth == 16 and lr.alpha is not None and lr.alpha.shape == (16, 24)
    assert np.abs(lr.alpha - np.clip(imresize(read_image(src).alpha, 0.5), 0, 1)).max() < 1e-4
    assert _cli(["upscale", tmp_path / "lr.png", "-o", tmp_path / "hr.png", "--model", pair]) == 0
    hr = read_image(tmp_path / "hr.png")
    assert hr.meta.bit_depth == 16 and hr.rgb.shape == rgb.shape and hr.alpha.shape == alpha.shape


def test_recipe_trains_on_the_training_home_and_resumes(tmp_path, torch_one_thread):
    from acutance.rescale.train import TrainConfig, train

    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        _write(data / f"{i}.png", smooth_test_image(48, 64, seed=i))
    config = TrainConfig.load(None, blocks=1, features=4, batch=2, patch=16, steps=4, val_images=1, val_crop=32,
                              val_every=2, jpeg_aug=True)  # fmt: skip
    run = tmp_path / "run"
    first, _ = train(config, [data], log=lambda line: None, run=run, stop_after=2)
    assert (run / "checkpoint.safetensors").is_file()
    net, meta = train(config, [data], log=lambda line: None, run=run)  # continues at step 2
    steps = [entry["step"] for entry in meta["history"] if "step" in entry]
    assert steps[-1] == 4 and "val_round_trip" in meta["history"][-1]
    # the fine-tuning variant: clean and JPEG'd LR every step, a restoration CNN, chosen by round trip + Q90
    config = TrainConfig.load(None, blocks=1, features=4, batch=2, patch=16, steps=2, val_images=1, val_crop=32,
                              val_every=2, jpeg_aug=True, jpeg_mode="pair", restore=4)  # fmt: skip
    net, meta = train(config, [data], log=lambda line: None)
    assert net.restorer is not None and {"val_score", "val_jpeg90"} <= set(meta["best"])
    with pytest.raises(Exception, match="another"):
        train(TrainConfig.load(None, blocks=2, features=4, batch=2, patch=16, steps=4, val_images=1), [data],
              log=lambda line: None, run=run)  # fmt: skip


def test_bad_config_is_refused():
    from acutance.errors import OptionError
    from acutance.rescale.train import TrainConfig

    for bad in ({"patch": 20}, {"z_train": "x"}, {"scale": 3}, {"nope": 1}, {"jpeg_mode": "x"}, {"init": "/nonexistent.onnx"},
                {"top_blocks": -1}):
        with pytest.raises(OptionError):
            TrainConfig.load(None, **bad)


@pytest.mark.parametrize("name,scale", [("irn-x2", 2), ("irn-x2-plain", 2), ("irn-x4", 4)])
def test_registered_irn_model_restores_its_own_lr_only(shared_data, name, scale):
    """The shipped pairs: the registry row runs, the downscaler is found by name, and the round trip of a
    natural image beats bicubic down and up by far (synthetic noise is not what they hide well)."""
    from acutance.io import read_image
    from acutance.metrics import psnr
    from acutance.models.registry import REGISTRY, load_model
    from acutance.resize import imresize

    if name not in REGISTRY:
        pytest.skip(f"{name} is not registered")
    from acutance.rescale.runtime import load_downscaler

    rgb = read_image(next((shared_data / "sr" / "Set5").glob("baby*"))).rgb[200:328, 200:328]
    lr = load_downscaler(name)(rgb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = load_model(name)(np.round(lr * 255) / 255, scale)
    assert lr.shape == (128 // scale, 128 // scale, 3) and out.shape == rgb.shape
    bicubic = np.clip(imresize(imresize(rgb, 1 / scale), float(scale)), 0, 1)
    assert psnr(rgb, out, crop_border=scale) > psnr(rgb, bicubic, crop_border=scale) + 3


def test_train_irn_command_writes_the_pair(tmp_path, capsys, torch_one_thread):
    import json

    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        _write(data / f"{i}.png", smooth_test_image(48, 64, seed=i))
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"blocks": 1, "features": 4, "batch": 2, "patch": 16, "val_images": 1,
                                  "val_crop": 32, "val_every": 2}))  # fmt: skip
    out = tmp_path / "irn-mine.onnx"
    argv = ["train", "irn", "--scale", "2", "--steps", "2", "--config", config, "--data", data, "-o", out, "--no-progress"]
    assert _cli(argv) == 0
    assert out.is_file() and (tmp_path / "irn-mine.down.onnx").is_file()
    assert "wrote" in capsys.readouterr().out
    src = _write(tmp_path / "in.png", smooth_test_image(32, 32))
    assert _cli(["downscale", src, "-o", tmp_path / "lr.png", "--model", out]) == 0
    assert _cli(["upscale", tmp_path / "lr.png", "-o", tmp_path / "hr.png", "--model", out]) == 0
    assert "warning" not in capsys.readouterr().err
