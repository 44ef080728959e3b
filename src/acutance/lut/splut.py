"""SPLUT (Series-Parallel Lookup Tables, Ma et al., ECCV 2022): the runtime, the model file, and the
converter of the authors' checkpoints. numpy + numba; no torch.

The method (as the authors' transfer and inference code run it, which gives the published figures):

- **Parallel branches.** Each 8-bit channel value is split into its 4 most significant bits (branch
  ``msb``, the authors' model A) and its 4 least (``lsb``, model B). Each branch runs its own tables on its
  4-bit image; the two outputs are added.
- **Series stages.** The first table (``122``) looks up a 2x2 window of 4-bit levels and gives ``C``
  channels (4 / 8 / 16 for S / M / L), plus the window's level / 16. Each later stage adds the average of
  its groups' tables: a group reads 4 channels of the previous stage, sums them in shifted pairs, quantises
  the sums to 16 levels on [-8, 8) and looks up the 4 levels across two rows (``221``) or two columns
  (``212``) (see ``splut_kernels`` for the exact index layout). A middle stage adds its input back (a
  residual); the last gives ``scale**2`` outputs plus the level / 16, pixel-shuffled. The branches' sum is
  clipped to [0, 1].
- Each RGB channel is run on its own, through the same tables (the published models were trained so).
- **Rotation ensemble**: ``rotations`` 4 averages the results over the 4 rotations of the input. The
  published models were trained and scored without it (``rotations`` 1 in their files).

The model file (``FORMAT``) is an npz with a JSON ``meta`` (scale, channels, the stages' groups, the table
steps) and one table array per branch and stage, ``{branch}_s{n}`` of shape ``(groups, 16**4, outputs)``:
int16 levels times the array's ``step`` in ``meta["steps"]`` (the network outputs need finer levels than
int8). :func:`convert` transfers the authors' whole-module checkpoints (read by
``acutance.models.safe_pickle``, never executed) to tables as the authors' transfer script does: every
mapping network evaluated on all 16**4 inputs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.models.weights import check_scale, read_model_npz, write_model_npz

FORMAT = "acutance-splut-1"
LEVELS = 16
ENTRIES = LEVELS**4
BRANCHES = ("msb", "lsb")
KERNELS = ("221", "212")
CONTEXT = 3  # LR pixels of reach: the 2x2 first table and two series stages of one pixel each way
ACTIVATION_RANGE = 8.0

# The published sizes: channels of the first table; the stage-2 and stage-3 groups as (module name of the
# stage-2 table, of the stage-3 table, kernel, first channel): S reads the same 4 channels in both
# directions, M and L give each group its own; and what each branch's network saw for a 4-bit level, as
# (multiplier, divisor): S was trained on (level * 16) / 255 and level / 255, M and L on level / 16.
VARIANTS = {
    "S": (4, (("lut221", "lut221_c12", "221", 0), ("lut212", "lut212_c34", "212", 0)),
          {"msb": (16, 255), "lsb": (1, 255)}),
    "M": (8, (("lut221", "lut221_c12", "221", 0), ("lut212", "lut212_c34", "212", 4)),
          {"msb": (1, 16), "lsb": (1, 16)}),
    "L": (16, (("lut221", "lut221_c12", "221", 0), ("lut221_2", "lut221_c12_2", "221", 4),
               ("lut212", "lut212_c34", "212", 8), ("lut212_2", "lut212_c34_2", "212", 12)),
          {"msb": (1, 16), "lsb": (1, 16)}),
}


def level_inputs(multiplier: int, divisor: int) -> np.ndarray:
    """(16,) float32: the value a branch's network saw for each 4-bit level (rounded as float32 arithmetic)."""
    return (np.arange(LEVELS, dtype=np.float32) * np.float32(multiplier)) / np.float32(divisor)


@dataclass
class SplutModel:
    """A SPLUT model: ``tables[branch]`` is a list of stage arrays (groups, 16**4, outputs); ``stages`` the
    groups of each stage after the first (``[(kernel, first_channel), ...]``); ``steps[branch]`` the scale of
    each stage's integer tables (1.0 for float tables)."""

    scale: int
    channels: int
    stages: list[list[tuple[str, int]]]
    tables: dict[str, list[np.ndarray]]
    steps: dict[str, list[float]]
    inputs: dict[str, tuple[int, int]]  # branch -> (multiplier, divisor) of its levels (``level_inputs``)
    rotations: int = 1
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_model(self, "SPLUT model")

    @property
    def nbytes(self) -> int:
        return int(sum(t.nbytes for branch in self.tables.values() for t in branch))


