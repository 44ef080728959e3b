"""Training of LUT models (torch, CPU): tiny nets with restricted receptive fields, table conversion, and
LUT-aware fine-tuning of the tables. torch is imported lazily (the ``train`` extra); the runtime never needs it.

The forward pass mirrors ``acutance.lut.runtime`` exactly: per stage, each sampling pattern (S 2x2, D
dilated 2x2, Y) reads 4 pixels of the input rotated by 0/90/180/270 degrees (end-padded by edge
replication), a function of those 4 values gives ``s*s`` outputs, they are pixel-shuffled, rotated back and
summed over patterns and rotations, then ``clip(sum / divisor + bias [+ x], 0, 255)``, rounded between
stages (straight-through gradient). The function is either a small MLP (training, ``NetStage``) or the
4-simplex interpolation of a 17^4 table (fine-tuning, ``TableStage``); ``net_to_tables`` samples the MLP at
the 17^4 grid points (0, 16, ..., 256), so at inputs on the grid the table model equals the net exactly.

Data: HR crops from the training folder(s) and their protocol LR (MATLAB bicubic, 8-bit RGB), on MATLAB Y.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from acutance.errors import OptionError
from acutance.lut import kernels
from acutance.lut.runtime import LutModel, Stage
from acutance.options import RecipeConfig

L = kernels.LEVELS


@dataclass
class TrainConfig(RecipeConfig):
    """Options of ``acutance train lut`` (``--config FILE``, JSON or TOML; see ``RecipeConfig``)."""

    scale: int = 4
    method: str = "fit"  # "fit": least-squares tables (no torch); "net": MLPs -> tables
    patterns: list[str] = field(default_factory=lambda: ["s", "d", "y"])
    stages: int = 1  # total stages: stages - 1 residual 1x stages before the upscaling one
    # start from this model file instead of fitting/training (its stages; missing 1x stages are prepended as
    # the identity), then fine-tune: how a fitted single stage becomes a cascade
    init: str = ""
    # fit method
    lam: float = 1.0
    smooth: float = 0.0
    fit_iterations: int = 12
    max_images: int = 1000
    max_lr_pixels: int = 6_000_000
    transpose: bool = True
    # net method
    hidden: int = 64
    steps: int = 2000
    batch: int = 16
    crop: int = 48  # HR crop size (a multiple of the scale)
    lr: float = 1e-3
    # LUT-aware fine-tuning of the tables (both methods)
    finetune_steps: int = 0
    finetune_lr: float = 1e-2  # Adam step in table units (8-bit levels / number of summed outputs)
    # after fine-tuning a cascade, re-fit its last stage by least squares (fit options above) on what the
    # trained 1x stages output: CG iterations, 0 = off
    refit_iterations: int = 0

    def check(self) -> None:
        if self.method not in ("fit", "net"):
            raise OptionError(f"method must be 'fit' or 'net', got {self.method!r}")
        if self.scale not in (2, 3, 4):
            raise OptionError(f"scale must be 2, 3 or 4, got {self.scale}")
        if any(p not in kernels.PATTERNS for p in self.patterns):
            raise OptionError(f"patterns must be among {', '.join(kernels.PATTERNS)}")
        if self.crop % self.scale:
            raise OptionError(f"crop {self.crop} is not a multiple of the scale {self.scale}")
        if self.stages < 1:
            raise OptionError(f"stages must be at least 1, got {self.stages}")
        if self.method == "fit" and not self.init and self.stages > 1 and self.finetune_steps < 1:
            raise OptionError("a fitted cascade (stages > 1) trains its 1x stages by fine-tuning: set finetune_steps")
        if self.init and self.finetune_steps < 1 and self.refit_iterations < 1:
            raise OptionError("init starts from a model file: set finetune_steps or refit_iterations to train it")
        if self.refit_iterations > 0 and self.stages < 2:
            raise OptionError("refit_iterations re-fits the last stage of a cascade: it needs stages >= 2")


def _torch():
    from acutance.train.loop import require_torch

    return require_torch("LUT training")


# ---------------------------------------------------------------------------------------- forward pass


def _gather(x, pattern: str):
    """(B,1,H,W) -> (B,H,W,4): the pattern's 4 values per anchor, input end-padded by edge replication."""
    torch = _torch()
    height, width = x.shape[2], x.shape[3]
    padded = torch.nn.functional.pad(x, (0, kernels.PAD, 0, kernels.PAD), mode="replicate")
    return torch.stack(
        [padded[:, 0, di : di + height, dj : dj + width] for di, dj in kernels.PATTERNS[pattern]], dim=-1
    )


