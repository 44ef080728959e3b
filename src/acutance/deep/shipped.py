"""The deep models shipped with acutance (``acutance/weights/NAME.onnx``), with the ``detail`` knob.

``real-x4`` ships its GAN weights in the ONNX file and the weights of its fidelity stage (the same network
before the GAN fine-tuning) in ``NAME.detail.safetensors``; ``detail`` in [0, 1] interpolates between them
(ESRGAN network interpolation): 0 is the fidelity model, 1 the GAN model.
"""

from __future__ import annotations

from importlib import resources

from acutance.errors import ModelError, OptionError
from acutance.models.descriptor import ModelInfo


def load(info: ModelInfo, *, detail: float | None = None):
    from acutance.deep.runtime import load_onnx

    resource = resources.files("acutance").joinpath("weights", f"{info.name}.onnx")
    if not resource.is_file():
        raise ModelError(f"model file for {info.name!r} not found: {resource}")
    blend = None
    if detail is not None:
        if not 0.0 <= float(detail) <= 1.0:
            raise OptionError(f"detail must be between 0 and 1, not {detail}")
        companion = resources.files("acutance").joinpath("weights", f"{info.name}.detail.safetensors")
        if not companion.is_file():
            raise OptionError(f"model {info.name!r} has no detail knob (no {companion.name})")
        from safetensors.numpy import load_file

        with resources.as_file(companion) as path:
            blend = (load_file(str(path)), float(detail))
    with resources.as_file(resource) as path:
        return load_onnx(path, name=info.name, info=info, blend=blend)
