"""LUT super-resolution inference (SR-LUT / MuLUT-style multi-pattern, multi-stage) and the model file.

A model is a cascade of stages; a stage is one or more 17^4 tables (sampling patterns S, D, Y), each run
on the 4 rotations of its input (rotation ensemble), all outputs summed, then
``clip(sum / divisor + bias [+ input], 0, 255)`` and, between stages, rounded to 8-bit levels, so the next
stage's tables are indexed by integers as at training. Only the last stage upscales in the MuLUT layout,
but any stage may (its ``scale``), and a ``residual`` stage at 1x refines its input.

``input``: ``"rgb"`` runs the tables on each channel of the 8-bit RGB image (SR-LUT, MuLUT);
``"luma"`` runs them on MATLAB Y (0-255, not rounded: the kernels interpolate fractional inputs) and
upscales Cb/Cr with MATLAB bicubic: a third of the work, and Y is what the protocol scores.

The model file is the config: an ``.npz`` with ``meta`` (JSON: format, scale, input, padding, stages) and
one array per table named ``s{stage}_{pattern}`` (int8 for shipped models). No torch at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError
from acutance.lut import kernels
from acutance.models.descriptor import ModelInfo
from acutance.models.weights import check_scale, read_model_npz, write_model_npz

FORMAT = "acutance-lut-1"
N_ENTRIES = kernels.LEVELS**4
INPUTS = ("rgb", "luma")


@dataclass
class Stage:
    """One stage: tables (P, 17**4, scale**2) for ``patterns``; output = clip(sum / divisor + bias [+ x])."""

    patterns: tuple[str, ...]
    tables: np.ndarray
    scale: int = 1
    divisor: float = 1.0
    bias: float = 0.0
    residual: bool = False
    round: bool = True

    def __post_init__(self) -> None:
        self.patterns = tuple(self.patterns)
        unknown = [p for p in self.patterns if p not in kernels.PATTERNS]
        if unknown:
            raise ModelError(f"unknown sampling pattern(s) {unknown}; known: {', '.join(kernels.PATTERNS)}")
        expected = (len(self.patterns), N_ENTRIES, self.scale * self.scale)
        if self.tables.shape != expected:
            raise ModelError(f"stage tables have shape {self.tables.shape}, expected {expected}")
        if self.divisor <= 0:
            raise ModelError(f"stage divisor must be positive, got {self.divisor}")
        if self.residual and self.scale != 1:
            raise ModelError("a residual stage must keep the size (scale 1)")
        self.offsets = np.stack([kernels.rotated_offsets(p) for p in self.patterns])
        self.colmap = kernels.column_maps(self.scale)

    def meta(self) -> dict:
        return {
            "patterns": list(self.patterns),
            "scale": self.scale,
            "divisor": self.divisor,
            "bias": self.bias,
            "residual": self.residual,
            "round": self.round,
        }


@dataclass
class LutModel:
    stages: list[Stage]
    input: str = "rgb"
    padding: str = "edge"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.stages:
            raise ModelError("a LUT model needs at least one stage")
        if self.input not in INPUTS:
            raise ModelError(f"input must be one of {INPUTS}, got {self.input!r}")
        if self.padding not in kernels.PAD_MODES:
            raise ModelError(f"padding must be one of {tuple(kernels.PAD_MODES)}, got {self.padding!r}")

    @property
    def scale(self) -> int:
        return int(np.prod([s.scale for s in self.stages]))

    @property
    def context(self) -> int:
        """Input pixels of reach on each side of the tables (``pattern_reach``)."""
        return pattern_reach([stage.meta() for stage in self.stages])

    @property
    def nbytes(self) -> int:
        return int(sum(s.tables.nbytes for s in self.stages))


def run_channel(model: LutModel, channel: np.ndarray, stages: int | None = None) -> np.ndarray:
    """float32 HxW in [0, 255] -> float32 (sH)x(sW) in [0, 255] through the stages (all by default)."""
    x = np.asarray(channel, dtype=np.float32)
    for stage in model.stages[:stages]:
        height, width = x.shape
        msb, lsb = kernels.split_levels(x, model.padding)
        out = np.empty((height * stage.scale, width * stage.scale), np.float32)
        kernels.lut_stage(
            msb, lsb, stage.tables, stage.offsets, stage.colmap, stage.scale,
            16.0 * stage.divisor, float(stage.bias), stage.residual, stage.round, out,
        )  # fmt: skip
        x = out
    return x


def upscale(model: LutModel, rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> float32 (sH)x(sW)x3 RGB in [0, 1]."""
    check_rgb(rgb)
    if model.input == "rgb":
        # the tables index 8-bit levels, as the published runtimes read 8-bit files
        levels = np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.float32)
        channels = [run_channel(model, levels[:, :, c]) for c in range(3)]
        return np.stack(channels, axis=-1) / np.float32(255.0)
    from acutance.color.fast import upscale_luma

    size = (rgb.shape[0] * model.scale, rgb.shape[1] * model.scale)
    return upscale_luma(rgb, lambda y: run_channel(model, y * np.float32(255.0)), size)


# ----------------------------------------------------------------------------------------------- files


