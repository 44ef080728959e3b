"""Named degradation configs. ``realesrgan`` is the published two-round model; the others are simpler."""

from __future__ import annotations

from dataclasses import replace

from acutance.degrade.config import DegradeConfig, FinalConfig, RoundConfig
from acutance.errors import OptionError

_MATLAB = ("matlab_bicubic",)
# A round that does nothing but bring the image to the LR size (MATLAB bicubic), so that what follows acts
# on LR pixels: the base of the 'noise' preset.
_TO_TARGET = RoundConfig(
    blur_prob=0.0,
    resize_probs=(0.0, 0.0, 1.0),
    resize_modes=_MATLAB,
    resize_relative_to="target",
    noise_prob=0.0,
    jpeg_prob=0.0,
)
_PLAIN_FINAL = FinalConfig(resize_modes=_MATLAB, order="resize_first", sinc_prob=0.0, jpeg_prob=0.0)

PRESETS: dict[str, tuple[str, DegradeConfig]] = {
    "bicubic": (
        "MATLAB bicubic downscale only (the classic SR benchmark degradation)",
        DegradeConfig(rounds=(), final=_PLAIN_FINAL),
    ),
    "realesrgan": (
        "Real-ESRGAN second-order model with its published training values",
        DegradeConfig(),
    ),
    "realesrgan-light": (
        "one round of the Real-ESRGAN model (blur, resize, noise), then the final resize/sinc/JPEG stage",
        DegradeConfig(rounds=(replace(RoundConfig(), jpeg_prob=0.0),)),
    ),
    "jpeg": (
        "MATLAB bicubic downscale, then JPEG at a quality drawn from 30..95",
        DegradeConfig(rounds=(), final=replace(_PLAIN_FINAL, jpeg_prob=1.0)),
    ),
    "noise": (
        "MATLAB bicubic downscale, then Gaussian noise of sigma 1..30 (gray with probability 0.4)",
        DegradeConfig(rounds=(replace(_TO_TARGET, noise_prob=1.0, gaussian_noise_prob=1.0),), final=_PLAIN_FINAL),
    ),
}


def preset_names() -> tuple[str, ...]:
    return tuple(PRESETS)


def get_preset(name: str) -> DegradeConfig:
    """The config of a preset; an unknown name is an ``OptionError`` listing the known ones."""
    try:
        return PRESETS[name][1]
    except KeyError:
        raise OptionError(f"unknown degradation preset {name!r}; choose one of {', '.join(PRESETS)}") from None