def _ensemble(x, fns, patterns, scale: int):
    """Sum over patterns and rotations of fn(4 values) -> s*s outputs, pixel-shuffled and rotated back."""
    torch = _torch()
    total = 0
    for fn, pattern in zip(fns, patterns):
        for r in range(4):
            xr = torch.rot90(x, r, (2, 3))
            values = _gather(xr, pattern)  # (B,h,w,4)
            out = fn(values)  # (B,h,w,s*s)
            b, h, w, _ = out.shape
            out = out.reshape(b, h, w, scale, scale).permute(0, 1, 3, 2, 4).reshape(b, 1, h * scale, w * scale)
            total = total + torch.rot90(out, -r, (2, 3))
    return total


def _finish(total, x, stage: Stage | dict, last: bool):
    """clip(sum / divisor + bias [+ x]), rounded with a straight-through gradient between stages."""
    torch = _torch()
    get = stage.__getitem__ if isinstance(stage, dict) else lambda k: getattr(stage, k)
    out = total / get("divisor") + get("bias")
    if get("residual"):
        out = out + x
    out = out.clamp(0.0, 255.0)
    if not last:
        out = out + (torch.round(out) - out).detach()
    return out


def simplex_interp(table, values):
    """Differentiable 4-simplex interpolation: table (17**4, C), values (..., 4) in [0, 255] -> (..., C).

    Gradients reach the table entries and the values (through the weights: piecewise linear).
    """
    torch = _torch()
    shape = values.shape[:-1]
    v = values.reshape(-1, 4)
    msb = torch.clamp(torch.floor(v.detach() / kernels.STEP), max=L - 2).long()
    lsb = v - msb * kernels.STEP
    strides = torch.tensor([L**3, L**2, L, 1], dtype=torch.long)
    base = (msb * strides).sum(1, keepdim=True)
    f, order = torch.sort(lsb, dim=1, descending=True)
    idx = torch.cat([base, base + torch.cumsum(strides[order], dim=1)], dim=1)  # (N,5)
    w = torch.cat([kernels.STEP - f[:, :1], f[:, :-1] - f[:, 1:], f[:, -1:]], dim=1)  # (N,5)
    out = (w.unsqueeze(-1) * table[idx]).sum(1) / kernels.STEP
    return out.reshape(*shape, table.shape[1])


def _mlp(hidden: int, n_out: int, init_mean: float):
    """4 values -> n_out: ``init_mean`` x (mean of the 4) plus a learned MLP (last layer zero: starts as prior)."""
    from acutance.train.loop import zero_last_mlp

    torch = _torch()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = zero_last_mlp([4, hidden, hidden, hidden, n_out])

        def forward(self, values):
            return values.mean(-1, keepdim=True) * init_mean + self.body(values / 255.0 - 0.5) * 64.0

    return Net()


class LutNet:
    """A cascade of stages of MLPs (``kind="net"``) or tables (``kind="table"``), as torch modules."""

    def __init__(self, stage_specs: list[dict], fns: list[list]):
        torch = _torch()
        self.specs = stage_specs
        self.fns = fns
        self.modules = torch.nn.ModuleList([m for stage in fns for m in stage if isinstance(m, torch.nn.Module)])

    def parameters(self):
        return self.modules.parameters()

    def __call__(self, x):
        for i, (spec, fns) in enumerate(zip(self.specs, self.fns)):
            total = _ensemble(x, fns, spec["patterns"], spec["scale"])
            x = _finish(total, x, spec, last=i == len(self.specs) - 1)
        return x


def build_net(config: TrainConfig) -> LutNet:
    """MLP stages: ``stages - 1`` residual 1x stages, then the upscaling stage (plain sums)."""
    specs, fns = [], []
    n_pat = len(config.patterns)
    for i in range(config.stages):
        last = i == config.stages - 1
        s = config.scale if last else 1
        specs.append(
            {"patterns": list(config.patterns), "scale": s, "divisor": 1.0, "bias": 0.0, "residual": not last}
        )
        # 1x stages start as the identity (residual, zero MLP); the upscaler as a 4-pixel mean
        prior = 1.0 / (4 * n_pat) if last else 0.0
        fns.append([_mlp(config.hidden, s * s, prior) for _ in config.patterns])
    return LutNet(specs, fns)


