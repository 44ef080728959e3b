"""The deep SR recipe of ``acutance train sr`` on the loop of ``acutance.train`` (resumable, EMA, cosine
schedule with warm-up, validation, progress, JSON-lines log).

``OUT/checkpoint.safetensors`` holds everything needed to continue (weights, EMA, optimisers, step, random
states, the config); rerunning the same command continues from it. The result is ``OUT/NAME.safetensors``: the EMA
weights with the architecture, hyper-parameters and training summary in the file's metadata (the weight file
is the config).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from acutance.deep.train import losses
from acutance.deep.train.config import SRTrainConfig
from acutance.errors import ModelError, OptionError
from acutance.train.data import PatchSampler, validation_images

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
    from acutance.train.checkpoint import read_safetensors

    state, meta = read_safetensors(path, "weights")
    if meta.get("format") != WEIGHTS_FORMAT:
        raise ModelError(f"{path}: not a weights file of acutance train sr (format {meta.get('format')!r})")
    return meta, state


def _load_init(net: torch.nn.Module, path: str) -> None:
    source = Path(path)
    if source.name.endswith("checkpoint.safetensors"):  # a run's checkpoint: its EMA, else its weights
        from acutance.train import checkpoint as ckpt

        tensors, _ = ckpt.load(source)
        state = ckpt.module_state("ema", tensors) or ckpt.module_state("net", tensors)
    else:
        _, state = read_weights(source)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(f"train.init {path}: weights do not fit the configured network: {error}") from None


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
    from acutance.train.loop import LoopOptions, fit, run_files

    t, d, g = config.train, config.data, config.gan
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if t.threads:
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    net = build_net(config.model)
    if t.init:
        _load_init(net, t.init)
    optimiser = torch.optim.Adam(net.parameters(), lr=t.lr, betas=(0.9, 0.99))
    extra, after_step = {}, None
    if t.gan_weight > 0:
        from acutance.deep.arch.discriminator import UNetDiscriminatorSN

        disc = UNetDiscriminatorSN(num_in_ch=3, num_feat=g.disc_feat, skip_connection=g.disc_skip)
        disc_optimiser = torch.optim.Adam(disc.parameters(), lr=g.disc_lr, betas=(0.9, 0.99))
        extra = {"disc": disc, "disc_optimiser": disc_optimiser}

    sampler = PatchSampler(d.train, scale=config.model.scale, patch=d.patch, degradation=d.degradation, seed=t.seed,
                           progress=progress, reuse=d.reuse)  # fmt: skip
    val = validation_images(d.val, d.val_images, config.model.scale) if d.val else []
    batch = {}

    def step_losses(step: int) -> dict:
        lr_np, hr_np = sampler.batch(d.batch)
        lr_img, hr_img = torch.from_numpy(lr_np), torch.from_numpy(hr_np)
        sr = net(lr_img)
        batch.update(sr=sr, hr=hr_img)
        terms = {"pixel": t.pixel_weight * losses.pixel_loss(t.pixel_loss, sr, hr_img)}
        if t.cdc_weight:
            terms["cdc"] = t.cdc_weight * losses.cdc_loss(sr, hr_img)
        if t.fft_weight:
            terms["fft"] = t.fft_weight * losses.fft_loss(sr, hr_img)
        if extra:
            extra["disc"].requires_grad_(False)
            terms["gan"] = t.gan_weight * losses.relativistic_g_loss(extra["disc"](hr_img).detach(), extra["disc"](sr))
        return terms

    if extra:

        def after_step(step: int) -> dict:
            disc, disc_optimiser = extra["disc"], extra["disc_optimiser"]
            disc.requires_grad_(True)
            d_loss = losses.relativistic_d_loss(disc(batch["hr"]), disc(batch["sr"].detach()))
            disc_optimiser.zero_grad(set_to_none=True)
            d_loss.backward()
            disc_optimiser.step()
            return {"disc": d_loss}

    options = LoopOptions(steps=t.iterations, lr=t.lr, lr_min=t.lr_min, warmup=t.warmup, ema=t.ema,
                          checkpoint_every=t.checkpoint_every, val_every=t.val_every, log_every=t.checkpoint_every)
    checkpoint, log_path = run_files(out)
    now = config.to_dict()
    result = fit(
        net, optimiser, step_losses, options, rng=sampler.rng, checkpoint=checkpoint, log_path=log_path,
        config={k: now[k] for k in ("model", "data", "gan")}, extra=extra, after_step=after_step,
        validate=(lambda model: {"val_psnr": _validate(model, val, config.model.scale)}) if val else None,
        data_state=sampler, name=config.model.name, progress=progress, stop_after=stop_after, log=log,
    )  # fmt: skip
    summary = {
        "steps": result.step,
        "seconds": result.seconds,
        "data": list(d.train),
        "degradation": d.degradation,
        "patch": d.patch,
        "batch": d.batch,
        "losses": {k: getattr(t, k) for k in ("pixel_loss", "pixel_weight", "cdc_weight", "fft_weight", "gan_weight")},
        "ema": t.ema,
        "threads": torch.get_num_threads(),
        "finished": result.step >= t.iterations,
    }
    return save_weights(result.model, config, out / f"{config.model.name}.safetensors", summary)


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
