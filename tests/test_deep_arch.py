"""The deep architectures as torch modules: shapes, options, the SwinIR shift mask, the discriminator."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from acutance.deep.arch.discriminator import UNetDiscriminatorSN
from acutance.deep.arch.rrdb import RRDBNet
from acutance.deep.arch.srvgg import SRVGGNetCompact
from acutance.deep.arch.swinir import SwinIR, shift_mask, window_partition


@pytest.fixture(autouse=True)
def _seed_and_one_thread(torch_one_thread):
    yield


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_rrdbnet_shapes_and_unshuffle_channels(scale):
    net = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4, scale=scale).eval()
    assert net.conv_first.in_channels == {1: 48, 2: 12, 4: 3}[scale]
    with torch.no_grad():
        out = net(torch.rand(2, 3, 12, 16))
    assert out.shape == (2, 3, 12 * scale, 16 * scale)
    assert RRDBNet(**net.hyper_parameters()).state_dict().keys() == net.state_dict().keys()
    keys = set(net.state_dict())
    assert {"conv_first.weight", "body.1.rdb3.conv5.bias", "conv_body.weight", "conv_up1.weight",
            "conv_up2.weight", "conv_hr.weight", "conv_last.weight"} <= keys


def test_rrdbnet_rejects_scale_3():
    with pytest.raises(ValueError, match="scale"):
        RRDBNet(scale=3)


@pytest.mark.parametrize(
    "options",
    [
        {"upsampler": "pixelshuffledirect", "upscale": 4},
        {"upsampler": "pixelshuffle", "upscale": 3, "num_feat": 8},
        {"upsampler": "pixelshuffle", "upscale": 4, "num_feat": 8},
        {"upsampler": "nearest+conv", "upscale": 2, "num_feat": 8, "resi_connection": "3conv"},
        {"upsampler": "", "upscale": 1},
    ],
)
def test_swinir_any_size(options):
    net = SwinIR(embed_dim=8, depths=(2,), num_heads=(2,), window_size=4, **options).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 9, 14))  # not multiples of the window: padded inside, cropped after
    scale = options["upscale"]
    assert out.shape == (1, 3, 9 * scale, 14 * scale)
    hyper = net.hyper_parameters()
    assert SwinIR(**{**hyper, "depths": tuple(hyper["depths"]), "num_heads": tuple(hyper["num_heads"])}).state_dict().keys() == net.state_dict().keys()


def test_swinir_state_dict_has_no_derived_buffers():
    keys = set(SwinIR(embed_dim=8, depths=(2,), num_heads=(2,), window_size=4).state_dict())
    assert not [k for k in keys if "relative_position_index" in k or "attn_mask" in k or k == "mean"]
    assert "layers.0.residual_group.blocks.1.attn.relative_position_bias_table" in keys
    assert "patch_embed.norm.weight" in keys and "layers.0.conv.weight" in keys


def _official_mask(h, w, ws, shift):
    """The upstream ``calculate_mask``: region ids by slices, -100 where regions differ."""
    img = torch.zeros((1, h, w, 1))
    slices = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    count = 0
    for hs in slices:
        for wsl in slices:
            img[:, hs, wsl, :] = count
            count += 1
    windows = window_partition(img, ws).view(-1, ws * ws)
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


@pytest.mark.parametrize("size", [(8, 8), (16, 24), (24, 8)])
def test_shift_mask_matches_upstream_calculation(size):
    got = shift_mask(*size, 8, 4)
    assert torch.equal(got, _official_mask(*size, 8, 4))
    assert (got == -100).any()


def test_srvgg_hyper_parameters_round_trip():
    net = SRVGGNetCompact(num_feat=8, num_conv=3, upscale=2, act_type="leakyrelu", skip="bicubic")
    again = SRVGGNetCompact(**net.hyper_parameters())
    again.load_state_dict(net.state_dict())
    x = torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        assert torch.equal(net(x), again(x))


def test_discriminator_map_and_spectral_norm():
    net = UNetDiscriminatorSN(num_in_ch=3, num_feat=8, skip_connection=True)
    keys = set(net.state_dict())
    assert {"conv0.weight", "conv1.weight_orig", "conv1.weight_u", "conv1.weight_v", "conv9.bias"} <= keys
    assert "conv0.weight_orig" not in keys and "conv9.weight_orig" not in keys  # first and last plain
    x = torch.rand(2, 3, 32, 24, requires_grad=True)
    out = net(x)
    assert out.shape == (2, 1, 32, 24)
    out.mean().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    # Spectral norm: the weight used is weight_orig divided by its power-iteration sigma = u^T W v.
    conv = net.conv2
    flat = conv.weight_orig.detach().reshape(conv.weight_orig.shape[0], -1)
    sigma = conv.weight_u @ flat @ conv.weight_v
    assert torch.allclose(conv.weight.detach(), conv.weight_orig.detach() / sigma, rtol=1e-5, atol=1e-7)
    assert float(sigma) > 0
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.rand(1, 3, 12, 16))
    plain = UNetDiscriminatorSN(num_feat=8, skip_connection=False)
    assert plain(torch.rand(1, 3, 16, 16)).shape == (1, 1, 16, 16)