def net_to_tables(net: LutNet) -> list[np.ndarray]:
    """Sample every MLP at the 17^4 grid points (0, 16, ..., 256): float32 tables (P, 17**4, s*s) per stage."""
    torch = _torch()
    levels = torch.arange(L, dtype=torch.float32) * kernels.STEP
    grid = torch.stack(torch.meshgrid(levels, levels, levels, levels, indexing="ij"), dim=-1).reshape(-1, 4)
    out = []
    with torch.no_grad():
        for fns in net.fns:
            out.append(np.stack([np.concatenate([fn(chunk).numpy() for chunk in grid.split(65536)]) for fn in fns]))
    return [t.astype(np.float32) for t in out]


def table_net(model: LutModel) -> LutNet:
    """Torch tables (float, trainable) of a model; integer tables are divided by the stage divisor."""
    torch = _torch()
    specs, fns = [], []
    for stage in model.stages:
        specs.append(
            {"patterns": list(stage.patterns), "scale": stage.scale, "divisor": 1.0, "bias": stage.bias,
             "residual": stage.residual}
        )  # fmt: skip
        tables = [torch.nn.Parameter(torch.tensor(t.astype(np.float32) / stage.divisor)) for t in stage.tables]
        fns.append([_TableFn(t) for t in tables])
    net = LutNet(specs, fns)
    net.tables = [fn.table for stage in fns for fn in stage]
    return net


class _TableFn:
    def __init__(self, table):
        self.table = table

    def __call__(self, values):
        return simplex_interp(self.table, values)


def tables_to_model(net: LutNet, tables: list[np.ndarray], padding: str = "edge", meta: dict | None = None) -> LutModel:
    """Float tables (P, 17**4, s*s) per stage -> int8 ``LutModel`` (one scale and offset per stage)."""
    from acutance.lut.fit import quantise_stage

    stages = []
    for spec, table in zip(net.specs, tables):
        stage = quantise_stage(np.asarray(table, np.float64), spec["patterns"], spec["scale"])
        stage.bias += spec["bias"]
        stage.residual = bool(spec["residual"])
        stage.round = True
        stages.append(stage)
    return LutModel(stages, input="luma", padding=padding, meta=meta or {})


def _train_loop(net: LutNet, holder, pairs, config: TrainConfig, steps: int, lr: float, log, label: str,
                run: Path | None = None, progress: bool = False, stop_after: int | None = None):
    """Adam on ``holder``'s parameters (the nets or the tables of ``net``), MSE on 8-bit levels, on the loop of
    ``acutance.train`` (constant step; a checkpoint in ``run/label`` every 100 steps)."""
    from acutance.train.data import luma_batch
    from acutance.train.loop import LoopOptions, fit, run_files

    torch = _torch()
    rng = np.random.default_rng(config.seed + 1)

    def losses(step: int) -> dict:
        lr_np, hr_np = luma_batch(pairs, config.scale, config.crop, config.batch, rng)
        return {"mse": torch.mean((net(torch.from_numpy(lr_np)) - torch.from_numpy(hr_np)) ** 2)}

    options = LoopOptions(steps=steps, lr=lr, lr_min=lr, log_every=100, checkpoint_every=100)
    checkpoint, log_path = run_files(run / label) if run is not None else (None, None)
    return fit(holder, torch.optim.Adam(holder.parameters(), lr=lr), losses, options, rng=rng, checkpoint=checkpoint,
               log_path=log_path, name=f"lut {label}", progress=progress, stop_after=stop_after, log=log)


def add_identity_stages(model: LutModel, stages: int, patterns) -> LutModel:
    """Prepend residual 1x stages with zero tables (each passes its 8-bit input through unchanged) until the
    model has ``stages`` stages; fine-tuning then trains them jointly with the rest."""
    from acutance.lut.runtime import N_ENTRIES

    extra = stages - len(model.stages)
    if extra < 0:
        raise OptionError(f"the model has {len(model.stages)} stages, more than the {stages} asked for")
    zero = np.zeros((len(patterns), N_ENTRIES, 1), np.int8)
    new = [Stage(tuple(patterns), zero.copy(), scale=1, residual=True, round=True) for _ in range(extra)]
    return LutModel(new + list(model.stages), input=model.input, padding=model.padding, meta=dict(model.meta))


