"""The deep models shipped with acutance (``acutance/weights/NAME.onnx``): the deep family with the ``detail`` knob.

``real-x4`` ships its GAN weights in the ONNX file and the weights of its fidelity stage (the same network
before the GAN fine-tuning) in ``NAME.detail.safetensors``; ``detail`` in [0, 1] interpolates between them
(ESRGAN network interpolation): 0 is the fidelity model, 1 the GAN model. The knob is a fact of the shipped
files (the companion's presence), so this family is reached by registry names only; files of one's own go
to ``acutance.deep.runtime``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from acutance.deep.runtime import FORMAT, Enhancer, OnnxModel
from acutance.deep.runtime import describe as describe_net
from acutance.errors import OptionError

__all__ = ["FORMAT", "Enhancer", "describe", "read"]
COMPANION = ".detail.safetensors"


def _companion(name: str):
    return resources.files("acutance").joinpath("weights", f"{name}{COMPANION}")


def describe(meta: Mapping[str, Any]) -> dict:
    """``acutance.deep.runtime.describe``, plus the ``detail`` option where the fidelity weights are shipped."""
    facts = describe_net(meta)
    if meta.get("name") and _companion(str(meta["name"])).is_file():
        facts["options"] = ("detail",)
    return facts


def read(path: str | Path, *, detail: float | None = None) -> OnnxModel:
    from acutance.deep.runtime import read as read_net

    if detail is None:
        return read_net(path)
    if not 0.0 <= float(detail) <= 1.0:
        raise OptionError(f"detail must be between 0 and 1, not {detail}")
    companion = Path(path).with_name(Path(path).stem + COMPANION)
    if not companion.is_file():
        raise OptionError(f"model {Path(path).stem!r} has no detail knob (no {companion.name})")
    from safetensors.numpy import load_file

    return read_net(path, blend=(load_file(str(companion)), float(detail)))
