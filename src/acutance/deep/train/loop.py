"""The training loop of ``acutance train sr``: resumable, with EMA, progress and a JSON-lines log.

``OUT/checkpoint.pt`` holds everything needed to continue (weights, EMA, optimisers, step, random states, the
config); rerunning the same command continues from it. The result is ``OUT/NAME.safetensors``: the EMA
weights with the architecture, hyper-parameters and training summary in the file's metadata (the weight file
is the config).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from acutance.deep.train import losses
from acutance.deep.train.config import SRTrainConfig
from acutance.deep.train.data import PatchSampler, validation_images
from acutance.errors import ModelError, OptionError

WEIGHTS_FORMAT = "acutance-torch-weights-1"


def build_net(model) -> torch.nn.Module:
    """The generator of a ``ModelSection`` (or of the same fields in a dict)."""
    get = (lambda k: model[k]) if isinstance(model, dict) else (lambda k: getattr(model, k))
    if get("arch") == "srvgg":
        from acutance.deep.arch.srvgg import SRVGGNetCompact

        return SRVGGNetCompact(
            num_feat=get("num_feat"),
            num_conv=get("num_conv"),
            upscale=get("scale"),
            act_type=get("act_type"),
            skip=get("skip"),
        )
    raise OptionError(f"unknown architecture {get('arch')!r}")


def save_weights(net: torch.nn.Module, config: SRTrainConfig, path: Path, summary: dict) -> Path:
    """Write the weights with their config as safetensors metadata (atomic)."""
    from safetensors.torch import save_file

    meta = {
        "format": WEIGHTS_FORMAT,
        # arch + hyper_parameters: what acutance.deep.checkpoint needs to rebuild the net from this file alone
        "arch": type(net).__name__,
        "hyper_parameters": net.hyper_parameters(),
        "scale": config.model.scale,
        "name": config.model.name,
        "model": json.loads(json.dumps(config.to_dict()["model"])),
        "training": summary,
    }
    state = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    temp = path.with_name(f".{path.name}.tmp")
    save_file(state, str(temp), metadata={"acutance": json.dumps(meta)})
    os.replace(temp, path)
    return path


def read_weights(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(meta, state)`` of a file written by ``save_weights``; ModelError for anything else."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {}).get("acutance", "{}"))
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (OSError, SafetensorError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: cannot read weights: {error}") from None
    if meta.get("format") != WEIGHTS_FORMAT:
        raise ModelError(f"{path}: not a weights file of acutance train sr (format {meta.get('format')!r})")
    return meta, state


def _load_init(net: torch.nn.Module, path: str) -> None:
    source = Path(path)
    if source.suffix == ".pt":
        saved = torch.load(source, map_location="cpu", weights_only=True)
        state = saved["ema"] if saved.get("ema") is not None else saved["net"]
    else:
        _, state = read_weights(source)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(f"train.init {path}: weights do not fit the configured network: {error}") from None


def _lr_at(step: int, t) -> float:
    if step < t.warmup:
        return t.lr * (step + 1) / t.warmup
    progress = (step - t.warmup) / max(1, t.iterations - t.warmup)
    return t.lr_min + 0.5 * (t.lr - t.lr_min) * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def _validate(net: torch.nn.Module, pairs, scale: int) -> float:
    from acutance.metrics.sr_protocol import score_sr

    scores = []
    for lr, hr in pairs:
        out = net(torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))[None])[0]
        sr = np.clip(out.numpy().transpose(1, 2, 0), 0, 1)
        scores.append(score_sr(hr, sr, scale, single_channel=False)[0])
    return float(np.mean(scores))


def train(
    config: SRTrainConfig,
    out_dir: str | os.PathLike,
    *,
    progress: bool = True,
    stop_after: int | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train (or continue training) into ``out_dir``; returns the weights file written at the end.

    stop_after: stop after this many steps of this call (a checkpoint is written), e.g. for tests.
    """
    t, d, g = config.train, config.data, config.gan
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if t.threads:
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)

    net = build_net(config.model)
    if t.init:
        _load_init(net, t.init)
    ema = copy.deepcopy(net).requires_grad_(False) if t.ema > 0 else None
    optimiser = torch.optim.Adam(net.parameters(), lr=t.lr, betas=(0.9, 0.99))
    disc = disc_optimiser = None
    if t.gan_weight > 0:
        from acutance.deep.arch.discriminator import UNetDiscriminatorSN

        disc = UNetDiscriminatorSN(num_in_ch=3, num_feat=g.disc_feat, skip_connection=g.disc_skip)
        disc_optimiser = torch.optim.Adam(disc.parameters(), lr=g.disc_lr, betas=(0.9, 0.99))

    sampler = PatchSampler(d.train, scale=config.model.scale, patch=d.patch, degradation=d.degradation, seed=t.seed, progress=progress, reuse=d.reuse)
    val = validation_images(d.val, d.val_images, config.model.scale) if d.val else []

    step, seconds = 0, 0.0
    checkpoint = out / "checkpoint.pt"
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        saved = state["config"]
        now = config.to_dict()
        for section in ("model", "data", "gan"):
            if json.dumps(saved[section], sort_keys=True) != json.dumps(now[section], sort_keys=True):
                raise OptionError(f"{checkpoint} was trained with another [{section}] config; use a new output folder")
        net.load_state_dict(state["net"])
        optimiser.load_state_dict(state["optimiser"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        if disc is not None and state.get("disc") is not None:
            disc.load_state_dict(state["disc"])
            disc_optimiser.load_state_dict(state["disc_optimiser"])
        sampler.rng.bit_generator.state = state["sampler_rng"]
        torch.set_rng_state(state["torch_rng"])
        step, seconds = int(state["step"]), float(state["seconds"])
        log(f"resuming {checkpoint} at step {step}")

    def save_checkpoint() -> None:
        state = {
            "config": config.to_dict(),
            "net": net.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "optimiser": optimiser.state_dict(),
            "disc": disc.state_dict() if disc is not None else None,
            "disc_optimiser": disc_optimiser.state_dict() if disc is not None else None,
            "sampler_rng": sampler.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "seconds": seconds,
        }
        temp = out / ".checkpoint.pt.tmp"
        torch.save(state, temp)
        os.replace(temp, checkpoint)

    log_file = (out / "log.jsonl").open("a", encoding="utf-8")
    last = min(t.iterations, step + stop_after) if stop_after else t.iterations
    bar = tqdm(total=t.iterations, initial=step, desc=config.model.name, disable=not progress, unit="step")
    running = None
    try:
        while step < last:
            started = time.perf_counter()
            for group in optimiser.param_groups:
                group["lr"] = _lr_at(step, t)
            lr_np, hr_np = sampler.batch(d.batch)
            lr_img, hr_img = torch.from_numpy(lr_np), torch.from_numpy(hr_np)
            sr = net(lr_img)
            terms = {"pixel": t.pixel_weight * losses.pixel_loss(t.pixel_loss, sr, hr_img)}
            if t.cdc_weight:
                terms["cdc"] = t.cdc_weight * losses.cdc_loss(sr, hr_img)
            if t.fft_weight:
                terms["fft"] = t.fft_weight * losses.fft_loss(sr, hr_img)
            if disc is not None:
                disc.requires_grad_(False)
                terms["gan"] = t.gan_weight * losses.relativistic_g_loss(disc(hr_img).detach(), disc(sr))
            total = sum(terms.values())
            optimiser.zero_grad(set_to_none=True)
            total.backward()
            optimiser.step()
            if disc is not None:
                disc.requires_grad_(True)
                d_loss = losses.relativistic_d_loss(disc(hr_img), disc(sr.detach()))
                disc_optimiser.zero_grad(set_to_none=True)
                d_loss.backward()
                disc_optimiser.step()
                terms["disc"] = d_loss
            if ema is not None:
                with torch.no_grad():
                    decay = min(t.ema, (1 + step) / (10 + step))  # short warm-up so early EMA is not the init
                    for e, p in zip(ema.parameters(), net.parameters()):
                        e.lerp_(p, 1 - decay)
            step += 1
            seconds += time.perf_counter() - started
            values = {k: float(v.detach()) for k, v in terms.items()}
            running = values if running is None else {k: 0.98 * running.get(k, v) + 0.02 * v for k, v in values.items()}
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix({k: f"{v:.4f}" for k, v in running.items()})
            record = None
            if val and (step % t.val_every == 0 or step == t.iterations):
                record = {"step": step, "val_psnr": _validate(ema or net, val, config.model.scale)}
            if step % t.checkpoint_every == 0 or step == last:
                save_checkpoint()
                record = record or {"step": step}
            if record is not None:
                record.update(seconds=round(seconds, 1), lr=_lr_at(step - 1, t), **{k: round(v, 5) for k, v in running.items()})
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()
    finally:
        bar.close()
        log_file.close()
    summary = {
        "steps": step,
        "seconds": round(seconds, 1),
        "data": list(d.train),
        "degradation": d.degradation,
        "patch": d.patch,
        "batch": d.batch,
        "losses": {k: getattr(t, k) for k in ("pixel_loss", "pixel_weight", "cdc_weight", "fft_weight", "gan_weight")},
        "ema": t.ema,
        "threads": torch.get_num_threads(),
        "finished": step >= t.iterations,
    }
    return save_weights(ema or net, config, out / f"{config.model.name}.safetensors", summary)


def summary_line(model: dict, training: dict) -> str:
    return (
        f"SRVGG compact x{model['scale']} ({model['num_feat']} features, {model['num_conv']} convs, "
        f"{model['skip']} skip), trained {training.get('steps', '?')} steps on {training.get('degradation', '?')} degradation"
    )


def export_weights(weights: str | os.PathLike, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write the ONNX file of a weights file from ``train`` (its config and training summary in the metadata)."""
    from acutance.deep.export import export_onnx

    meta, state = read_weights(weights)
    net = build_net(meta["model"])
    net.load_state_dict(state, strict=True)
    model = meta["model"]
    description = {
        "name": meta.get("name", model.get("name")),
        "summary": summary_line(model, meta.get("training", {})),
        "licence": "Apache-2.0",
        "training": meta.get("training", {}),
    }
    return export_onnx(net, path, int(model["scale"]), description, overwrite=overwrite)
