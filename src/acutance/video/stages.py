"""Per-frame stages of ``acutance video``, around the model: one table, so a capability adds a row here
instead of a branch in :mod:`acutance.video.enhance`.

A stage is asked for by a :class:`StageSpec` (its name and JSON-able parameters, part of the job identity) and
built once per run by its row's loader, ``build(params, context) -> stage``, which checks the parameters
and raises :class:`acutance.errors.OptionError` before any frame is decoded. The stage is then called on
every frame it enhances, in presentation order::

    stage(index, source, frame) -> frame

- ``index`` is the frame number in the clip.
- ``source`` is the decoded input frame, before any stage.
- ``frame`` is the image at the stage's place: the input (place ``source``, before the model) or the model's
  output (place ``output``).
- Every image is float32 HxWx3 RGB in [0, 1].

Stages run in table order, whatever the order of the command-line flags: source stages first, then the model,
then output stages.

A stage whose result depends on earlier frames (a per-shot colour mapping, a per-scene sharpening level)
sets ``needs_history = True``. On a resumed run it is then also given every frame of the finished segments
through ``observe(index, source)`` (the decoded frame), so the frames it makes after the resume are the ones an uninterrupted
run would have made. Parameters named in a row's ``secret`` are stored hashed in the job file, never in clear.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from acutance.errors import OptionError


@dataclass(frozen=True)
class StageRow:
    place: str  # "source" (before the model, at the input's size) or "output" (after it)
    loader: str  # "module:function", imported only when the stage is used
    summary: str
    secret: tuple[str, ...] = ()  # parameters hashed in the job file


# The order here is the order stages run in. The watermark is last, so nothing after it changes the pixels.
STAGES: dict[str, StageRow] = {
    "inpaint": StageRow("source", "acutance.inpaint.video:build_stage", "fill a static mask (a logo, a timestamp)"),
    "style": StageRow("output", "acutance.grading.video:build_stage", "colour style of a reference, one mapping per shot"),
    "antialias": StageRow("output", "acutance.antialias.video:build_stage", "remove jaggies after the model"),
    "pre-encode": StageRow("output", "acutance.preencode.video:build_stage", "sharpening chosen for the encoder"),
    "watermark": StageRow("output", "acutance.watermark.video:build_stage", "an invisible mark", secret=("key",)),
}


@dataclass(frozen=True)
class StageSpec:
    name: str
    params: tuple[tuple[str, Any], ...] = ()  # sorted (key, value) pairs: hashable, and stable in job.json

    @classmethod
    def of(cls, name: str, **params: Any) -> StageSpec:
        if name not in STAGES:
            raise OptionError(f"unknown video stage {name!r}; known: {', '.join(STAGES)}")
        return cls(name, tuple(sorted(params.items())))

    def dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class StageContext:
    """What a stage may need to know when it is built: the frame sizes at its place, the frame rate."""

    width: int  # of the frames the stage is given
    height: int
    rate: float  # frames per second (0 if unknown)
    model: str  # the model's name, or "none"


class Stage(Protocol):
    needs_history: bool

    def __call__(self, index: int, source, frame): ...

    def observe(self, index: int, source) -> None: ...


@dataclass
class Built:
    spec: StageSpec
    place: str
    stage: Any
    needs_history: bool = field(init=False)

    def __post_init__(self) -> None:
        self.needs_history = bool(getattr(self.stage, "needs_history", False))


def ordered(specs: tuple[StageSpec, ...]) -> tuple[StageSpec, ...]:
    """The specs in table order; one of each name."""
    names = [spec.name for spec in specs]
    for name in names:
        if name not in STAGES:
            raise OptionError(f"unknown video stage {name!r}; known: {', '.join(STAGES)}")
        if names.count(name) > 1:
            raise OptionError(f"the video stage {name!r} is given twice")
    rank = {name: i for i, name in enumerate(STAGES)}
    return tuple(sorted(specs, key=lambda spec: rank[spec.name]))


def build(specs: tuple[StageSpec, ...], *, source: StageContext, output: StageContext) -> list[Built]:
    """Build every stage (checking its parameters) in the order they run."""
    built = []
    for spec in ordered(specs):
        row = STAGES[spec.name]
        module, function = row.loader.split(":")
        loader = getattr(importlib.import_module(module), function)
        built.append(Built(spec, row.place, loader(spec.dict(), source if row.place == "source" else output)))
    return built


def job_entry(spec: StageSpec) -> dict[str, Any]:
    """The spec as stored in job.json: secrets as their SHA-256."""
    params = {}
    for key, value in spec.params:
        if key in STAGES[spec.name].secret and value is not None:
            value = "sha256:" + hashlib.sha256(json.dumps(value).encode("utf-8")).hexdigest()
        params[key] = value
    return {"name": spec.name, "params": params}
