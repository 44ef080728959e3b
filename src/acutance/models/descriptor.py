"""What a model is, stated once: the typed descriptor every registered enhancer carries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Literal, Protocol

import numpy as np

Task = Literal["upscale", "denoise", "deblock", "sharpen", "face", "quality", "style"]
TASKS: tuple[str, ...] = ("upscale", "denoise", "deblock", "sharpen", "face", "quality", "style", "inpaint", "pre-encode")
# Tasks whose models map an image to an image (``model(rgb, scale) -> rgb``): what upscale/denoise/... run.
IMAGE_TASKS: tuple[str, ...] = ("upscale", "denoise", "deblock", "sharpen")
# The facts a family's ``describe`` reads from a model file (everything but name, summary, licence, loader).
FACTS: tuple[str, ...] = ("task", "scales", "input", "tile", "context", "default_scale", "options", "requires")


def _default(value: Any):
    # default_factory, not default: then the dataclass leaves no class attribute behind, and a registered
    # descriptor's facts that are not read yet fall through to ``RegisteredInfo.__getattr__``.
    return field(default_factory=lambda: value)


@dataclass(frozen=True)
class ModelInfo:
    """The descriptor of a model.

    name: registry key, e.g. ``bicubic`` or ``raisr-x2`` (a model file: its stem).
    task: what it does (``TASKS``); ``face`` (aligned face crops) and ``quality`` (scores) are not image-to-image.
    scales: the integer factors it supports; ``None`` means any positive factor (interpolators).
    summary: one line for ``acutance list``.
    licence: of the method's weights/code as shipped here.
    loader: the family module (``acutance.models.families``) that reads, describes and runs it.
    requires: Python packages (extras) the model needs beyond the core, e.g. ``("onnxruntime",)``.
    input: what the model expects; every model takes ``float32 HxWx3 RGB in [0, 1]``, this says how it
        treats it (e.g. ``"rgb"``, ``"luma"`` for models that filter Y and interpolate chroma).
    tile: advised tile size in input pixels (0: the model is cheap in memory, tiling not needed).
    context: input pixels of receptive field on each side; tiles get this much extra border.
    options: keyword options its loader takes (e.g. ``("detail",)``), passed by ``load_model(name, **options)``.

    Every fact but name, summary, licence and loader is the family's ``describe`` of the model file; a
    registered model's facts are read from its file on first use (``RegisteredInfo``).
    """

    name: str
    task: Task = _default("upscale")
    scales: tuple[int, ...] | None = _default(None)
    summary: str = ""
    licence: str = ""
    loader: str = ""
    requires: tuple[str, ...] = _default(())
    input: str = _default("rgb")
    tile: int = _default(0)
    context: int = _default(8)
    default_scale: float = _default(2.0)
    options: tuple[str, ...] = _default(())

    def supports_scale(self, scale: float) -> bool:
        if self.scales is None:
            return scale > 0
        return any(abs(scale - s) < 1e-9 for s in self.scales)

    def measured(self) -> dict:
        """Quality and speed measured by ``benchmarks/`` (empty if this model was not benchmarked)."""
        return dict(_measured_table().get(self.name, {}))

    def facts(self) -> dict:
        """The described facts (``FACTS``) as a dict."""
        return {key: getattr(self, key) for key in FACTS}

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(ModelInfo)}

    def with_facts(self, **changes) -> "ModelInfo":
        """A plain descriptor equal to this one but for ``changes`` (e.g. a wider context for other options)."""
        return ModelInfo(**(self.to_dict() | changes))


class RegisteredInfo(ModelInfo):
    """A registry row's descriptor: name, summary, licence and family given; the facts described from the
    model file by ``describe()`` the first time one is read, then kept (so listing and looking up stay cheap)."""

    def __init__(self, name: str, summary: str, licence: str, loader: str, describe: Callable[[], dict]):
        for key, value in (("name", name), ("summary", summary), ("licence", licence), ("loader", loader)):
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_describe", describe)

    def __getattr__(self, key: str):  # only reached for facts not read yet
        if key not in FACTS:
            raise AttributeError(key)
        facts = self._describe()
        unknown = set(facts) - set(FACTS)
        if unknown:
            raise TypeError(f"{self.name}: describe() gave unknown facts {sorted(unknown)}")
        for fact in FACTS:
            object.__setattr__(self, fact, facts.get(fact, _DEFAULTS[fact]))
        return getattr(self, key)

    def __reduce__(self):  # pickled (process pools, Dask) as the plain descriptor it describes
        return (ModelInfo, tuple(getattr(self, f.name) for f in fields(ModelInfo)))


_DEFAULTS = {f.name: f.default_factory() for f in fields(ModelInfo) if f.name in FACTS}  # type: ignore[misc]


class Enhancer(Protocol):
    """A loaded model: a pure function of the image, with its descriptor."""

    info: ModelInfo

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        """float32 HxWx3 RGB in [0, 1] -> float32 (H*scale)x(W*scale)x3 (not necessarily clipped)."""
        ...


@lru_cache(maxsize=1)
def _measured_table() -> dict:
    # Written by benchmarks/sr_quality.py; shipped inside the package so installed copies have it too.
    try:
        text = resources.files("acutance.models").joinpath("measured.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return json.loads(text).get("models", {})