def check_model(model: SplutModel, where: str) -> None:
    """Every shape and group consistent with the scale and channels; one-line ModelError naming the part."""
    if model.scale not in (2, 3, 4):
        raise ModelError(f"{where}: scale must be 2, 3 or 4, got {model.scale}")
    if model.rotations not in (1, 4):
        raise ModelError(f"{where}: rotations must be 1 or 4, got {model.rotations}")
    if not model.stages:
        raise ModelError(f"{where}: needs at least one series stage after the first table")
    for branch in BRANCHES:
        tables = model.tables.get(branch)
        if tables is None or len(tables) != len(model.stages) + 1:
            raise ModelError(f"{where}: branch {branch} needs {len(model.stages) + 1} stage tables")
        if len(model.steps.get(branch, ())) != len(tables):
            raise ModelError(f"{where}: branch {branch} needs one step per stage table")
        gain = model.inputs.get(branch)
        if gain is None or len(gain) != 2 or not all(isinstance(g, int) and g > 0 for g in gain):
            raise ModelError(f"{where}: branch {branch} needs its input levels as (multiplier, divisor)")
        for n, table in enumerate(tables):
            groups = 1 if n == 0 else len(model.stages[n - 1])
            outputs = model.scale**2 if n == len(model.stages) else model.channels
            expected = (groups, ENTRIES, outputs)
            if table.shape != expected:
                raise ModelError(f"{where}: {branch}_s{n} has shape {table.shape}, expected {expected}")
            if table.dtype not in (np.int16, np.float32):
                raise ModelError(f"{where}: {branch}_s{n} is {table.dtype}, expected int16 or float32")
    for n, groups in enumerate(model.stages, start=1):
        for kernel, first in groups:
            if kernel not in KERNELS or not 0 <= first <= model.channels - 4:
                raise ModelError(f"{where}: stage {n} group ({kernel}, {first}) is not a kernel of {KERNELS} "
                                 f"on 4 of the {model.channels} channels")


# --- running ------------------------------------------------------------------------------------------------


STRIP_BYTES = 8 << 20  # the most one task's channel map may hold (rows x width x channels float32)


