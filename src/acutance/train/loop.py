"""The one training loop of acutance: every gradient-trained model (deep SR, edge-SR, LUT nets and tables,
LeRF tables, the face restorer, the face-quality regressor) is a recipe that hands it a module, an optimiser
and a function giving one step's losses.

What the loop does for all of them:
- the learning rate: linear warm-up, then cosine decay from ``lr`` to ``lr_min`` over the steps (or over the
  time limit, whichever is further); every parameter group keeps its own ratio to ``lr``;
- an exponential moving average of the weights (``ema`` > 0), which is then the result;
- validation every ``val_every`` steps on a held-out split (the recipe's ``validate``), optionally keeping the
  best state (``keep_best``);
- a checkpoint every ``checkpoint_every`` steps: weights, EMA, best state, optimiser(s), the numpy and torch
  random states, the step and the log so far, in one safetensors file (``acutance.train.checkpoint``); a
  rerun with the same config continues from it and ends with the same weights, bit for bit, as a run that was
  never interrupted;
- progress with an ETA (tqdm) and a JSON-lines log of the running losses, learning rate and validation.

Trainers that are not gradient descent (RAISR/BLADE normal equations, the LUT least-squares fit) use the same
log (``RunLog``) and resume by whole phases (``resumable``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from acutance.errors import OptionError
from acutance.train import checkpoint as ckpt


@dataclass(frozen=True)
class LoopOptions:
    steps: int
    lr: float
    lr_min: float = 0.0  # cosine decay from lr to lr_min (lr_min = lr: a constant rate)
    warmup: int = 0  # steps of linear warm-up before the decay
    ema: float = 0.0  # decay of the weights' moving average (0: off)
    checkpoint_every: int = 0  # 0: only when the run stops
    val_every: int = 0  # 0: validate only at the end (when there is a validate function)
    log_every: int = 100
    keep_best: bool = False  # the result is the best validated state, not the last
    time_limit_s: float = 0.0  # stop after this much training time (0: none); the schedule then runs on time
    threads: int = 0  # torch threads (0: leave torch's setting)

    def __post_init__(self) -> None:
        if self.steps < 1 or not self.lr > 0 or self.lr_min < 0 or self.warmup < 0 or not 0 <= self.ema < 1:
            raise OptionError("steps >= 1, lr > 0, lr_min >= 0, warmup >= 0 and 0 <= ema < 1 are required")


def lr_at(step: int, options: LoopOptions, seconds: float = 0.0) -> float:
    """The learning rate of (0-based) ``step``: warm-up, then cosine from ``lr`` to ``lr_min``."""
    if step < options.warmup:
        return options.lr * (step + 1) / options.warmup
    progress = (step - options.warmup) / max(1, options.steps - options.warmup)
    if options.time_limit_s:
        progress = max(progress, seconds / options.time_limit_s)
    return options.lr_min + 0.5 * (options.lr - options.lr_min) * (1 + math.cos(math.pi * min(1.0, progress)))


class RunLog:
    """A run's JSON-lines log (appended to, so a resumed run continues it) and its one-line messages."""

    def __init__(self, path: str | os.PathLike | None, log: Callable[[str], None] | None = print) -> None:
        self.path = Path(path) if path is not None else None
        self.log = log or (lambda line: None)
        self._file = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def record(self, message: str | None = None, **values) -> None:
        if self._file is not None:
            self._file.write(json.dumps(values) + "\n")
            self._file.flush()
        if message:
            self.log(message)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def run_files(folder: str | os.PathLike) -> tuple[Path, Path]:
    """The checkpoint and the log of a run folder."""
    folder = Path(folder)
    return folder / "checkpoint.safetensors", folder / "log.jsonl"


def resumable(folder: str | os.PathLike | None, name: str, compute: Callable[[], Any],
              save: Callable[[Any, Path], Any], load: Callable[[Path], Any], log=print) -> Any:
    """A phase of a run that is done once: ``compute()``'s result is saved as ``folder/name`` (atomically) and
    read back by ``load`` when the run is started again. No folder: just ``compute()``."""
    if folder is None:
        return compute()
    path = Path(folder) / name
    if path.is_file():
        log(f"resuming: {path} is done")
        return load(path)
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.partial{path.suffix}")
    save(result, temp)
    os.replace(temp, path)
    return result


