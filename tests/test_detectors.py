"""Architecture detectors against the key/shape layouts of the official checkpoints (no weights shipped).

Each ``*_layout`` function below emits the ``{key: shape}`` list of an official checkpoint from its
architecture's published hyper-parameters, written from the official repositories' architecture
definitions (BasicSR / Real-ESRGAN, ESRGAN, SwinIR, GFPGAN, RestoreFormer), independently of our modules.
A few literal keys and shapes of the released files pin each generator. The detectors must find the
published hyper-parameters from these lists, and our modules must have exactly these keys and shapes
(built on the meta device: no memory).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from acutance.deep.detect import DETECTORS, _ordered, by_id, detect, find, normalise_keys
from acutance.errors import ModelError


def _t(*shape):
    return SimpleNamespace(shape=tuple(shape))


def _conv(out, key, o, i, k, bias=True):
    out[f"{key}.weight"] = (o, i, k, k)
    if bias:
        out[f"{key}.bias"] = (o,)


# --- generators of the official layouts -------------------------------------------------------------------


def rrdb_layout(scale=4, num_feat=64, num_block=23, num_grow_ch=32, num_in_ch=3, num_out_ch=3):
    """BasicSR RRDBNet (Real-ESRGAN x4plus / x2plus: x2 and x1 take a pixel-unshuffled input)."""
    out: dict = {}
    _conv(out, "conv_first", num_feat, num_in_ch * {4: 1, 2: 4, 1: 16}[scale], 3)
    for b in range(num_block):
        for r in (1, 2, 3):
            for c in range(1, 6):
                _conv(out, f"body.{b}.rdb{r}.conv{c}", num_feat if c == 5 else num_grow_ch,
                      num_feat + (c - 1) * num_grow_ch, 3)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        _conv(out, name, num_feat, num_feat, 3)
    _conv(out, "conv_last", num_out_ch, num_feat, 3)
    return out


def esrgan_old_layout(num_feat=64, num_block=23, num_grow_ch=32):
    """The original ESRGAN repository's RRDB_ESRGAN_x4.pth ('model.N' sequential names)."""
    out: dict = {}
    _conv(out, "model.0", num_feat, 3, 3)
    for b in range(num_block):
        for r in (1, 2, 3):
            for c in range(1, 6):
                _conv(out, f"model.1.sub.{b}.RDB{r}.conv{c}.0", num_feat if c == 5 else num_grow_ch,
                      num_feat + (c - 1) * num_grow_ch, 3)
    _conv(out, f"model.1.sub.{num_block}", num_feat, num_feat, 3)
    for index in (3, 6, 8):
        _conv(out, f"model.{index}", num_feat, num_feat, 3)
    _conv(out, "model.10", 3, num_feat, 3)
    return out


def srvgg_layout(num_feat=64, num_conv=16, upscale=4, num_in_ch=3):
    """Real-ESRGAN SRVGGNetCompact with PReLU (realesr-animevideov3: 16 convs; general-x4v3: 32)."""
    out: dict = {}
    _conv(out, "body.0", num_feat, num_in_ch, 3)
    out["body.1.weight"] = (num_feat,)
    for i in range(num_conv):
        _conv(out, f"body.{2 * i + 2}", num_feat, num_feat, 3)
        out[f"body.{2 * i + 3}.weight"] = (num_feat,)
    _conv(out, f"body.{2 * num_conv + 2}", num_in_ch * upscale**2, num_feat, 3)
    return out


