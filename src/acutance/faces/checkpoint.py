"""Community face-restorer checkpoints: GFPGAN "clean" layout detection and loading.

Reading is shared with the deep networks (``acutance.deep.checkpoint.read_checkpoint``: safetensors, or a
weights-only torch file; a whole pickled module goes through the restricted unpickler, which never runs
it), and so is unwrapping (``params_ema`` first, then ``params``, ``g_ema``, ``net_g``, ``generator``,
``state_dict``, ``model``; ``module.`` / ``_orig_mod.`` prefixes dropped). The hyper-parameters are read from
the key names and tensor shapes (the file is the config), the network rebuilt and loaded strictly, so a file
that only looks like GFPGAN fails with a ModelError instead of running wrongly. The detector object is
``acutance.deep.detect.DETECTORS``' ``GFPGANv1Clean``.

GFPGANv1Clean (v1.3, v1.4, and the NoCE v1.2 "clean" files) is detected by ``conv_body_first.weight`` being a
1x1 convolution together with ``stylegan_decoder.style_mlp`` and ``condition_scale`` entries:

- ``out_size = 2 ** (number of conv_body_down blocks + 2)``;
- ``num_style_feat`` = width of ``stylegan_decoder.style_mlp.1``; ``num_mlp`` = number of its linear layers;
- ``narrow`` = channels of ``stylegan_decoder.constant_input`` / 512;
- ``channel_multiplier`` = channels at 64x64 / (256 * narrow) (sizes below 64 do not depend on it: 2);
- ``different_w``: ``final_linear`` outputs ``(2 log2(out_size) - 2) * num_style_feat`` values (else one
  latent);
- ``sft_half``: the SFT maps have as many channels as the features (else twice as many);
- ``input_is_latent`` is not visible in the weights: True, as every released clean model.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from acutance.errors import ModelError

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")


def read_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """The tensors of a checkpoint file as ``{name: torch.Tensor}``, unwrapped (see module docstring).

    Raises ModelError for a missing, truncated or corrupt file, or no tensors.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise ModelError(f"{path}: not a checkpoint file (expected {', '.join(CHECKPOINT_SUFFIXES)})")
    from acutance.deep.checkpoint import read_checkpoint

    return read_checkpoint(path)[0]


@dataclass(frozen=True)
class GFPGANConfig:
    """GFPGANv1Clean hyper-parameters as detected from a state dict."""

    out_size: int
    num_style_feat: int
    channel_multiplier: int
    num_mlp: int
    different_w: bool
    narrow: float
    sft_half: bool
    input_is_latent: bool = True

    def build(self):
        from acutance.faces.arch.gfpgan import GFPGANv1Clean

        return GFPGANv1Clean(**asdict(self))


def _indices(state: Mapping[str, Any], prefix: str) -> list[int]:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in state if (m := pattern.match(k))})


def is_gfpgan_clean(state: Mapping[str, Any]) -> bool:
    """True when the keys have the GFPGANv1Clean layout (see module docstring)."""
    first = state.get("conv_body_first.weight")
    return (
        first is not None
        and tuple(first.shape[1:]) == (3, 1, 1)
        and "stylegan_decoder.style_mlp.1.weight" in state
        and "stylegan_decoder.constant_input.weight" in state
        and "condition_scale.0.0.weight" in state
    )


def detect_gfpgan(state: Mapping[str, Any], where: str = "checkpoint") -> GFPGANConfig:
    """Hyper-parameters of a GFPGANv1Clean state dict; ModelError for any other layout."""
    if not is_gfpgan_clean(state):
        sample = ", ".join(list(state)[:6])
        raise ModelError(
            f"{where}: unknown face-restorer layout (expected GFPGAN v1.3/v1.4 'clean' keys such as "
            f"conv_body_first.weight, conv_body_down.0.*, stylegan_decoder.style_mlp.*; found {sample}, ...)"
        )
    n_down = len(_indices(state, "conv_body_down."))
    if n_down < 1:
        raise ModelError(f"{where}: GFPGAN layout without conv_body_down blocks")
    log_size = n_down + 2
    out_size = 2**log_size
    num_style_feat = int(state["stylegan_decoder.style_mlp.1.weight"].shape[0])
    num_mlp = len([i for i in _indices(state, "stylegan_decoder.style_mlp.") if i % 2 == 1])
    narrow = int(state["stylegan_decoder.constant_input.weight"].shape[1]) / 512.0
    channel_multiplier = 2
    if log_size >= 6:
        key = f"stylegan_decoder.style_convs.{2 * (6 - 3)}.modulated_conv.weight"
        if key not in state:
            raise ModelError(f"{where}: GFPGAN layout without {key}")
        channel_multiplier = max(1, round(int(state[key].shape[1]) / (256 * narrow)))
    latents = int(state["final_linear.weight"].shape[0]) // num_style_feat
    different_w = latents == 2 * log_size - 2
    if not different_w and latents != 1:
        raise ModelError(f"{where}: final_linear gives {latents} latents; expected 1 or {2 * log_size - 2}")
    sft_half = int(state["condition_scale.0.2.weight"].shape[0]) == int(state["conv_body_up.0.conv2.weight"].shape[0])
    return GFPGANConfig(out_size, num_style_feat, channel_multiplier, num_mlp, different_w, narrow, sft_half)


def load_gfpgan(path: str | os.PathLike):
    """``(module, config)``: a GFPGANv1Clean checkpoint detected, rebuilt and loaded strictly (eval mode)."""
    from acutance.deep.detect import by_id, find

    state = read_state_dict(path)
    where = str(path)
    detector = find(state, where, task="face")
    if detector.id != "GFPGANv1Clean":
        raise ModelError(f"{where}: holds a {detector.id}; only GFPGAN v1.3/v1.4 'clean' checkpoints run as face "
                         "restorers (expected keys such as conv_body_first.weight, stylegan_decoder.style_mlp.*)")
    config = detect_gfpgan(state, where=where)
    description = by_id("GFPGANv1Clean").describe(state, where)
    return by_id("GFPGANv1Clean").load(state, where, description), config