def save_model(model: LutModel, path: str | Path) -> Path:
    """Write the model file (npz, compressed, no pickle); returns its path."""
    meta = dict(model.meta) | {
        "format": FORMAT,
        "scale": model.scale,
        "input": model.input,
        "padding": model.padding,
        "stages": [s.meta() for s in model.stages],
    }
    arrays = {
        f"s{i + 1}_{p}": np.ascontiguousarray(stage.tables[k])
        for i, stage in enumerate(model.stages)
        for k, p in enumerate(stage.patterns)
    }
    return write_model_npz(path, meta, arrays)


def load_model_file(path: str | Path) -> LutModel:
    """Read a model file strictly: the tables the stages name, nothing else, shapes consistent."""
    name = str(path)
    meta, arrays = read_model_npz(path, FORMAT, "LUT model file")
    try:
        stages = []
        for i, sm in enumerate(meta["stages"]):
            keys = [f"s{i + 1}_{p}" for p in sm["patterns"]]
            missing = [k for k in keys if k not in arrays]
            if missing:
                raise ModelError(f"missing table(s) {', '.join(missing)}")
            tables = np.stack([arrays.pop(k) for k in keys])
            stages.append(
                Stage(
                    patterns=tuple(sm["patterns"]), tables=tables, scale=int(sm["scale"]),
                    divisor=float(sm["divisor"]), bias=float(sm["bias"]),
                    residual=bool(sm.get("residual", False)), round=bool(sm.get("round", True)),
                )  # fmt: skip
            )
        if arrays:
            raise ModelError(f"unexpected entries {', '.join(sorted(arrays))}")
        model = LutModel(stages=stages, input=meta["input"], padding=meta["padding"], meta=meta)
        declared = meta.get("scale", model.scale)
        if type(declared) is not int or declared != model.scale:
            raise ModelError(f"stages upscale x{model.scale}, meta says x{declared!r:.20}")
    except ModelError as error:
        raise ModelError(f"{name}: {error}") from None
    except (KeyError, ValueError, TypeError, OverflowError) as error:
        raise ModelError(f"{name}: invalid LUT model description: {error!r}") from None
    return model


def from_tables(
    tables: dict[str, np.ndarray], scale: int, *, padding: str = "edge", stages: int | None = None
) -> LutModel:
    """A model from published-layout tables ``{"s1_s": (17**4, k) array, ...}``.

    One table named ``s`` alone is SR-LUT (sum of the 4 rotations, reflect padding by the caller's choice);
    ``s{i}_{p}`` keys are MuLUT: earlier stages 1x with ``sum / (4 P) + 127``, the last ``sum / P``.
    """
    if set(tables) == {"s"}:
        table = np.asarray(tables["s"]).reshape(1, N_ENTRIES, scale * scale)
        return LutModel([Stage(("s",), table, scale=scale, divisor=1.0)], input="rgb", padding=padding)
    n_stages = stages or max(int(k.split("_")[0][1:]) for k in tables)
    out = []
    for i in range(1, n_stages + 1):
        patterns = tuple(k.split("_")[1] for k in sorted(tables) if k.startswith(f"s{i}_"))
        last = i == n_stages
        s = scale if last else 1
        stack = np.stack([np.asarray(tables[f"s{i}_{p}"]).reshape(N_ENTRIES, s * s) for p in patterns])
        divisor = len(patterns) if last else 4.0 * len(patterns)
        out.append(Stage(patterns, stack, scale=s, divisor=divisor, bias=0.0 if last else 127.0))
    return LutModel(out, input="rgb", padding=padding)


# ------------------------------------------------------------------------------------------- the family

read = load_model_file
CHROMA_REACH = 2  # LR pixels MATLAB bicubic reads for the chroma of luma models


def pattern_reach(stages: list[dict]) -> int:
    """Input pixels of reach on each side through the stages (``meta["stages"]``): each pattern's extent,
    rotated to every side, in the input pixels of that stage's grid."""
    reach, factor = 0.0, 1
    for stage in stages:
        reach += max(max(max(abs(o) for o in off) for off in kernels.PATTERNS[p]) for p in stage["patterns"]) / factor
        factor *= int(stage["scale"])
    return int(np.ceil(reach))


def describe(meta: dict) -> dict:
    """The descriptor facts of a LUT model file, from its ``meta``: the chroma of a luma model is bicubic
    beside the tables, so its reach counts only where it is the larger."""
    scale = int(np.prod([int(stage["scale"]) for stage in meta["stages"]]))
    reach = pattern_reach(meta["stages"])
    return {
        "task": "upscale",
        "scales": (scale,),
        "input": str(meta["input"]),
        "context": max(reach, CHROMA_REACH) if meta["input"] == "luma" else reach,
        "default_scale": float(scale),
    }


@dataclass(frozen=True)
class LutEnhancer:
    """A loaded LUT model as an enhancer: ``model(rgb, scale) -> rgb`` with ``.info``."""

    info: ModelInfo
    model: LutModel

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        check_scale(self.info, self.model.scale, scale)
        return upscale(self.model, rgb)


Enhancer = LutEnhancer


def load_file(path: str | Path) -> LutEnhancer:
    """A model file of your own (``acutance train lut -o MODEL``) as an enhancer."""
    from acutance.models.registry import load_model_file

    return load_model_file(path)  # type: ignore[return-value]