def swinir_layout(embed_dim, depths, num_heads, upsampler, resi_connection="1conv", upscale=4, window_size=8,
                  mlp_ratio=2.0, img_size=64, num_feat=64, in_ch=3):
    """Official SwinIR (JingyunLiang/SwinIR) state dict, with the derived buffers its files carry."""
    out: dict = {}
    e, w = embed_dim, window_size

    def resi(prefix):
        if resi_connection == "1conv":
            _conv(out, prefix, e, e, 3)
        else:
            _conv(out, f"{prefix}.0", e // 4, e, 3)
            _conv(out, f"{prefix}.2", e // 4, e // 4, 1)
            _conv(out, f"{prefix}.4", e, e // 4, 3)

    _conv(out, "conv_first", e, in_ch, 3)
    out["patch_embed.norm.weight"], out["patch_embed.norm.bias"] = (e,), (e,)
    for i, (depth, heads) in enumerate(zip(depths, num_heads)):
        for j in range(depth):
            p = f"layers.{i}.residual_group.blocks.{j}."
            hidden = int(e * mlp_ratio)
            out.update({
                p + "norm1.weight": (e,), p + "norm1.bias": (e,),
                p + "attn.relative_position_bias_table": ((2 * w - 1) ** 2, heads),
                p + "attn.relative_position_index": (w * w, w * w),
                p + "attn.qkv.weight": (3 * e, e), p + "attn.qkv.bias": (3 * e,),
                p + "attn.proj.weight": (e, e), p + "attn.proj.bias": (e,),
                p + "norm2.weight": (e,), p + "norm2.bias": (e,),
                p + "mlp.fc1.weight": (hidden, e), p + "mlp.fc1.bias": (hidden,),
                p + "mlp.fc2.weight": (e, hidden), p + "mlp.fc2.bias": (e,),
            })
            if j % 2:  # shifted windows keep their mask as a buffer
                out[p + "attn_mask"] = ((img_size // w) ** 2, w * w, w * w)
        resi(f"layers.{i}.conv")
    out["norm.weight"], out["norm.bias"] = (e,), (e,)
    resi("conv_after_body")
    if upsampler == "pixelshuffle":
        _conv(out, "conv_before_upsample.0", num_feat, e, 3)
        if upscale == 3:
            _conv(out, "upsample.0", 9 * num_feat, num_feat, 3)
        else:
            for n in range({2: 1, 4: 2, 8: 3}[upscale]):
                _conv(out, f"upsample.{2 * n}", 4 * num_feat, num_feat, 3)
        _conv(out, "conv_last", in_ch, num_feat, 3)
    elif upsampler == "pixelshuffledirect":
        _conv(out, "upsample.0", in_ch * upscale**2, e, 3)
    elif upsampler == "nearest+conv":
        _conv(out, "conv_before_upsample.0", num_feat, e, 3)
        _conv(out, "conv_up1", num_feat, num_feat, 3)
        if upscale == 4:
            _conv(out, "conv_up2", num_feat, num_feat, 3)
        _conv(out, "conv_hr", num_feat, num_feat, 3)
        _conv(out, "conv_last", in_ch, num_feat, 3)
    return out


def gfpgan_clean_layout(out_size=512, num_style_feat=512, channel_multiplier=2, num_mlp=8, narrow=1.0,
                        different_w=True, sft_half=True):
    """Official GFPGANv1Clean (TencentARC/GFPGAN, v1.3 / v1.4 files under 'params_ema')."""
    import math

    log = int(math.log2(out_size))

    def channels(scale):
        base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
                256: 64 * channel_multiplier, 512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
        return {k: int(v * scale) for k, v in base.items()}

    unet, dec = channels(narrow * 0.5), channels(narrow)
    out: dict = {}

    def resblock(prefix, cin, cout):
        _conv(out, f"{prefix}.conv1", cin, cin, 3)
        _conv(out, f"{prefix}.conv2", cout, cin, 3)
        _conv(out, f"{prefix}.skip", cout, cin, 1, bias=False)

    _conv(out, "conv_body_first", unet[out_size], 3, 1)
    for n, i in enumerate(range(log, 2, -1)):
        resblock(f"conv_body_down.{n}", unet[2**i], unet[2 ** (i - 1)])
    _conv(out, "final_conv", unet[4], unet[4], 3)
    for n, i in enumerate(range(3, log + 1)):
        resblock(f"conv_body_up.{n}", unet[2 ** (i - 1)], unet[2**i])
        _conv(out, f"toRGB.{n}", 3, unet[2**i], 1)
        sft = unet[2**i] if sft_half else 2 * unet[2**i]
        for branch in ("condition_scale", "condition_shift"):
            _conv(out, f"{branch}.{n}.0", unet[2**i], unet[2**i], 3)
            _conv(out, f"{branch}.{n}.2", sft, unet[2**i], 3)
    latents = (2 * log - 2) if different_w else 1
    out["final_linear.weight"], out["final_linear.bias"] = (latents * num_style_feat, unet[4] * 16), (latents * num_style_feat,)
    d = "stylegan_decoder."
    for m in range(num_mlp):
        out[f"{d}style_mlp.{2 * m + 1}.weight"] = (num_style_feat, num_style_feat)
        out[f"{d}style_mlp.{2 * m + 1}.bias"] = (num_style_feat,)
    out[f"{d}constant_input.weight"] = (1, dec[4], 4, 4)

    def modulated(prefix, cin, cout, k):
        out[f"{prefix}.modulated_conv.weight"] = (1, cout, cin, k, k)
        out[f"{prefix}.modulated_conv.modulation.weight"] = (cin, num_style_feat)
        out[f"{prefix}.modulated_conv.modulation.bias"] = (cin,)

    def style_conv(prefix, cin, cout):
        modulated(prefix, cin, cout, 3)
        out[f"{prefix}.weight"] = (1,)
        out[f"{prefix}.bias"] = (1, cout, 1, 1)

    def to_rgb(prefix, cin):
        modulated(prefix, cin, 3, 1)
        out[f"{prefix}.bias"] = (1, 3, 1, 1)

    style_conv(f"{d}style_conv1", dec[4], dec[4])
    to_rgb(f"{d}to_rgb1", dec[4])
    cin = dec[4]
    for n, i in enumerate(range(3, log + 1)):
        style_conv(f"{d}style_convs.{2 * n}", cin, dec[2**i])
        style_conv(f"{d}style_convs.{2 * n + 1}", dec[2**i], dec[2**i])
        to_rgb(f"{d}to_rgbs.{n}", dec[2**i])
        cin = dec[2**i]
    for idx in range((log - 2) * 2 + 1):
        res = 2 ** ((idx + 5) // 2)
        out[f"{d}noises.noise{idx}"] = (1, 1, res, res)
    return out


def restoreformer_layout(n_embed=1024, embed_dim=256, ch=64, ch_mult=(1, 2, 2, 4, 4, 8), num_res_blocks=2,
                         z_channels=256):
    """The keys of the official RestoreFormer.ckpt that detection reads (encoder, quantiser, decoder ends)."""
    out: dict = {}
    _conv(out, "encoder.conv_in", ch, 3, 3)
    cin = ch
    for level, mult in enumerate(ch_mult):
        for b in range(num_res_blocks):
            out[f"encoder.down.{level}.block.{b}.norm1.weight"] = (cin,)
            _conv(out, f"encoder.down.{level}.block.{b}.conv1", ch * mult, cin, 3)
            _conv(out, f"encoder.down.{level}.block.{b}.conv2", ch * mult, ch * mult, 3)
            cin = ch * mult
    out["encoder.mid.block_1.norm1.weight"] = (cin,)
    _conv(out, "encoder.conv_out", z_channels, cin, 3)
    _conv(out, "quant_conv", embed_dim, z_channels, 1)
    out["quantize.embedding.weight"] = (n_embed, embed_dim)
    _conv(out, "decoder.conv_out", 3, ch, 3)
    return out


# name: (layout, literal keys and shapes of the released file, expected architecture, expected hyper-parameters)
OFFICIAL = {
    "RealESRGAN_x4plus": (
        rrdb_layout(), {"conv_first.weight": (64, 3, 3, 3), "body.22.rdb3.conv5.weight": (64, 192, 3, 3),
                        "body.0.rdb1.conv4.weight": (32, 160, 3, 3), "conv_last.weight": (3, 64, 3, 3)},
        "RRDBNet", {"scale": 4, "num_feat": 64, "num_block": 23, "num_grow_ch": 32}),
    "RealESRGAN_x2plus": (
        rrdb_layout(scale=2), {"conv_first.weight": (64, 12, 3, 3), "body.22.rdb3.conv5.weight": (64, 192, 3, 3)},
        "RRDBNet", {"scale": 2, "num_block": 23}),
    "RRDB_ESRGAN_x4 (old arch)": (
        esrgan_old_layout(), {"model.0.weight": (64, 3, 3, 3), "model.1.sub.0.RDB1.conv1.0.weight": (32, 64, 3, 3),
                              "model.1.sub.23.weight": (64, 64, 3, 3), "model.10.weight": (3, 64, 3, 3)},
        "RRDBNet", {"scale": 4, "num_feat": 64, "num_block": 23, "num_grow_ch": 32}),
    "realesr-animevideov3": (
        srvgg_layout(), {"body.0.weight": (64, 3, 3, 3), "body.1.weight": (64,), "body.34.weight": (48, 64, 3, 3)},
        "SRVGGNetCompact", {"num_feat": 64, "num_conv": 16, "upscale": 4, "act_type": "prelu"}),
    "realesr-general-x4v3": (
        srvgg_layout(num_conv=32), {"body.66.weight": (48, 64, 3, 3)},
        "SRVGGNetCompact", {"num_conv": 32, "upscale": 4}),
    "001_classicalSR_DF2K_s64w8_SwinIR-M_x4": (
        swinir_layout(180, [6] * 6, [6] * 6, "pixelshuffle"),
        {"layers.5.residual_group.blocks.5.attn.relative_position_bias_table": (225, 6),
         "layers.0.residual_group.blocks.1.attn_mask": (64, 64, 64), "conv_before_upsample.0.weight": (64, 180, 3, 3),
         "upsample.2.weight": (256, 64, 3, 3)},
        "SwinIR", {"embed_dim": 180, "depths": [6] * 6, "num_heads": [6] * 6, "window_size": 8, "mlp_ratio": 2.0,
                   "upsampler": "pixelshuffle", "upscale": 4, "resi_connection": "1conv"}),
    "001_classicalSR_DIV2K_s48w8_SwinIR-M_x2": (
        swinir_layout(180, [6] * 6, [6] * 6, "pixelshuffle", upscale=2, img_size=48), {"upsample.0.weight": (256, 64, 3, 3)},
        "SwinIR", {"upscale": 2, "upsampler": "pixelshuffle"}),
    "003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x4_GAN": (
        swinir_layout(180, [6] * 6, [6] * 6, "nearest+conv"), {"conv_up2.weight": (64, 64, 3, 3)},
        "SwinIR", {"embed_dim": 180, "upsampler": "nearest+conv", "upscale": 4, "resi_connection": "1conv"}),
    "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN": (
        swinir_layout(240, [6] * 9, [8] * 9, "nearest+conv", "3conv"),
        {"conv_after_body.0.weight": (60, 240, 3, 3), "layers.8.conv.4.weight": (240, 60, 3, 3),
         "layers.0.residual_group.blocks.0.attn.relative_position_bias_table": (225, 8)},
        "SwinIR", {"embed_dim": 240, "depths": [6] * 9, "num_heads": [8] * 9, "upsampler": "nearest+conv",
                   "resi_connection": "3conv", "upscale": 4}),
    "002_lightweightSR_DIV2K_s64w8_SwinIR-S_x4": (
        swinir_layout(60, [6] * 4, [6] * 4, "pixelshuffledirect"), {"upsample.0.weight": (48, 60, 3, 3)},
        "SwinIR", {"embed_dim": 60, "depths": [6] * 4, "upsampler": "pixelshuffledirect", "upscale": 4}),
    "GFPGANv1.4 (and v1.3)": (
        gfpgan_clean_layout(), {"conv_body_first.weight": (32, 3, 1, 1), "final_linear.weight": (16 * 512, 256 * 16),
                                "stylegan_decoder.style_convs.12.modulated_conv.weight": (1, 64, 128, 3, 3),
                                "condition_scale.6.2.weight": (32, 32, 3, 3),
                                "stylegan_decoder.noises.noise14": (1, 1, 512, 512)},
        "GFPGANv1Clean", {"out_size": 512, "num_style_feat": 512, "channel_multiplier": 2, "num_mlp": 8,
                          "different_w": True, "narrow": 1.0, "sft_half": True}),
    "RestoreFormer": (
        restoreformer_layout(), {"quantize.embedding.weight": (1024, 256), "encoder.conv_in.weight": (64, 3, 3, 3)},
        "RestoreFormer", {"n_embed": 1024, "embed_dim": 256, "ch": 64, "ch_mult": [1, 2, 2, 4, 4, 8],
                          "num_res_blocks": 2, "z_channels": 256, "double_z": False}),
}


def _state(layout):
    return {key: _t(*shape) for key, shape in layout.items()}


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_layouts_are_detected(name):
    layout, literal, arch, expected = OFFICIAL[name]
    for key, shape in literal.items():  # the generator reproduces the released file's entries
        assert layout[key] == shape, key
    state = normalise_keys(_state(layout))
    description = detect(state)
    assert description.arch == arch
    for key, value in expected.items():
        assert description.hyper_parameters[key] == value, key


@pytest.mark.parametrize("name", [n for n in OFFICIAL if OFFICIAL[n][2] != "RestoreFormer"])
def test_our_modules_have_the_official_keys_and_shapes(name):
    torch = pytest.importorskip("torch")
    layout, _, arch, _ = OFFICIAL[name]
    state = normalise_keys(_state(layout))
    description = detect(state)
    with torch.device("meta"):
        module = by_id(arch).build(dict(description.hyper_parameters))
    ours = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    want = {key: value.shape for key, value in state.items()}
    assert sorted(set(ours) ^ set(want)) == []
    assert {k: v for k, v in ours.items() if want[k] != v} == {}


def test_official_key_counts():
    assert len(rrdb_layout()) == 702  # RealESRGAN_x4plus.pth's params_ema
    assert len(srvgg_layout()) == 53  # realesr-animevideov3.pth's params
    assert len(gfpgan_clean_layout()) == 285


def test_restoreformer_is_recognised_but_not_run():
    state = _state(restoreformer_layout())
    detector = find(state)
    assert detector.id == "RestoreFormer" and detector.task == "face"
    with pytest.raises(ModelError, match="recognised as RestoreFormer .* which acutance cannot run"):
        detector.load(state, "RestoreFormer.ckpt")


def test_tasks_are_kept_apart():
    with pytest.raises(ModelError, match=r"holds a GFPGANv1Clean \(face-restorer\), not a super-resolution model"):
        find(_state(gfpgan_clean_layout()), "GFPGANv1.4.pth", task="sr")
    with pytest.raises(ModelError, match=r"holds a RRDBNet \(super-resolution\), not a face-restorer model"):
        find(normalise_keys(_state(rrdb_layout())), "x4plus.pth", task="face")
    with pytest.raises(ModelError, match="unknown face-restorer layout; first keys: foo.weight; known: GFPGANv1Clean"):
        find({"foo.weight": _t(1)}, "x.pth", task="face")


def test_our_other_modules_round_trip():
    torch = pytest.importorskip("torch")
    from acutance.deep.arch.discriminator import UNetDiscriminatorSN
    from acutance.faces.arch.unet import FaceUNet

    for module, arch in ((FaceUNet(base=8, levels=2, linear_kernel=3), "FaceUNet"),
                         (UNetDiscriminatorSN(num_in_ch=3, num_feat=16), "UNetDiscriminatorSN")):
        state = module.state_dict()
        description = detect(state)
        assert description.arch == arch
        assert description.hyper_parameters == module.hyper_parameters()
        loaded = by_id(arch).load(state)
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())


def test_order_and_ids():
    ids = [d.id for d in DETECTORS]
    assert len(set(ids)) == len(ids)
    for d in DETECTORS:  # each detector ahead of those it must precede
        assert all(ids.index(d.id) < ids.index(other) for other in d.before)
    fake = [SimpleNamespace(id="a", before=("b",)), SimpleNamespace(id="b", before=())]
    assert [d.id for d in _ordered(list(reversed(fake)))] == ["a", "b"]
    with pytest.raises(ValueError, match="unknown"):
        _ordered([SimpleNamespace(id="a", before=("zzz",))])
