"""GFPGAN v1.3/v1.4 "clean" checkpoints: layout detection, safe loading, running; corrupt files.

No external weights: small GFPGANv1Clean nets with random weights are saved in the community layout
(``params_ema`` wrapper in a plain ``torch.save`` dict, and safetensors), detected and rebuilt.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from acutance.errors import ModelError  # noqa: E402
from acutance.faces.arch.gfpgan import GFPGANv1Clean  # noqa: E402
from acutance.faces.checkpoint import detect_gfpgan, load_gfpgan, read_state_dict  # noqa: E402
from acutance.faces.restorer import load_restorer  # noqa: E402

SMALL = [
    # v1.3/v1.4 settings at a small size and width
    dict(out_size=64, num_style_feat=32, channel_multiplier=2, num_mlp=8, different_w=True, narrow=0.125, sft_half=True),
    # the other switches: one latent, SFT on all channels, multiplier 1, shorter MLP
    dict(out_size=128, num_style_feat=16, channel_multiplier=1, num_mlp=2, different_w=False, narrow=0.0625, sft_half=False),
]


def _random_net(kw: dict, seed: int = 0) -> GFPGANv1Clean:
    torch.manual_seed(seed)
    net = GFPGANv1Clean(**kw).eval()
    with torch.no_grad():
        for p in net.parameters():  # non-zero everywhere (noise weights and biases start at zero)
            p.add_(torch.randn_like(p) * 0.05)
    return net


def _face(size: int) -> torch.Tensor:
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("kw", SMALL, ids=["v14-like", "variants"])
def test_detect_and_rebuild_pth(tmp_path, kw):
    net = _random_net(kw)
    path = tmp_path / "GFPGANv1.4.pth"
    torch.save({"params_ema": net.state_dict(), "params": {}}, path)
    config = detect_gfpgan(read_state_dict(path))
    assert asdict(config) == {**kw, "input_is_latent": True}
    loaded, _ = load_gfpgan(path)
    with torch.no_grad():
        assert torch.equal(loaded(_face(kw["out_size"])), net(_face(kw["out_size"])))


def test_safetensors_and_module_prefix(tmp_path):
    from safetensors.torch import save_file

    kw = SMALL[0]
    net = _random_net(kw, seed=3)
    path = tmp_path / "gfpgan.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    loaded, config = load_gfpgan(path)
    assert config.out_size == 64 and config.narrow == 0.125
    pth = tmp_path / "dp.pth"
    torch.save({"params": {f"module.{k}": v for k, v in net.state_dict().items()}}, pth)
    loaded_dp, _ = load_gfpgan(pth)
    with torch.no_grad():
        x = _face(64)
        assert torch.equal(loaded(x), net(x))
        assert torch.equal(loaded_dp(x), net(x))


def test_channels_follow_the_published_table():
    # the full v1.4 size: the encoder at half the decoder's width, 512 channels down to 32x32
    with torch.device("meta"):  # shapes only, no memory
        sd = GFPGANv1Clean(out_size=512).state_dict()
    assert sd["conv_body_first.weight"].shape == (32, 3, 1, 1)
    assert sd["final_linear.weight"].shape == (16 * 512, 256 * 16)
    assert sd["stylegan_decoder.style_convs.12.modulated_conv.weight"].shape == (1, 64, 128, 3, 3)
    assert sd["condition_scale.6.2.weight"].shape == (32, 32, 3, 3)  # sft_half: half of 2 x 32
    assert sd["stylegan_decoder.noises.noise14"].shape == (1, 1, 512, 512)
    assert len(sd) == 285
    assert sum(v.numel() for v in sd.values()) == 87_143_276


def test_load_restorer_runs_gfpgan_on_a_512_crop(tmp_path):
    kw = SMALL[0]
    net = _random_net(kw)
    path = tmp_path / "small_gfpgan.pth"
    torch.save({"params_ema": net.state_dict()}, path)
    restorer = load_restorer(path)
    assert restorer.native_size == 64
    crop = np.random.default_rng(0).random((512, 512, 3), dtype=np.float32)
    out = restorer(crop)
    assert out.shape == crop.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_array_equal(out, restorer(crop))  # stored noise: repeatable
    # the same as the network run by hand at its size
    import cv2

    small = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    with torch.no_grad():
        want = net(torch.from_numpy(small.transpose(2, 0, 1)[None].copy()) * 2 - 1)
    want = ((want[0].clamp(-1, 1) + 1) / 2).numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(out, np.clip(cv2.resize(want, (512, 512), interpolation=cv2.INTER_CUBIC), 0, 1), atol=1e-5)


def test_truncated_and_corrupt_checkpoints_fail_clearly(tmp_path):
    net = _random_net(SMALL[0])
    good = tmp_path / "good.pth"
    torch.save({"params_ema": net.state_dict()}, good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01not a safetensors file" * 10)
    for path in (truncated, garbage):
        with pytest.raises(ModelError, match="cannot read the checkpoint"):
            load_restorer(path)
    with pytest.raises(ModelError, match="not found"):
        load_restorer(tmp_path / "missing.pth")


def test_unknown_layout_and_mismatched_shapes(tmp_path):
    other = tmp_path / "esrgan.pth"
    torch.save({"params_ema": {"conv_first.weight": torch.zeros(64, 3, 3, 3)}}, other)
    with pytest.raises(ModelError, match="unknown face-restorer layout"):
        load_restorer(other)
    state = _random_net(SMALL[0]).state_dict()
    state["condition_shift.1.0.weight"] = torch.zeros(5, 5, 3, 3)
    bad = tmp_path / "bad.pth"
    torch.save({"params_ema": state}, bad)
    with pytest.raises(ModelError, match=r"condition_shift.1.0.weight has shape \(5, 5, 3, 3\)"):
        load_restorer(bad)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this normally would create the marker file
        return (open, (str(self.marker), "w"))


def test_pickled_code_never_runs(tmp_path):
    marker = tmp_path / "ran"
    net = _random_net(SMALL[0])
    path = tmp_path / "evil.pth"
    torch.save({"params_ema": net.state_dict(), "hook": _Evil(marker)}, path)
    loaded, _ = load_gfpgan(path)  # the tensors are read; the hook is an inert stub
    assert not marker.exists()
    with torch.no_grad():
        assert torch.equal(loaded(_face(64)), net(_face(64)))
    torch.save({"params_ema": {"x": torch.zeros(1)}, "hook": _Evil(marker)}, path)
    with pytest.raises(ModelError, match="unknown face-restorer layout"):
        load_restorer(path)
    assert not marker.exists()


def test_g_ema_and_net_g_wrappers(tmp_path):
    # one unwrapper for faces and deep nets: g_ema (GFPGAN's own training) and net_g both work here
    net = _random_net(SMALL[0], seed=5)
    for wrapper in ("g_ema", "net_g", "generator"):
        path = tmp_path / f"{wrapper}.pth"
        torch.save({wrapper: {f"_orig_mod.{k}": v for k, v in net.state_dict().items()}}, path)
        loaded, _ = load_gfpgan(path)
        with torch.no_grad():
            assert torch.equal(loaded(_face(64)), net(_face(64)))