class Stopped(Exception):
    """A run ended early by ``stop_after`` inside a phased recipe: its unfinished phase is not saved as done;
    starting the run again continues it."""


@dataclass
class FitResult:
    model: Any  # the trained module: the EMA, or the best state, or the last
    step: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    best: dict | None = None  # {"step", **validation} of the kept state (keep_best)

    @property
    def finished(self) -> bool:
        return self.history[-1].get("finished", False) if self.history else False


def fit(
    net,
    optimiser,
    step_losses: Callable[[int], dict],
    options: LoopOptions,
    *,
    rng: np.random.Generator | None = None,
    checkpoint: str | os.PathLike | None = None,
    log_path: str | os.PathLike | None = None,
    run: str | os.PathLike | None = None,
    config: dict | Any = None,
    validate: Callable[[Any], dict] | None = None,
    after_step: Callable[[int], dict] | None = None,
    extra: dict | None = None,
    data_state: Any = None,
    name: str = "train",
    progress: bool = True,
    stop_after: int | None = None,
    log: Callable[[str], None] | None = print,
) -> FitResult:
    """Train ``net`` with ``optimiser``; ``step_losses(step)`` returns one step's loss terms (torch scalars),
    whose sum is back-propagated.

    rng: the recipe's data generator (its state is checkpointed). checkpoint / log_path: files (None: none);
    run: a run folder instead, holding both (``run_files``). config: what a resumed run must have been started
    with (a dict, or a recipe's config dataclass; else an OptionError). validate(model) -> {name:
    value} (the first value is the score, higher is better). after_step(step) -> more logged terms (e.g. a
    discriminator's update). extra: more modules and optimisers to checkpoint, by name. data_state: an object
    with ``state_dict()`` / ``load_state_dict()`` (numpy arrays and JSON values) for data with memory (pools).
    stop_after: stop after this many steps of this call (a checkpoint is written), e.g. for tests.
    """
    import torch

    if options.threads:
        torch.set_num_threads(options.threads)
    if run is not None:
        checkpoint, log_path = run_files(run)
    if is_dataclass(config):
        config = asdict(config)
    extra = dict(extra or {})
    ema = copy.deepcopy(net).requires_grad_(False) if options.ema > 0 else None
    for group in optimiser.param_groups:
        group.setdefault("base_ratio", group["lr"] / options.lr)
    step, seconds, history, best, best_state, sums, count = 0, 0.0, [], None, None, {}, 0
    config_json = json.dumps(config, sort_keys=True, default=str) if config is not None else None

    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.is_file():
        tensors, meta = ckpt.load(checkpoint)
        if config_json is not None and meta.get("config") != config_json:
            saved, now = json.loads(meta.get("config") or "null"), json.loads(config_json)
            keys = sorted(k for k in now if saved.get(k) != now[k]) if isinstance(saved, dict) else []
            what = f"[{', '.join(keys)}] " if keys else ""
            raise OptionError(f"{checkpoint} was trained with another {what}config; use a new output folder")
        net.load_state_dict(ckpt.module_state("net", tensors))
        optimiser.load_state_dict(ckpt.optimiser_state("optimiser", tensors, meta["optimiser"]))
        if ema is not None:
            ema.load_state_dict(ckpt.module_state("ema", tensors))
        for key, obj in extra.items():
            if isinstance(obj, torch.optim.Optimizer):
                obj.load_state_dict(ckpt.optimiser_state(f"extra.{key}", tensors, meta["extra"][key]))
            else:
                obj.load_state_dict(ckpt.module_state(f"extra.{key}", tensors))
        if meta.get("best") is not None:
            best, best_state = meta["best"], ckpt.module_state("best", tensors)
        if rng is not None:
            rng.bit_generator.state = meta["rng"]
        if data_state is not None:
            arrays = {k[len("data.") :]: v.numpy() for k, v in tensors.items() if k.startswith("data.")}
            data_state.load_state_dict(arrays, meta["data"])
        torch.set_rng_state(tensors["rng.torch"])
        step, seconds, history = int(meta["step"]), float(meta["seconds"]), meta["history"]
        sums, count = meta["sums"], int(meta["count"])
        if log:
            log(f"resuming {checkpoint} at step {step}")

    def save_checkpoint() -> None:
        tensors = ckpt.module_tensors("net", net.state_dict())
        parts, rest = ckpt.optimiser_parts("optimiser", optimiser.state_dict())
        tensors |= parts
        meta = {"optimiser": rest, "extra": {}}
        if ema is not None:
            tensors |= ckpt.module_tensors("ema", ema.state_dict())
        for key, obj in extra.items():
            if isinstance(obj, torch.optim.Optimizer):
                parts, meta["extra"][key] = ckpt.optimiser_parts(f"extra.{key}", obj.state_dict())
                tensors |= parts
            else:
                tensors |= ckpt.module_tensors(f"extra.{key}", obj.state_dict())
        if best_state is not None:
            tensors |= ckpt.module_tensors("best", best_state)
        if data_state is not None:
            arrays, meta["data"] = data_state.state_dict()
            tensors |= {f"data.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
        tensors["rng.torch"] = torch.get_rng_state()
        meta |= {
            "config": config_json, "step": step, "seconds": seconds, "history": history, "best": best,
            "sums": sums, "count": count, "rng": rng.bit_generator.state if rng is not None else None,
        }  # fmt: skip
        ckpt.save(checkpoint, tensors, meta)

    def validated() -> dict:
        nonlocal best, best_state
        model = ema if ema is not None else net
        was_training = model.training
        model.eval()
        with torch.no_grad():
            scores = validate(model)
        model.train(was_training)
        score = next(iter(scores.values()))
        if options.keep_best and (best is None or score > next(v for k, v in best.items() if k != "step")):
            best = {"step": step, **scores}
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return scores

    from tqdm import tqdm

    def show(line: str) -> None:  # a message between progress-bar updates, not through them
        with tqdm.external_write_mode():
            log(line)

    runlog = RunLog(log_path, show if log and progress else log)
    last = min(options.steps, step + stop_after) if stop_after else options.steps
    bar = tqdm(total=options.steps, initial=step, desc=name, disable=not progress, unit="step", leave=False)
    net.train()
    timed_out = False
    try:
        while step < last and not timed_out:
            started = time.perf_counter()
            rate = lr_at(step, options, seconds)
            for group in optimiser.param_groups:
                group["lr"] = rate * group["base_ratio"]
            terms = step_losses(step)
            total = sum(terms.values())
            optimiser.zero_grad(set_to_none=True)
            total.backward()
            optimiser.step()
            if after_step is not None:
                terms = terms | after_step(step)
            if ema is not None:
                with torch.no_grad():
                    decay = min(options.ema, (1 + step) / (10 + step))  # short warm-up: early EMA is not the init
                    for e, p in zip(ema.parameters(), net.parameters()):
                        e.lerp_(p, 1 - decay)
            step += 1
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            count += 1
            bar.update(1)
            timed_out = bool(options.time_limit_s) and seconds + time.perf_counter() - started > options.time_limit_s
            end = step == options.steps or timed_out
            scores = {}
            if validate is not None and ((options.val_every and step % options.val_every == 0) or end):
                scores = validated()
            seconds += time.perf_counter() - started
            if step % options.log_every == 0 or scores or end or step == last or (
                options.checkpoint_every and step % options.checkpoint_every == 0
            ):
                means = {k: v / count for k, v in sums.items()}
                sums, count = {}, 0
                record = {"step": step, "seconds": round(seconds, 1), "lr": rate} | means | scores
                if end:
                    record["finished"] = True
                history.append(record)
                bar.set_postfix({k: f"{v:.4g}" for k, v in means.items()})
                text = ", ".join(f"{k} {v:.4g}" for k, v in (means | scores).items())
                runlog.record(f"  {name} step {step}/{options.steps}: {text} ({seconds:.0f} s)", **record)
            if checkpoint is not None and (
                (options.checkpoint_every and step % options.checkpoint_every == 0) or step == last or end
            ):
                save_checkpoint()
    finally:
        bar.close()
        runlog.close()
    model = ema if ema is not None else net
    if options.keep_best and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, step, round(seconds, 1), history, best)