def finetune_tables(model: LutModel, pairs, config: TrainConfig, log=print, run: Path | None = None,
                    progress: bool = False, stop_after: int | None = None) -> LutModel:
    """LUT-aware fine-tuning: Adam on the table entries through the differentiable interpolation."""
    from acutance.train.loop import parameters_module

    torch = _torch()
    torch.manual_seed(config.seed)
    net = table_net(model)
    holder = parameters_module(net.tables)
    result = _train_loop(net, holder, pairs, config, config.finetune_steps, config.finetune_lr, log, "finetune", run,
                         progress, stop_after)
    if result.step < config.finetune_steps:
        from acutance.train.loop import Stopped

        raise Stopped(f"fine-tuning stopped at step {result.step}")
    tables = []
    i = 0
    for spec in net.specs:
        n = len(spec["patterns"])
        tables.append(np.stack([t.detach().numpy() for t in net.tables[i : i + n]]))
        i += n
    meta = dict(model.meta) | {"finetune_steps": config.finetune_steps}
    out = tables_to_model(net, tables, model.padding, meta)
    for stage, old in zip(out.stages, model.stages):
        stage.round = old.round
    return out


def train(config: TrainConfig, data_dirs: list[Path], log=print, run: Path | None = None, progress: bool = False,
          stop_after: int | None = None) -> LutModel:
    """Train a LUT model by the config's method on the images under ``data_dirs``.

    run: a run folder; each phase (fit, net training, fine-tuning, re-fit) resumes from it.
    stop_after: stop the gradient phases after this many steps of this call (tests).
    """
    from acutance.lut.runtime import load_model_file, save_model
    from acutance.train.data import find_images, luma_pairs
    from acutance.train.loop import RunLog, Stopped, open_recipe_run, resumable

    run = open_recipe_run(run, config, data_dirs)
    files = find_images(data_dirs)
    start = time.perf_counter()
    runlog = RunLog(run / "log.jsonl" if run is not None else None, log)
    fit_options = _fit_options(config)
    pairs = None

    def phase(name: str, compute):
        return resumable(run, f"{name}.npz", compute, save_model, load_model_file, log)

    try:
        if config.init:
            model = load_model_file(config.init)
            if model.scale != config.scale or model.input != "luma":
                raise OptionError(
                    f"init {config.init}: a x{model.scale} {model.input} model, expected x{config.scale} luma"
                )
            model.meta = {"init": {"file": Path(config.init).name, "meta": model.meta}}
        elif config.method == "fit":
            from acutance.lut.fit import fit_model

            model = phase("fit", lambda: fit_model(files, fit_options, log, runlog, progress))
        else:
            torch = _torch()
            torch.set_num_threads(config.threads)
            torch.manual_seed(config.seed)
            pairs = luma_pairs(files, config.scale, config.max_images, config.seed)
            net = build_net(config)

            def trained():
                result = _train_loop(net, net.modules, pairs, config, config.steps, config.lr, log, "net", run,
                                     progress, stop_after)
                if result.step < config.steps:
                    raise Stopped(f"net training stopped at step {result.step}")
                return tables_to_model(net, net_to_tables(net), "edge", {"method": "MLP nets -> tables, int8"})

            model = phase("net", trained)
        if config.stages > len(model.stages):
            model = add_identity_stages(model, config.stages, config.patterns)
        if config.finetune_steps > 0:
            torch = _torch()
            torch.set_num_threads(config.threads)
            pairs = pairs or luma_pairs(files, config.scale, config.max_images, config.seed)

            model = phase("finetune", lambda model=model: finetune_tables(model, pairs, config, log, run, progress,
                                                                          stop_after))
        if config.refit_iterations > 0:
            from acutance.lut.fit import refit_last_stage

            refit = replace(fit_options, iterations=config.refit_iterations)
            model = phase("refit", lambda model=model: refit_last_stage(model, files, refit, log, runlog, progress))
    finally:
        runlog.close()
    model.meta |= {"config": asdict(config), "train_seconds_total": round(time.perf_counter() - start, 1)}
    return model


def _fit_options(config: TrainConfig):
    from acutance.lut.fit import FitOptions

    return FitOptions(
        scale=config.scale, patterns=tuple(config.patterns), lam=config.lam, smooth=config.smooth,
        iterations=config.fit_iterations, max_images=config.max_images, max_lr_pixels=config.max_lr_pixels,
        transpose=config.transpose, seed=config.seed,
    )  # fmt: skip
