"""Architecture detectors, the spandrel way: one object per architecture, tried in a fixed order.

A :class:`Detector` has an ``id`` (the architecture's class name), a ``task`` (``sr``, ``face``,
``discriminator``), ``detect(state)`` (a cheap test on the key names), ``describe(state, where)`` (the
hyper-parameters, from key names and tensor shapes: the file is the config), ``load(state, where)`` (build
the torch module and load the weights strictly) and ``before`` (ids it must be tried ahead of, because its
keys are a superset of theirs). :data:`DETECTORS` holds every deep and face architecture of
``acutance.deep.arch`` and ``acutance.faces.arch`` in that order, plus RestoreFormer, which is recognised
(so the error says what the file is) but has no runtime here.

Every function takes a state dict whose values only need a ``.shape`` (torch tensors, numpy arrays, or
shape stand-ins in tests), already unwrapped (``acutance.deep.checkpoint.unwrap``) and normalised
(:func:`normalise_keys`: older ESRGAN names renamed, SwinIR's derived buffers dropped). Nothing here imports
torch until ``load``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from acutance.errors import ModelError


@dataclass(frozen=True)
class ArchDescription:
    """What a checkpoint holds: the architecture's class name, its constructor arguments and its scale."""

    arch: str
    hyper_parameters: dict = field(hash=False)
    scale: int

    def summary(self) -> str:
        h = self.hyper_parameters
        if self.arch == "RRDBNet":
            what = f"{h['num_block']} blocks, {h['num_feat']} features, growth {h['num_grow_ch']}"
        elif self.arch == "SRVGGNetCompact":
            what = f"{h['num_conv']} convs, {h['num_feat']} features, {h['act_type']}"
        elif self.arch == "SwinIR":
            what = (f"embed {h['embed_dim']}, depths {list(h['depths'])}, heads {list(h['num_heads'])}, "
                    f"window {h['window_size']}, {h['upsampler'] or 'no upsampler'}")
        else:
            what = ", ".join(f"{k}={v}" for k, v in h.items())
        return f"{self.arch} x{self.scale} ({what})"


def _index_set(state: Mapping, pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for key in state if (m := regex.match(key))})


class _Keys:
    """Looks up keys for one architecture; a missing one is a ModelError naming the architecture."""

    def __init__(self, state: Mapping, arch: str, where: str) -> None:
        self.state, self.arch, self.where = state, arch, where

    def shape(self, key: str) -> tuple[int, ...]:
        if key not in self.state:
            raise ModelError(f"{self.where}: keys look like {self.arch} but {key} is missing")
        return tuple(int(n) for n in self.state[key].shape)

    def fail(self, why: str) -> ModelError:
        return ModelError(f"{self.where}: keys look like {self.arch} but {why}")


# --- key normalisation ------------------------------------------------------------------------------------