def strip_rows(planes: int, height: int, width: int, channels: int, threads: int) -> int:
    """Output rows per task of the fused kernel: as tall as the byte budget allows (each stage recomputes a
    row of halo above and below a strip, so short strips repeat work: 32 rows cost 25 % more at 4 stages),
    in a count that divides the tasks evenly over the threads (3 planes on 2 threads: 2 strips each)."""
    cap = max(8, STRIP_BYTES // max(1, width * channels * 4))
    strips = 1
    while -(-height // strips) > cap or ((planes * strips) % threads and strips < height):
        strips += 1
    return -(-height // strips)


def _kernel_args(model: SplutModel) -> tuple:
    """The fused kernel's view of a model (the tables are not copied)."""
    from acutance.lut import splut_kernels as k

    width = max(len(groups) for groups in model.stages)
    kinds = np.zeros((len(model.stages), width), np.int64)
    firsts = np.zeros((len(model.stages), width), np.int64)
    for t, groups in enumerate(model.stages):
        for g, (kernel, first) in enumerate(groups):
            kinds[t, g], firsts[t, g] = k.KERNELS[kernel], first
    return (
        tuple(model.tables["msb"]), tuple(model.tables["lsb"]),
        np.array([model.steps[b] for b in BRANCHES], np.float32),
        np.stack([level_inputs(*model.inputs[b]) for b in BRANCHES]),
        kinds, firsts, np.array([len(groups) for groups in model.stages], np.int64),
    )  # fmt: skip


def run_planes(model: SplutModel, planes: np.ndarray) -> np.ndarray:
    """uint8 (n, H, W) planes (0-255) -> float32 (n, sH, sW) in [0, 1], one rotation."""
    from acutance.lut import splut_kernels as k

    values = np.ascontiguousarray(planes, dtype=np.uint8)
    n, h, w = values.shape
    mode = "reflect" if min(h, w) > 1 else "edge"  # numpy's reflect needs two pixels
    padded = np.pad(values, ((0, 0), (0, 1), (0, 1)), mode=mode)
    msb, lsb, steps, inputs, kinds, firsts, n_groups = _kernel_args(model)
    out = np.empty((n, h * model.scale, w * model.scale), np.float32)
    import numba

    strip = strip_rows(n, h, w, model.channels, numba.get_num_threads())
    k.run_fused(padded, model.scale, model.channels, msb, lsb, steps, inputs, kinds, firsts, n_groups, strip, out)
    return out


def run_channel(model: SplutModel, channel: np.ndarray) -> np.ndarray:
    """uint8-valued HxW (0-255) -> float32 (sH)x(sW) in [0, 1], one rotation."""
    return run_planes(model, np.asarray(channel)[None])[0]


def upscale(model: SplutModel, rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1] -> float32 (sH)x(sW)x3 RGB in [0, 1]."""
    check_rgb(rgb)
    planes = np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(2, 0, 1)  # 8-bit levels
    if model.rotations == 1:
        return run_planes(model, planes).transpose(1, 2, 0)
    total = None
    for turn in range(4):
        result = np.rot90(run_planes(model, np.rot90(planes, turn, axes=(1, 2))), -turn, axes=(1, 2))
        total = result if total is None else total + result
    return (total / np.float32(4.0)).transpose(1, 2, 0)


# --- the file ---------------------------------------------------------------------------------------------


def save_model(model: SplutModel, path: str | os.PathLike) -> Path:
    """Write the model file (npz, no pickle; ``meta`` says what every array is)."""
    meta = {
        **{k: v for k, v in model.meta.items()
           if k not in ("format", "scale", "channels", "stages", "steps", "inputs", "rotations")},
        "format": FORMAT,
        "scale": model.scale,
        "channels": model.channels,
        "stages": [[[kernel, first] for kernel, first in groups] for groups in model.stages],
        "steps": {branch: [float(s) for s in model.steps[branch]] for branch in BRANCHES},
        "inputs": {branch: list(model.inputs[branch]) for branch in BRANCHES},
        "rotations": model.rotations,
        "branches": list(BRANCHES),
        "levels": LEVELS,
    }
    arrays = {f"{branch}_s{n}": table for branch in BRANCHES for n, table in enumerate(model.tables[branch])}
    return write_model_npz(path, meta, arrays)


def save_atomically(model: SplutModel, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """:func:`save_model` through a temp file, renamed into place (``acutance.io.atomic_write_bytes``)."""
    import tempfile

    from acutance.io import atomic_write_bytes

    with tempfile.TemporaryDirectory() as folder:
        temp = save_model(model, Path(folder) / "model.npz")
        return atomic_write_bytes(path, temp.read_bytes(), overwrite=overwrite)


def read(path: str | os.PathLike) -> SplutModel:
    """Read a SPLUT model file strictly: every array present with the shape ``meta`` implies."""
    meta, arrays = read_model_npz(path, FORMAT, "SPLUT model file")
    where = str(path)
    try:
        scale, channels = int(meta["scale"]), int(meta["channels"])
        stages = [[(str(kernel), int(first)) for kernel, first in groups] for groups in meta["stages"]]
        steps = {branch: [float(s) for s in meta["steps"][branch]] for branch in BRANCHES}
        inputs = {branch: tuple(int(g) for g in meta["inputs"][branch]) for branch in BRANCHES}
        rotations = int(meta.get("rotations", 1))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{where}: bad SPLUT meta ({type(error).__name__}: {error})") from None
    tables = {}
    for branch in BRANCHES:
        tables[branch] = []
        for n in range(len(stages) + 1):
            name = f"{branch}_s{n}"
            if name not in arrays:
                raise ModelError(f"{where}: SPLUT model file without table {name} (has {sorted(arrays)})")
            tables[branch].append(arrays[name])
    model = SplutModel.__new__(SplutModel)
    model.scale, model.channels, model.stages, model.tables = scale, channels, stages, tables
    model.steps, model.inputs, model.rotations, model.meta = steps, inputs, rotations, meta
    check_model(model, where)
    return model


load_model_file = read


def describe(meta: dict) -> dict:
    """The descriptor facts of a SPLUT file, from its ``meta`` alone."""
    scale = int(meta["scale"])
    return {"task": "upscale", "scales": (scale,), "input": "rgb", "context": CONTEXT, "default_scale": float(scale)}


@dataclass(frozen=True)
class SplutEnhancer:
    """A loaded SPLUT model as an enhancer: ``model(rgb, scale) -> rgb`` with ``.info``."""

    info: ModelInfo
    model: SplutModel

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        check_scale(self.info, self.model.scale, scale)
        return upscale(self.model, rgb)


Enhancer = SplutEnhancer


# --- the authors' checkpoints -------------------------------------------------------------------------------


def _mlp(state: Mapping[str, np.ndarray], name: str, where: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The conv layers of one mapping network ``name.{0,2,4,...}``: (weight as out x in, bias)."""
    indices = sorted({int(m.group(1)) for key in state if (m := re.match(rf"{re.escape(name)}\.(\d+)\.weight$", key))})
    if not indices:
        raise ModelError(f"{where}: no {name}.* tensors: a SPLUT branch has lut122, lut221, lut212, lut221_c12 "
                         "and lut212_c34 (and their _2 twins in SPLUT-L)")
    layers = []
    for i in indices:
        weight, bias = state[f"{name}.{i}.weight"], state.get(f"{name}.{i}.bias")
        if bias is None or weight.ndim != 4 or bias.shape != (weight.shape[0],):
            raise ModelError(f"{where}: {name}.{i} is not a convolution with a bias (weight {weight.shape})")
        layers.append((np.asarray(weight, np.float64).reshape(weight.shape[0], -1), np.asarray(bias, np.float64)))
    if layers[0][0].shape[1] != 4:
        raise ModelError(f"{where}: {name}.0 reads {layers[0][0].shape[1]} values, a SPLUT table reads 4")
    for (w0, _), (w1, _) in zip(layers, layers[1:]):
        if w1.shape[1] != w0.shape[0]:
            raise ModelError(f"{where}: {name} layers do not chain ({w0.shape} then {w1.shape})")
    return layers


def _transfer(layers, inputs: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """The network on every input row (N x 4), GELU between the layers, as the authors' transfer does."""
    from acutance.lut.splut_kernels import gelu

    out = np.empty((inputs.shape[0], layers[-1][0].shape[0]), np.float32)
    for start in range(0, inputs.shape[0], chunk):
        h = inputs[start : start + chunk]
        for n, (weight, bias) in enumerate(layers):
            h = (gelu(h) if n else h) @ weight.T + bias
        out[start : start + chunk] = h
    return out


def _grid(values: np.ndarray) -> np.ndarray:
    a, b, c, d = np.meshgrid(values, values, values, values, indexing="ij")  # a slowest: row = ((aL+b)L+c)L+d
    return np.stack([a.ravel(), b.ravel(), c.ravel(), d.ravel()], axis=1).astype(np.float64)


def variant_of(state: Mapping[str, np.ndarray], where: str) -> str:
    """S, M or L from the first table's outputs and the module names (one line naming what was found)."""
    if "lut122.4.weight" not in state:
        raise ModelError(f"{where}: not a SPLUT branch (no lut122.4.weight; keys: {', '.join(list(state)[:5])})")
    channels = int(state["lut122.4.weight"].shape[0])
    for name, (want, groups, _) in VARIANTS.items():
        if channels == want:
            missing = sorted({n for g in groups for n in g[:2] if f"{n}.0.weight" not in state})
            if missing:
                raise ModelError(f"{where}: a SPLUT-{name} branch ({channels} channels) without {', '.join(missing)}")
            return name
    raise ModelError(f"{where}: lut122 gives {channels} channels; SPLUT-S/M/L give 4/8/16")


def scale_of(state: Mapping[str, np.ndarray], variant: str, where: str) -> int:
    """The upscaling factor of a branch: its last tables give scale**2 outputs."""
    name = VARIANTS[variant][1][0][1]
    last = max(int(m.group(1)) for key in state if (m := re.match(rf"{name}\.(\d+)\.weight$", key)))
    outputs = int(state[f"{name}.{last}.weight"].shape[0])
    scale = int(round(outputs**0.5))
    if scale * scale != outputs or scale not in (2, 3, 4):
        raise ModelError(f"{where}: {name} gives {outputs} outputs, not scale**2 for x2, x3 or x4")
    return scale


def tables_of(state: Mapping[str, np.ndarray], where: str, branch: str) -> list[np.ndarray]:
    """The stage tables, float32 (groups, 16**4, outputs), of one branch's state dict (the authors' transfer)."""
    variant = variant_of(state, where)
    channels, groups, inputs = VARIANTS[variant]
    first = _transfer(_mlp(state, "lut122", where), _grid(level_inputs(*inputs[branch]).astype(np.float64)))
    series = _grid((np.arange(LEVELS) - LEVELS / 2) * (2 * ACTIVATION_RANGE / LEVELS))
    middle = np.stack([_transfer(_mlp(state, g[0], where), series) for g in groups])
    last = np.stack([_transfer(_mlp(state, g[1], where), series) for g in groups])
    if first.shape[1] != channels or middle.shape[2] != channels:
        raise ModelError(f"{where}: SPLUT-{variant} stage outputs {first.shape[1]}/{middle.shape[2]}, expected {channels}")
    return [first[None], middle, last]


def _quantise(table: np.ndarray) -> tuple[np.ndarray, float]:
    """int16 levels and their step: the step a power of two that keeps the table's largest value."""
    peak = float(np.max(np.abs(table))) or 1.0
    step = 2.0 ** np.ceil(np.log2(peak / 32767.0))
    return np.round(table / step).astype(np.int16), float(step)


def read_branch(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The state dict of one of the authors' checkpoints (a whole pickled module), never executed."""
    from acutance.models.safe_pickle import SafePickleError, read_tensors

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"SPLUT checkpoint {path} not found")
    try:
        obj, _ = read_tensors(path)
    except SafePickleError as error:
        raise ModelError(f"{path}: cannot read the SPLUT checkpoint: not a torch checkpoint, or corrupt ({error})") from None
    from acutance.deep.checkpoint import unwrap

    return unwrap(obj, where=str(path))


def convert(path_a: str | os.PathLike, path_b: str | os.PathLike, *, name: str | None = None,
            dtype: str = "int16", variant: str | None = None, scale: int | None = None) -> SplutModel:
    """The authors' two branch checkpoints (model G_A: the 4 MSBs, G_B: the 4 LSBs) as a SPLUT model.

    variant / scale: what the caller expects (``S``/``M``/``L``, 2/3/4); a checkpoint of another size or scale
    is a one-line ModelError, raised before the (slow) transfer, as is a pair from two different models."""
    if dtype not in ("int16", "float32"):
        raise ModelError(f"table dtype must be int16 or float32, got {dtype!r}")
    if Path(path_a).resolve() == Path(path_b).resolve():
        raise ModelError(f"{path_a}: given twice; SPLUT needs its two branches, model_G_A (MSB) and model_G_B (LSB)")
    if re.search(r"_G_B_", Path(path_a).name) and re.search(r"_G_A_", Path(path_b).name):
        raise ModelError(f"{path_a} is branch B and {path_b} branch A: give model_G_A first, then model_G_B")
    states, found = {}, {}
    for branch, path in zip(BRANCHES, (path_a, path_b)):
        states[branch] = read_branch(path)
        v = variant_of(states[branch], str(path))
        found[branch] = (v, scale_of(states[branch], v, str(path)))
        want_v, want_s = variant or found[branch][0], scale or found[branch][1]
        if found[branch] != (want_v, want_s):
            raise ModelError(f"{path}: a SPLUT-{v} x{found[branch][1]} checkpoint, expected SPLUT-{want_v} x{want_s}")
    if found["msb"] != found["lsb"]:
        (va, sa), (vb, sb) = found["msb"], found["lsb"]
        raise ModelError(f"{path_b}: a SPLUT-{vb} x{sb} branch, but {path_a} is SPLUT-{va} x{sa}: both branches "
                         "must come from the same model")
    va, sa = found["msb"]
    channels, groups, inputs = VARIANTS[va]
    stages = [[(g[2], g[3]) for g in groups] for _ in range(2)]
    tables, steps = {}, {}
    for branch, path in zip(BRANCHES, (path_a, path_b)):
        tables[branch], steps[branch] = [], []
        for table in tables_of(states[branch], str(path), branch):
            table, step = _quantise(table) if dtype == "int16" else (table, 1.0)
            tables[branch].append(np.ascontiguousarray(table))
            steps[branch].append(step)
    meta = {
        "name": name or f"splut-{va.lower()}",
        "summary": f"SPLUT-{va} x{sa} (Ma et al., ECCV 2022), converted from {Path(path_a).name} + {Path(path_b).name}",
        "licence": "the authors' checkpoints (zhjy2016/SPLUT): no licence stated",
        "variant": va,
        "source": [Path(path_a).name, Path(path_b).name],
    }
    return SplutModel(sa, channels, stages, tables, steps, dict(inputs), rotations=1, meta=meta)
