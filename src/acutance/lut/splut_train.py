"""Training of our own SPLUT models (``acutance.lut.splut``): a differentiable SPLUT-shaped network in torch,
trained on the loop of ``acutance.train``, then transferred to the runtime's tables.

The network mirrors the runtime exactly (``splut_kernels``): each 8-bit value is split into its 4 MSBs and
4 LSBs; per branch, a first mapping network reads the 2x2 window of 4-bit levels and gives ``channels``
values plus the pixel's base (``inputs``: ``msb * 16 / 255`` and ``lsb / 255``, so the two bases add up to
the input pixel); each series stage sums channel pairs shifted by one pixel, quantises the sums to 16 levels
on [-8, 8) (straight-through gradient), and averages its groups' networks (plus its input for a middle stage,
plus the base for the last, which gives ``scale**2`` outputs). The branches are added, pixel-shuffled and
clipped to [0, 1]. The mapping networks are small MLPs (4 inputs, ReLU); since every table input is one of
16 levels, the transfer evaluates each network on all 16**4 inputs: at those inputs the tables equal the
network, so the shipped file scores what the network scored (up to the int16 rounding).

Data: HR crops of the training folders and their protocol LR (MATLAB bicubic), on MATLAB Y rounded to 8 bits
(the runtime runs each RGB channel through the same tables); MSE on [0, 1]. The last layer of every network
starts at zero, so training starts from nearest-neighbour upscaling.

Usage (torch, CPU, one thread)::

    acutance train splut --data DIR [--data DIR2] -o splut-x4.npz [--scale 4] [--steps N] [--minutes M]
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from acutance.errors import OptionError
from acutance.lut.splut import BRANCHES, ENTRIES, KERNELS, LEVELS, SplutModel, _quantise
from acutance.options import RecipeConfig

INPUTS = {"msb": (16, 255), "lsb": (1, 255)}  # the two bases add up to the 8-bit value / 255


@dataclass
class SplutConfig(RecipeConfig):
    """Options of ``acutance train splut`` (``--config FILE``, JSON or TOML; see ``RecipeConfig``)."""

    scale: int = 4
    channels: int = 8
    # the groups (kernel, first channel) of each series stage after the first table
    stages: list = field(default_factory=lambda: [[["221", 0], ["212", 4]], [["221", 0], ["212", 4]]])
    hidden: int = 48  # width of the mapping networks (two hidden layers)
    steps: int = 20000
    minutes: float = 0.0  # stop after this training time (0: none); the learning-rate schedule then runs on time
    batch: int = 16
    crop: int = 96  # HR crop side (a multiple of the scale)
    lr: float = 2e-3
    lr_min: float = 1e-5
    max_images: int = 1000
    checkpoint_every: int = 200

    def check(self) -> None:
        if self.scale not in (2, 3, 4):
            raise OptionError(f"scale must be 2, 3 or 4, got {self.scale}")
        if self.crop % self.scale or self.crop // self.scale < 4:
            raise OptionError(f"crop {self.crop} must be a multiple of the scale {self.scale}, at least 4 LR pixels")
        if self.channels < 4 or self.hidden < 1:
            raise OptionError("channels must be >= 4 and hidden >= 1")
        if not self.stages or not all(self.stages):
            raise OptionError("stages: at least one series stage, each with at least one group")
        for groups in self.stages:
            for group in groups:
                if (len(group) != 2 or group[0] not in KERNELS or not isinstance(group[1], int)
                        or not 0 <= group[1] <= self.channels - 4):
                    raise OptionError(f"stage group {group}: expected [kernel in {KERNELS}, first channel "
                                      f"0..{self.channels - 4}]")


def _torch():
    from acutance.train.loop import require_torch

    return require_torch("SPLUT training")


def _reflect_index(n: int, shift: int):
    """Indices i + shift with numpy's ``reflect`` outside [0, n) (the runtime's ``_reflect``)."""
    torch = _torch()
    i = torch.arange(n) + shift
    i = torch.where(i < 0, -i, i)
    i = torch.where(i >= n, 2 * (n - 1) - i, i)
    return i.clamp(0, n - 1)


def _mlp(n_in: int, hidden: int, n_out: int, gain: float):
    from acutance.train.loop import zero_last_mlp

    torch = _torch()

    class Net(torch.nn.Module):
        """4 table inputs -> n_out; inputs are scaled by ``gain`` (levels to about [-1, 1])."""

        def __init__(self):
            super().__init__()
            self.body = zero_last_mlp([n_in, hidden, hidden, n_out])
            self.gain = gain

        def forward(self, values):
            return self.body(values * self.gain)

    return Net()


def build_net(config: SplutConfig):
    """The SPLUT network: ``net.branches[b]`` = ModuleList(first, *series stages (ModuleList of groups))."""
    torch = _torch()

    class Branch(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = _mlp(4, config.hidden, config.channels, 2.0 / (LEVELS - 1))
            self.series = torch.nn.ModuleList(
                torch.nn.ModuleList(
                    _mlp(4, config.hidden, config.scale**2 if n == len(config.stages) - 1 else config.channels, 1 / 8)
                    for _ in groups)
                for n, groups in enumerate(config.stages))  # fmt: skip

    class Splut(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.branches = torch.nn.ModuleDict({b: Branch() for b in BRANCHES})

        def forward(self, lr):
            return forward(self, lr, config)

    return Splut()


def _series_inputs(x, kind: str, c0: int):
    """(B, H, W, C) -> (B, H, W, 4): the 4 sums a group reads (``splut_kernels.add_group``), before quantising."""
    h, w = x.shape[1], x.shape[2]
    axis = 1 if kind == "221" else 2
    n = h if axis == 1 else w
    before, after = _reflect_index(n, -1), _reflect_index(n, 1)
    ch = [x[..., c0 + k] for k in range(4)]
    sel = lambda t, idx: t.index_select(axis, idx)  # noqa: E731
    a = ch[0] + sel(ch[2], before)
    b = sel(ch[0], after) + ch[2]
    c = ch[1] + sel(ch[3], before)
    d = sel(ch[1], after) + ch[3]
    return _torch().stack([a, b, c, d], dim=-1)


def _levels(y):
    """floor(clip(y, -8, 7.99)) (the table entry minus 8), with a straight-through gradient."""
    y = y.clamp(-8.0, 7.99)
    return y + (y.floor() - y).detach()


def _branch(branch, levels, base, config: SplutConfig):
    """levels (B, H, W) 0..15 (float), base (B, H, W) -> (B, H, W, scale**2)."""
    torch = _torch()
    h, w = levels.shape[1], levels.shape[2]
    down, right = _reflect_index(h, 1), _reflect_index(w, 1)
    rows = levels.index_select(1, down)
    window = torch.stack([levels, levels.index_select(2, right), rows, rows.index_select(2, right)], dim=-1)
    x = branch.first(window - (LEVELS - 1) / 2) + base[..., None]
    for n, (groups, nets) in enumerate(zip(config.stages, branch.series)):
        total = sum(net(_levels(_series_inputs(x, kind, c0))) for (kind, c0), net in zip(groups, nets))
        x = total / len(groups) + (base[..., None] if n == len(config.stages) - 1 else x)
    return x


def forward(net, lr, config: SplutConfig):
    """lr (B, 1, h, w) 8-bit values 0-255 -> (B, 1, s*h, s*w) in [0, 1], as the runtime computes it."""
    torch = _torch()
    values = lr[:, 0]
    msb, lsb = torch.floor(values / 16), values - 16 * torch.floor(values / 16)
    out = 0
    for name, levels in (("msb", msb), ("lsb", lsb)):
        multiplier, divisor = INPUTS[name]
        out = out + _branch(net.branches[name], levels, levels * multiplier / divisor, config)
    out = out.permute(0, 3, 1, 2)  # channel dy * s + dx, as torch's pixel shuffle reads it
    return torch.nn.functional.pixel_shuffle(out, config.scale).clamp(0.0, 1.0)


def to_model(net, config: SplutConfig, meta: dict) -> SplutModel:
    """Every mapping network on all 16**4 inputs: int16 tables (the runtime adds the bases)."""
    torch = _torch()
    grid = torch.stack(torch.meshgrid(*[torch.arange(LEVELS, dtype=torch.float32)] * 4, indexing="ij"), -1)
    grid = grid.reshape(ENTRIES, 4)  # row ((a*16 + b)*16 + c)*16 + d
    tables, steps = {}, {}
    with torch.no_grad():
        for name in BRANCHES:
            branch = net.branches[name]
            stack = [branch.first(grid - (LEVELS - 1) / 2).numpy()[None]]
            stack += [np.stack([g(grid - LEVELS / 2).numpy() for g in nets]) for nets in branch.series]
            tables[name], steps[name] = [], []
            for table in stack:
                q, step = _quantise(table.astype(np.float32))
                tables[name].append(np.ascontiguousarray(q))
                steps[name].append(step)
    stages = [[(str(k), int(c)) for k, c in groups] for groups in config.stages]
    return SplutModel(config.scale, config.channels, stages, tables, steps, dict(INPUTS), rotations=1, meta=meta)


def train(config: SplutConfig, data_dirs: list[Path], log=print, run: Path | None = None, progress: bool = False,
          stop_after: int | None = None, pairs=None) -> SplutModel:
    """Adam with a cosine schedule on the loop of ``acutance.train``; returns the transferred model.

    run: a run folder (checkpoint every ``checkpoint_every`` steps, log.jsonl); a rerun resumes from it and
    ends with the same weights. stop_after: stop after this many steps of this call (``Stopped``; tests).
    pairs: (lr, hr) luma pairs instead of reading ``data_dirs`` (tests).
    """
    from acutance.train.data import find_images, luma_batch, luma_pairs
    from acutance.train.loop import LoopOptions, begin_recipe, fit

    torch, run = begin_recipe(config, run, data_dirs, "SPLUT training")
    start = time.perf_counter()
    if pairs is None:
        pairs = luma_pairs(find_images(data_dirs), config.scale, config.max_images, config.seed)
        log(f"{len(pairs)} training images loaded ({time.perf_counter() - start:.0f} s)")
    net = build_net(config)
    rng = np.random.default_rng(config.seed + 1)

    def losses(step: int) -> dict:
        lr_np, hr_np = luma_batch(pairs, config.scale, config.crop, config.batch, rng)
        lr_t = torch.from_numpy(np.rint(lr_np).clip(0, 255).astype(np.float32))  # 8-bit levels, as the runtime sees
        return {"mse": torch.mean((net(lr_t) - torch.from_numpy(hr_np.astype(np.float32)) / 255.0) ** 2)}

    options = LoopOptions(steps=config.steps, lr=config.lr, lr_min=config.lr_min, warmup=min(200, config.steps // 10),
                          log_every=100, checkpoint_every=config.checkpoint_every, time_limit_s=config.minutes * 60)
    result = fit(net, torch.optim.Adam(net.parameters(), lr=config.lr), losses, options, rng=rng,
                 run=run, config=config, name=f"splut x{config.scale}",
                 progress=progress, stop_after=stop_after, log=log)
    if not result.finished:
        from acutance.train.loop import Stopped

        raise Stopped(f"SPLUT training stopped at step {result.step}; run it again to continue")
    meta = {
        "name": f"splut-x{config.scale}",
        "summary": f"SPLUT x{config.scale} trained here ({config.channels} channels, {len(config.stages)} series "
                   "stages), MLPs transferred to int16 tables",
        "method": "SPLUT-shaped MLP network (straight-through quantisation), MSE on 8-bit Y, tables by transfer",
        "config": asdict(config), "steps": result.step, "train_seconds": round(result.seconds, 1),
    }  # fmt: skip
    return to_model(result.model, config, meta)