def parameters_module(*groups):
    """An ``nn.Module`` holding lists of bare parameters (tables), so the loop can checkpoint and average
    them: ``module.groups[i]`` is the ``ParameterList`` of the i-th argument."""
    import torch

    class Tables(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.groups = torch.nn.ModuleList(torch.nn.ParameterList(list(g)) for g in groups)

    return Tables()


def recipe_meta(config, result: FitResult, started: float, data_dirs=(), **more) -> dict:
    """What a recipe records in its model file about the run: the config, the log, the kept state, the wall
    time since ``started`` (``time.perf_counter()``) and the data folders."""
    return {"config": asdict(config), "steps": result.step, "history": result.history, "best": result.best,
            "train_seconds": round(time.perf_counter() - started, 1), "data": [str(d) for d in data_dirs], **more}


def zero_last_mlp(sizes: list[int]):
    """``Linear``/``ReLU`` layers through ``sizes`` (input, hidden..., output) whose last layer starts at zero,
    so a net that adds its output to a prior starts as that prior (the LUT and SPLUT recipes)."""
    import torch

    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    body = torch.nn.Sequential(*layers[:-1])
    torch.nn.init.zeros_(body[-1].weight)
    torch.nn.init.zeros_(body[-1].bias)
    return body


def init_from_onnx(net, path: str, prefix: str = "") -> int:
    """Start ``net`` from an exported model: copy each ONNX initializer whose name (less ``prefix``) it has,
    e.g. an x2 IRN pair's weights into an x4's first level, or a shipped model's into a fine-tune. A same-named
    tensor of another shape is refused (another width?). Returns how many tensors were copied."""
    import torch

    from acutance.deep.runtime import read_initializers

    state = net.state_dict()
    copied = 0
    for key, array in read_initializers(path).items():
        name = key.removeprefix(prefix)
        if name not in state:
            continue
        if tuple(state[name].shape) != array.shape:
            raise OptionError(f"init {path}: {name} is {array.shape} there, {tuple(state[name].shape)} here "
                              f"(another number of features?)")  # fmt: skip
        state[name] = torch.from_numpy(array.copy())
        copied += 1
    if not copied:
        raise OptionError(f"init {path}: no weight of it fits this network")
    net.load_state_dict(state)
    return copied


def require_torch(what: str):
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise OptionError(f"{what} needs torch (pip install 'acutance[train]')") from error
    return torch


def seeded_torch(config, what: str = "training"):
    """torch with the recipe config's ``threads`` (0: torch's own setting) and ``seed`` applied: how every
    torch recipe starts."""
    torch = require_torch(what)
    if getattr(config, "threads", 0):
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    return torch


def begin_recipe(config, run: str | os.PathLike | None, data_dirs=(), what: str = "training"):
    """How every torch recipe starts: its config checked, torch seeded (``seeded_torch``) and its run folder
    opened (``open_recipe_run``); returns (torch, run folder or None)."""
    if hasattr(config, "check"):
        config.check()
    return seeded_torch(config, what), open_recipe_run(run, config, data_dirs)


def open_recipe_run(folder: str | os.PathLike | None, config, data_dirs=()) -> Path | None:
    """``open_run`` for a recipe: the run's identity is its config dataclass and its data folders."""
    return open_run(folder, {"config": asdict(config), "data": [str(d) for d in data_dirs]})


def open_run(folder: str | os.PathLike | None, config: dict) -> Path | None:
    """Create (or reopen) a run folder; a folder started with another config is refused, so a rerun with
    the same command resumes and a changed command never mixes with an old run."""
    if folder is None:
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    text = json.dumps(config, sort_keys=True, indent=1, default=str)
    if path.is_file() and path.read_text(encoding="utf-8") != text:
        raise OptionError(f"{folder} holds a run with another config; delete it or use another run folder")
    path.write_text(text, encoding="utf-8")
    return folder