def _rename_old_esrgan(state: dict) -> dict:
    """Older ESRGAN key names -> the BasicSR layout (same network)."""
    if "model.0.weight" in state and "model.10.weight" in state:  # original ESRGAN repo (x4, 'model.1.sub')
        sub = _index_set(state, r"model\.1\.sub\.(\d+)\.")
        trunk = max(sub) if sub else 0
        renamed = {}
        for key, value in state.items():
            new = key
            if m := re.match(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$", key):
                new = f"body.{m.group(1)}.rdb{m.group(2)}.conv{m.group(3)}.{m.group(4)}"
            elif m := re.match(rf"model\.1\.sub\.{trunk}\.(weight|bias)$", key):
                new = f"conv_body.{m.group(1)}"
            elif m := re.match(r"model\.(0|3|6|8|10)\.(weight|bias)$", key):
                new = {"0": "conv_first", "3": "conv_up1", "6": "conv_up2", "8": "conv_hr", "10": "conv_last"}[m.group(1)] + "." + m.group(2)
            renamed[new] = value
        return renamed
    if any(key.startswith("RRDB_trunk.") for key in state):  # ESRGAN repo, later naming
        table = (("RRDB_trunk.", "body."), ("trunk_conv.", "conv_body."), ("upconv1.", "conv_up1."),
                 ("upconv2.", "conv_up2."), ("HRconv.", "conv_hr."))
        renamed = {}
        for key, value in state.items():
            for old, new in table:
                if key.startswith(old):
                    key = new + key[len(old) :]
            renamed[re.sub(r"\.RDB(\d)\.", r".rdb\1.", key)] = value
        return renamed
    return state


def normalise_keys(state: dict) -> dict:
    """Older key names renamed and derived SwinIR buffers (``relative_position_index``, ``attn_mask``) dropped."""
    state = _rename_old_esrgan(state)
    return {key: value for key, value in state.items()
            if not key.endswith((".attn.relative_position_index", ".attn_mask"))}


# --- the architectures ------------------------------------------------------------------------------------


def _describe_rrdb(state: Mapping, where: str) -> ArchDescription:
    k = _Keys(state, "RRDBNet", where)
    first = k.shape("conv_first.weight")
    num_feat, in_total = first[0], first[1]
    num_out_ch = k.shape("conv_last.weight")[0]
    num_grow_ch = k.shape("body.0.rdb1.conv1.weight")[0]
    num_block = max(_index_set(state, r"body\.(\d+)\.rdb")) + 1
    ratio = in_total / num_out_ch
    scale = {1: 4, 4: 2, 16: 1}.get(int(ratio)) if ratio.is_integer() else None
    if scale is None:
        raise k.fail(f"conv_first takes {in_total} channels for {num_out_ch} output channels: not x4 (x1), x2 "
                     "(pixel-unshuffle, x4 the channels) or x1 (x16 the channels)")
    hyper = {"num_in_ch": num_out_ch, "num_out_ch": num_out_ch, "scale": scale, "num_feat": num_feat,
             "num_block": num_block, "num_grow_ch": num_grow_ch}
    return ArchDescription("RRDBNet", hyper, scale)


def _describe_srvgg(state: Mapping, where: str) -> ArchDescription:
    k = _Keys(state, "SRVGGNetCompact", where)
    first = k.shape("body.0.weight")
    if len(first) != 4:
        raise k.fail(f"body.0.weight has shape {first}, not a convolution")
    num_feat, num_in_ch = first[0], first[1]
    last = max(_index_set(state, r"body\.(\d+)\."))
    if last % 2:
        raise k.fail(f"its last layer body.{last} is not a convolution")
    num_conv = last // 2 - 1
    out = k.shape(f"body.{last}.weight")[0]
    scale = math.isqrt(out // num_in_ch) if out % num_in_ch == 0 else 0
    if scale < 1 or scale * scale * num_in_ch != out:
        raise k.fail(f"the last conv has {out} output channels, not {num_in_ch} x scale**2")
    act = "prelu" if "body.1.weight" in state else "leakyrelu"  # relu and leaky ReLU have no weights to tell by
    hyper = {"num_in_ch": num_in_ch, "num_out_ch": num_in_ch, "num_feat": num_feat, "num_conv": num_conv,
             "upscale": scale, "act_type": act, "skip": "nearest"}
    return ArchDescription("SRVGGNetCompact", hyper, scale)


def _describe_swinir(state: Mapping, where: str) -> ArchDescription:
    k = _Keys(state, "SwinIR", where)
    first = k.shape("conv_first.weight")
    embed_dim, num_in_ch = first[0], first[1]
    layers = _index_set(state, r"layers\.(\d+)\.residual_group\.")
    depths, heads = [], []
    window = None
    for i in range(max(layers) + 1):
        blocks = _index_set(state, rf"layers\.{i}\.residual_group\.blocks\.(\d+)\.")
        if not blocks:
            raise k.fail(f"layer {i} has no blocks (layers found: {layers})")
        depths.append(max(blocks) + 1)
        table = k.shape(f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table")
        heads.append(table[1])
        side = math.isqrt(table[0])
        if side * side != table[0] or side % 2 == 0:
            raise k.fail(f"the relative position table of layer {i} has {table[0]} rows, not (2 * window - 1)**2")
        window = window or (side + 1) // 2
    hidden = k.shape("layers.0.residual_group.blocks.0.mlp.fc1.weight")[0]
    qkv_bias = "layers.0.residual_group.blocks.0.attn.qkv.bias" in state
    resi = "3conv" if "conv_after_body.0.weight" in state else "1conv"
    num_feat = 64
    if "conv_up1.weight" in state:
        upsampler = "nearest+conv"
        num_feat = k.shape("conv_before_upsample.0.weight")[0]
        scale = 4 if "conv_up2.weight" in state else 2
        num_out_ch = k.shape("conv_last.weight")[0]
    elif "conv_before_upsample.0.weight" in state:
        upsampler = "pixelshuffle"
        num_feat = k.shape("conv_before_upsample.0.weight")[0]
        stages = _index_set(state, r"upsample\.(\d+)\.weight")
        if not stages:
            raise k.fail("upsample.0.weight is missing")
        scale = 3 if k.shape(f"upsample.{stages[0]}.weight")[0] == 9 * num_feat else 2 ** len(stages)
        num_out_ch = k.shape("conv_last.weight")[0]
    elif "upsample.0.weight" in state:
        upsampler = "pixelshuffledirect"
        out = k.shape("upsample.0.weight")[0]
        scale = math.isqrt(out // num_in_ch)
        if scale * scale * num_in_ch != out:
            raise k.fail(f"upsample.0 has {out} output channels, not {num_in_ch} x scale**2")
        num_out_ch = num_in_ch
    else:
        upsampler, scale = "", 1
        num_out_ch = k.shape("conv_last.weight")[0]
    hyper = {"num_in_ch": num_in_ch, "num_out_ch": num_out_ch, "embed_dim": embed_dim, "depths": depths,
             "num_heads": heads, "window_size": window, "mlp_ratio": hidden / embed_dim, "qkv_bias": qkv_bias,
             "upscale": scale, "img_range": 1.0, "upsampler": upsampler, "resi_connection": resi,
             "num_feat": num_feat}
    return ArchDescription("SwinIR", hyper, scale)


def _describe_gfpgan(state: Mapping, where: str) -> ArchDescription:
    from dataclasses import asdict

    from acutance.faces.checkpoint import detect_gfpgan

    return ArchDescription("GFPGANv1Clean", asdict(detect_gfpgan(state, where)), 1)


def _describe_face_unet(state: Mapping, where: str) -> ArchDescription:
    k = _Keys(state, "FaceUNet", where)
    base = k.shape("head.0.weight")[0]
    levels = len(_index_set(state, r"down\.(\d+)\.0\.weight"))
    if levels < 1:
        raise k.fail("down.0.0.weight is missing")
    linear = k.shape("linear.weight")[-1] if "linear.weight" in state else 0
    return ArchDescription("FaceUNet", {"base": base, "levels": levels, "linear_kernel": linear}, 1)


def _describe_discriminator(state: Mapping, where: str) -> ArchDescription:
    k = _Keys(state, "UNetDiscriminatorSN", where)
    num_feat, num_in_ch = k.shape("conv0.weight")[:2]
    # skip_connection does not show in the weights: the published discriminators use it
    return ArchDescription("UNetDiscriminatorSN", {"num_in_ch": num_in_ch, "num_feat": num_feat, "skip_connection": True}, 1)


def _describe_restoreformer(state: Mapping, where: str) -> ArchDescription:
    k = _Keys(state, "RestoreFormer", where)
    n_embed, embed_dim = k.shape("quantize.embedding.weight")
    z_channels = k.shape("quant_conv.weight")[1]
    ch, in_channels = k.shape("encoder.conv_in.weight")[:2]
    levels = _index_set(state, r"encoder\.down\.(\d+)\.")
    ch_mult = [k.shape(f"encoder.down.{i}.block.0.conv2.weight")[0] // ch for i in levels]
    hyper = {"n_embed": n_embed, "embed_dim": embed_dim, "ch": ch, "out_ch": k.shape("decoder.conv_out.weight")[0],
             "ch_mult": ch_mult, "num_res_blocks": len(_index_set(state, r"encoder\.down\.0\.block\.(\d+)\.")),
             "in_channels": in_channels, "z_channels": z_channels,
             "double_z": k.shape("encoder.conv_out.weight")[0] == 2 * z_channels,
             "enable_mid": "encoder.mid.block_1.norm1.weight" in state}
    return ArchDescription("RestoreFormer", hyper, 1)


def _build_rrdb(h: dict):
    from acutance.deep.arch.rrdb import RRDBNet

    return RRDBNet(**h)


def _build_srvgg(h: dict):
    from acutance.deep.arch.srvgg import SRVGGNetCompact

    return SRVGGNetCompact(**h)


def _build_swinir(h: dict):
    from acutance.deep.arch.swinir import SwinIR

    return SwinIR(**{**h, "depths": tuple(h["depths"]), "num_heads": tuple(h["num_heads"])})


def _build_gfpgan(h: dict):
    from acutance.faces.arch.gfpgan import GFPGANv1Clean

    return GFPGANv1Clean(**h)


def _build_face_unet(h: dict):
    from acutance.faces.arch.unet import FaceUNet

    return FaceUNet(**h)


def _build_discriminator(h: dict):
    from acutance.deep.arch.discriminator import UNetDiscriminatorSN

    return UNetDiscriminatorSN(**h)


def _has(*keys: str) -> Callable[[Mapping], bool]:
    return lambda state: all(key in state for key in keys)


def _matches_rrdb(state: Mapping) -> bool:
    return any(re.match(r"body\.\d+\.rdb[123]\.conv[1-5]\.", key) for key in state)


def _matches_srvgg(state: Mapping) -> bool:
    return bool(state) and all(re.match(r"body\.\d+\.(weight|bias)$", key) for key in state)


def _matches_swinir(state: Mapping) -> bool:
    return any(".residual_group.blocks." in key for key in state)


def _matches_gfpgan(state: Mapping) -> bool:
    from acutance.faces.checkpoint import is_gfpgan_clean

    return is_gfpgan_clean(state)


@dataclass(frozen=True)
class Detector:
    """One architecture: see the module docstring."""

    id: str
    task: str
    detect: Callable[[Mapping], bool]
    describe: Callable[[Mapping, str], ArchDescription]
    build: Callable[[dict], Any] | None  # None: recognised, but no runtime in acutance
    before: tuple[str, ...] = ()

    def load(self, state: Mapping, where: str = "checkpoint", description: ArchDescription | None = None):
        """The module built from ``description`` (default: detected) with ``state`` loaded strictly (eval)."""
        description = description or self.describe(state, where)
        if self.build is None:
            raise ModelError(f"{where}: recognised as {description.summary()}, which acutance cannot run")
        try:
            module = self.build(dict(description.hyper_parameters))
        except (TypeError, ValueError) as error:
            raise ModelError(f"{where}: cannot build {self.id} with {description.hyper_parameters}: {error}") from None
        return load_strict(module, state, description.summary(), where)


def load_strict(module, state: Mapping, what: str, where: str):
    """Load ``state`` into ``module`` strictly; a clear one-line error for missing/unexpected/misshapen keys."""
    expected = module.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise ModelError(f"{where}: keys look like {what} but {', '.join(missing[:3])}{more} "
                         f"{'is' if len(missing) == 1 else 'are'} missing")
    if unexpected:
        more = f" (and {len(unexpected) - 3} more)" if len(unexpected) > 3 else ""
        raise ModelError(f"{where}: keys look like {what} but it has unexpected keys {', '.join(unexpected[:3])}{more}")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ModelError(f"{where}: keys look like {what} but {key} has shape {tuple(state[key].shape)}, "
                             f"expected {tuple(tensor.shape)}")
    module.load_state_dict(dict(state), strict=True)
    return module.eval()


def _ordered(detectors: list[Detector]) -> tuple[Detector, ...]:
    """Detectors with each one ahead of those it names in ``before`` (stable otherwise)."""
    ids = {d.id for d in detectors}
    for d in detectors:
        unknown = set(d.before) - ids
        if unknown:
            raise ValueError(f"detector {d.id} must precede unknown detectors {sorted(unknown)}")
    done: list[Detector] = []
    pending = list(detectors)
    while pending:
        ready = next(d for d in pending if not any(d.id in other.before for other in pending if other is not d))
        pending.remove(ready)
        done.append(ready)
    return tuple(done)


DETECTORS: tuple[Detector, ...] = _ordered([
    Detector("SwinIR", "sr", _matches_swinir, _describe_swinir, _build_swinir, before=("RRDBNet",)),
    Detector("RRDBNet", "sr", _matches_rrdb, _describe_rrdb, _build_rrdb),
    Detector("SRVGGNetCompact", "sr", _matches_srvgg, _describe_srvgg, _build_srvgg),
    Detector("GFPGANv1Clean", "face", _matches_gfpgan, _describe_gfpgan, _build_gfpgan),
    Detector("RestoreFormer", "face",
             _has("quantize.embedding.weight", "encoder.conv_in.weight", "quant_conv.weight",
                  "encoder.down.0.block.0.norm1.weight", "encoder.conv_out.weight", "decoder.conv_out.weight"),
             _describe_restoreformer, None),
    Detector("FaceUNet", "face", _has("head.0.weight", "down.0.0.weight", "tail.weight"), _describe_face_unet,
             _build_face_unet),
    Detector("UNetDiscriminatorSN", "discriminator", _has("conv0.weight", "conv1.weight_orig", "conv9.weight"),
             _describe_discriminator, _build_discriminator),
])
KNOWN_ARCHS = tuple(d.id for d in DETECTORS)


def by_id(arch: str) -> Detector:
    for d in DETECTORS:
        if d.id == arch:
            return d
    raise ModelError(f"unknown architecture {arch!r}; known: {', '.join(KNOWN_ARCHS)}")


TASKS = {"sr": "super-resolution", "face": "face-restorer", "discriminator": "discriminator"}


def find(state: Mapping, where: str = "checkpoint", task: str | None = None) -> Detector:
    """The first detector (in order) whose keys match; ModelError naming what was found and what is known.

    task: only accept that kind (``sr``, ``face``); another kind's file is an error saying what it is."""
    for d in DETECTORS:
        if d.detect(state):
            if task is not None and d.task != task:
                raise ModelError(f"{where}: holds a {d.id} ({TASKS[d.task]}), not a {TASKS[task]} model")
            return d
    known = [d.id for d in DETECTORS if task is None or d.task == task]
    first = ", ".join(list(state)[:6])
    kind = f"{TASKS[task]} " if task else ""
    raise ModelError(f"{where}: unknown {kind}layout; first keys: {first}; known: {', '.join(known)}")


def detect(state: Mapping, where: str = "checkpoint", task: str | None = None) -> ArchDescription:
    """The architecture, hyper-parameters and scale of a (normalised) state dict, from its keys and shapes."""
    return find(state, where, task).describe(state, where)
