"""The three anti-aliasing methods by name, as one function each: what the CLI, ``--post antialias`` and the
video stage call."""

from __future__ import annotations

from typing import Callable

import numpy as np

from acutance.errors import OptionError

METHODS = ("aa-x1", "fxaa", "blur")
DEFAULT_BLUR_SIGMA = 0.47  # matched softness; the shipped model's meta records the value measured at training


def matched_sigma() -> float:
    """The blur sigma of matched softness recorded in the shipped ``aa-x1`` (its training run measured it)."""
    from acutance.models.families import header, shipped
    from importlib import resources

    with resources.as_file(shipped("aa-x1.npz")) as path:
        return float(header(path).get("matched_blur_sigma", DEFAULT_BLUR_SIGMA))


def method_function(method: str, sigma: float | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``method``'s function float32 HxWx3 RGB -> RGB, options checked now (and the model loaded)."""
    from acutance.antialias import classical

    if method not in METHODS:
        raise OptionError(f"unknown anti-aliasing method {method!r}; known: {', '.join(METHODS)}")
    if sigma is not None and method != "blur":
        raise OptionError(f"--sigma is an option of --method blur, not {method}")
    if method == "fxaa":
        return classical.fxaa
    if method == "blur":
        value = matched_sigma() if sigma is None else float(sigma)
        classical.gaussian(np.zeros((1, 1, 3), np.float32), value)  # a bad sigma fails before any image
        return lambda rgb: classical.gaussian(rgb, value)
    from acutance.models.registry import load_model

    model = load_model("aa-x1")
    return lambda rgb: model(rgb, 1.0)


FXAA_REACH = 24  # pixels FXAA reads on each side: its edge search walks up to 22.5 pixels along the edge


class MethodEnhancer:
    """A classical method as an enhancer (``enhancer(rgb, 1) -> rgb`` with ``.info``), so the shared
    image/folder CLI and the tiling pipeline run it like a model."""

    def __init__(self, name: str, summary: str, context: int, apply: Callable[[np.ndarray], np.ndarray]) -> None:
        from acutance.models.descriptor import ModelInfo

        self.info = ModelInfo(name=name, task="sharpen", scales=(1,), summary=summary, licence="Apache-2.0",
                              context=context, default_scale=1.0)
        self.apply = apply

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        from acutance.models.weights import check_scale

        check_scale(self.info, 1, scale)
        return self.apply(rgb)


def method_enhancer(method: str, sigma: float | None = None):
    """The enhancer of ``method``: the registered ``aa-x1``, or FXAA / the matched blur wrapped as one."""
    from acutance.antialias.classical import blur_reach

    apply = method_function(method, sigma)  # checks the method and its options
    if method == "aa-x1":
        from acutance.models.registry import load_model

        return load_model("aa-x1")
    if method == "fxaa":
        return MethodEnhancer("fxaa", "FXAA-style post-process anti-aliasing", FXAA_REACH, apply)
    value = matched_sigma() if sigma is None else float(sigma)
    return MethodEnhancer("blur", f"Gaussian blur, sigma {value:g}", blur_reach(value) + 1, apply)
