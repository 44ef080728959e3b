"""Read community SR checkpoints safely and work out which network they hold (extra ``train``: torch).

Safety: ``.safetensors`` files hold only tensors; ``.pth`` / ``.pt`` files are read only with
``torch.load(weights_only=True)``, which refuses any pickled object other than tensors and plain containers,
so a malicious file cannot run code. Nothing else is accepted.

Wrappers: training frameworks nest the weights: ``params_ema`` (preferred: the EMA weights), ``params``,
``state_dict``, ``model``, and prefix keys with ``module.`` (DataParallel) or ``_orig_mod.``
(``torch.compile``); all are unwrapped. Half-precision weights are read as float32.

Detection from keys and shapes (``detect``): RRDBNet (ESRGAN / Real-ESRGAN, also the older ESRGAN key
names), SRVGGNetCompact (Real-ESRGAN compact), SwinIR (official layout). A file that carries an
``acutance`` description (safetensors metadata, or an ``acutance`` entry of a ``.pth`` dict) is built from
it instead: the weights are the config. The weights are then loaded strictly: a missing, unexpected or
misshapen key is a ``ModelError`` that says which architecture the keys looked like.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acutance.errors import ModelError

KNOWN_ARCHS = ("RRDBNet", "SRVGGNetCompact", "SwinIR")
WRAPPERS = ("params_ema", "params", "state_dict", "model", "net_g", "generator")
PREFIXES = ("module.", "_orig_mod.")
SUFFIXES = (".pth", ".pt", ".safetensors")
CHECKPOINT_FORMAT = "acutance-checkpoint-1"
META_KEY = "acutance"


def _torch():
    try:
        import torch
    except ImportError:
        raise ModelError("reading torch checkpoints needs the 'train' extra (torch)") from None
    return torch


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


@dataclass
class LoadedCheckpoint:
    """A checkpoint read, detected and built: ``module`` has the weights loaded strictly (eval mode)."""

    description: ArchDescription
    module: Any
    path: Path | None = None


# --- reading ----------------------------------------------------------------------------------------------


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict | None]:
    """``(state_dict, description)`` of a ``.pth`` / ``.pt`` / ``.safetensors`` file.

    state_dict: unwrapped, prefixes stripped, float tensors as float32. description: the file's ``acutance``
    description (a dict with ``arch`` and ``hyper_parameters``) or None.
    """
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    suffix = path.suffix.lower()
    described = None
    if suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt", device="cpu") as handle:
                metadata = handle.metadata() or {}
                obj = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (not a dict)
        except Exception as error:  # noqa: BLE001 (safetensors raises SafetensorError / OSError: all mean "not readable")
            raise ModelError(f"{path}: cannot read as safetensors (truncated or corrupt?): {_first_line(error)}") from None
        if META_KEY in metadata:
            described = _parse_description(metadata[META_KEY], path)
    elif suffix in (".pth", ".pt"):
        import pickle

        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            raise ModelError(
                f"{path}: refused: the file holds Python objects other than tensors, which could run code when "
                f"loaded; only weights-only checkpoints are read ({_first_line(error)})"
            ) from None
        except Exception as error:  # noqa: BLE001 (torch raises RuntimeError / EOFError / zipfile errors for bad files)
            raise ModelError(f"{path}: cannot read as a torch checkpoint (truncated or corrupt?): {_first_line(error)}") from None
        if isinstance(obj, dict) and META_KEY in obj:
            described = _parse_description(obj[META_KEY], path)
    else:
        raise ModelError(f"{path}: unknown checkpoint type {path.suffix!r} (known: {', '.join(SUFFIXES)})")
    return unwrap(obj, where=str(path)), described


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _parse_description(value: Any, path: Path) -> dict:
    try:
        described = json.loads(value) if isinstance(value, str) else dict(value)
    except (TypeError, ValueError) as error:
        raise ModelError(f"{path}: bad '{META_KEY}' description: {error}") from None
    if not isinstance(described.get("arch"), str) or not isinstance(described.get("hyper_parameters"), dict):
        raise ModelError(f"{path}: the '{META_KEY}' description needs 'arch' and 'hyper_parameters'")
    return described


def unwrap(obj: Any, where: str = "checkpoint") -> dict:
    """The flat ``{key: tensor}`` state dict inside a loaded checkpoint (see the module docstring)."""
    torch = _torch()
    seen = []
    while isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        inner = next((key for key in WRAPPERS if isinstance(obj.get(key), dict)), None)
        if inner is None:
            break
        seen.append(inner)
        obj = obj[inner]
    if not isinstance(obj, dict):
        raise ModelError(f"{where}: expected a dict of tensors, found {type(obj).__name__}")
    state = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor) or not isinstance(key, str):
            continue  # counters, optimiser settings, descriptions beside the weights
        for prefix in PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        state[key] = value.float() if value.is_floating_point() else value
    if not state:
        entries = ", ".join(map(str, list(obj)[:8])) or "nothing"
        raise ModelError(f"{where}: no tensors found (entries: {entries}; wrappers looked into: {', '.join(WRAPPERS)})")
    return state


# --- detection --------------------------------------------------------------------------------------------


def _index_set(state: dict, pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for key in state if (m := regex.match(key))})


class _Keys:
    """Looks up keys for one architecture; a missing one is a ModelError naming the architecture."""

    def __init__(self, state: dict, arch: str, where: str) -> None:
        self.state, self.arch, self.where = state, arch, where

    def shape(self, key: str) -> tuple[int, ...]:
        if key not in self.state:
            raise ModelError(f"{self.where}: keys look like {self.arch} but {key} is missing")
        return tuple(self.state[key].shape)

    def fail(self, why: str) -> ModelError:
        return ModelError(f"{self.where}: keys look like {self.arch} but {why}")


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


def _detect_rrdb(state: dict, where: str) -> ArchDescription:
    k = _Keys(state, "RRDBNet", where)
    first = k.shape("conv_first.weight")
    num_feat, in_total = first[0], first[1]
    num_out_ch = k.shape("conv_last.weight")[0]
    num_grow_ch = k.shape("body.0.rdb1.conv1.weight")[0]
    blocks = _index_set(state, r"body\.(\d+)\.rdb")
    num_block = max(blocks) + 1
    ratio = in_total / num_out_ch
    scale = {1: 4, 4: 2, 16: 1}.get(int(ratio)) if ratio.is_integer() else None
    if scale is None:
        raise k.fail(f"conv_first takes {in_total} channels for {num_out_ch} output channels: not x4 (x1), x2 "
                     "(pixel-unshuffle, x4 the channels) or x1 (x16 the channels)")
    hyper = {"num_in_ch": num_out_ch, "num_out_ch": num_out_ch, "scale": scale, "num_feat": num_feat,
             "num_block": num_block, "num_grow_ch": num_grow_ch}
    return ArchDescription("RRDBNet", hyper, scale)


def _detect_srvgg(state: dict, where: str) -> ArchDescription:
    k = _Keys(state, "SRVGGNetCompact", where)
    first = k.shape("body.0.weight")
    if len(first) != 4:
        raise k.fail(f"body.0.weight has shape {first}, not a convolution")
    num_feat, num_in_ch = first[0], first[1]
    indices = _index_set(state, r"body\.(\d+)\.")
    last = max(indices)
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


def _detect_swinir(state: dict, where: str) -> ArchDescription:
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
        if k.shape(f"upsample.{stages[0]}.weight")[0] == 9 * num_feat:
            scale = 3
        else:
            scale = 2 ** len(stages)
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


def _signature(state: dict) -> str | None:
    keys = list(state)
    if any(".residual_group.blocks." in key for key in keys):
        return "SwinIR"
    if any(re.match(r"body\.\d+\.rdb[123]\.conv[1-5]\.", key) for key in keys):
        return "RRDBNet"
    if keys and all(re.match(r"body\.\d+\.(weight|bias)$", key) for key in keys):
        return "SRVGGNetCompact"
    return None


_DETECTORS = {"RRDBNet": _detect_rrdb, "SRVGGNetCompact": _detect_srvgg, "SwinIR": _detect_swinir}


def normalise_keys(state: dict) -> dict:
    """Older key names renamed and derived SwinIR buffers (``relative_position_index``, ``attn_mask``) dropped."""
    state = _rename_old_esrgan(state)
    return {key: value for key, value in state.items()
            if not key.endswith((".attn.relative_position_index", ".attn_mask"))}


def detect(state: dict, where: str = "checkpoint") -> ArchDescription:
    """The architecture, hyper-parameters and scale of a (normalised) state dict, from its keys and shapes."""
    arch = _signature(state)
    if arch is None:
        first = ", ".join(list(state)[:6])
        raise ModelError(f"{where}: unknown layout; first keys: {first}; known: {', '.join(KNOWN_ARCHS)}")
    return _DETECTORS[arch](state, where)


# --- building and strict loading --------------------------------------------------------------------------


def build(description: ArchDescription):
    """A fresh (randomly initialised) module for ``description``."""
    if description.arch == "RRDBNet":
        from acutance.deep.arch.rrdb import RRDBNet as cls
    elif description.arch == "SRVGGNetCompact":
        from acutance.deep.arch.srvgg import SRVGGNetCompact as cls
    elif description.arch == "SwinIR":
        from acutance.deep.arch.swinir import SwinIR as cls
    else:
        raise ModelError(f"unknown architecture {description.arch!r}; known: {', '.join(KNOWN_ARCHS)}")
    hyper = dict(description.hyper_parameters)
    if description.arch == "SwinIR":
        hyper["depths"], hyper["num_heads"] = tuple(hyper["depths"]), tuple(hyper["num_heads"])
    try:
        return cls(**hyper)
    except (TypeError, ValueError) as error:
        raise ModelError(f"cannot build {description.arch} with {description.hyper_parameters}: {error}") from None


def _scale_of(arch: str, hyper: dict) -> int:
    return int(hyper["scale"] if arch == "RRDBNet" else hyper["upscale"])


def load_weights(description: ArchDescription, state: dict, where: str = "checkpoint"):
    """Build ``description`` and load ``state`` strictly; clear errors for missing/unexpected/misshapen keys."""
    module = build(description)
    expected = module.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    what = description.summary()
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
    module.load_state_dict(state, strict=True)
    return module.eval()


def load_checkpoint(path: str | os.PathLike) -> LoadedCheckpoint:
    """Read, detect and build a checkpoint file: ``LoadedCheckpoint(description, module, path)``."""
    state, described = read_checkpoint(path)
    state = normalise_keys(state)
    where = str(path)
    if described is not None:
        arch = described["arch"]
        if arch not in KNOWN_ARCHS:
            raise ModelError(f"{where}: describes architecture {arch!r}; known: {', '.join(KNOWN_ARCHS)}")
        hyper = dict(described["hyper_parameters"])
        try:
            description = ArchDescription(arch, hyper, _scale_of(arch, hyper))
        except KeyError as error:
            raise ModelError(f"{where}: its description lacks {error}") from None
    else:
        description = detect(state, where)
    return LoadedCheckpoint(description, load_weights(description, state, where), Path(path))


def save_safetensors(module: Any, path: str | os.PathLike, *, overwrite: bool = False, extra: dict | None = None) -> Path:
    """Write ``module``'s weights as safetensors with its description in the metadata (atomically).

    The description (``arch`` = class name, ``hyper_parameters()``, ``scale``) makes the file self-describing,
    so architectures whose options do not show in the keys (SRVGG's ``skip``) load back exactly.
    """
    _torch()
    from safetensors.torch import save

    from acutance.io import atomic_write_bytes, check_writable_output

    arch = type(module).__name__
    hyper = module.hyper_parameters()
    description = {"format": CHECKPOINT_FORMAT, "arch": arch, "hyper_parameters": hyper,
                   "scale": _scale_of(arch, hyper) if arch in KNOWN_ARCHS else None, **(extra or {})}
    tensors = {key: value.detach().contiguous().cpu() for key, value in module.state_dict().items()}
    target = check_writable_output(path, overwrite=overwrite)
    return atomic_write_bytes(target, save(tensors, metadata={META_KEY: json.dumps(description)}), overwrite=overwrite)
