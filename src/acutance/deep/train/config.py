"""The typed training config of ``acutance train sr``, read from TOML; an unknown key is an error naming it.

A config file has four tables: ``[model]`` (architecture and its hyper-parameters), ``[data]`` (folders,
degradation, patches), ``[train]`` (steps, optimiser, loss weights, EMA) and ``[gan]`` (discriminator, used
when ``train.gan_weight > 0``). Shipped configs live in ``acutance/deep/configs/NAME.toml``; ``--config NAME``
finds them by name.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from acutance.errors import OptionError

ARCHS = ("srvgg",)
PIXEL_LOSSES = ("l1", "charbonnier")


@dataclass(frozen=True)
class ModelSection:
    name: str = "my-model"
    arch: str = "srvgg"
    scale: int = 4
    num_feat: int = 32
    num_conv: int = 8
    act_type: str = "prelu"
    skip: str = "bicubic"  # bicubic: the net adds detail to bicubic (fidelity models); nearest: community style


@dataclass(frozen=True)
class DataSection:
    train: tuple[str, ...] = ()  # folders of clean HR images (searched recursively)
    degradation: str = "bicubic"  # 'bicubic' (MATLAB, the SR benchmark protocol) or an 'acutance degrade' preset
    patch: int = 32  # LR patch side; the HR patch is patch * scale
    batch: int = 16
    reuse: int = 1  # random degradations: each degraded crop is used this many times on average (speed)
    val: tuple[str, ...] = ()  # optional folders scored (Y-PSNR, bicubic degradation) every val_every steps
    val_images: int = 10


@dataclass(frozen=True)
class TrainSection:
    iterations: int = 20000
    lr: float = 1e-3
    lr_min: float = 1e-5  # cosine decay from lr to lr_min over the iterations
    warmup: int = 200
    pixel_loss: str = "l1"
    pixel_weight: float = 1.0
    cdc_weight: float = 0.0  # gradient-weighted L1 (CDC): edges and textures count more than flat areas
    fft_weight: float = 0.0  # L1 between the 2-D FFTs (frequency loss)
    gan_weight: float = 0.0  # > 0 turns on the relativistic GAN with the U-Net discriminator
    ema: float = 0.999  # decay of the exponential moving average of the weights (0: off)
    init: str = ""  # weights to start from (NAME.safetensors written by this trainer, or a run's checkpoint.safetensors)
    checkpoint_every: int = 500
    val_every: int = 1000
    seed: int = 0
    threads: int = 0  # torch threads; 0 = torch's default


@dataclass(frozen=True)
class GanSection:
    disc_feat: int = 32
    disc_lr: float = 1e-4
    disc_skip: bool = True


@dataclass(frozen=True)
class SRTrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    gan: GanSection = field(default_factory=GanSection)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _section(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise OptionError(f"[{where}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in known:
            raise OptionError(f"unknown key {where}.{key}; known: {', '.join(known)}")
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = (value,)
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise OptionError(f"{where}.{key} must be a list of strings")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise OptionError(f"{where}.{key} must be true or false, not {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise OptionError(f"{where}.{key} must be an integer, not {value!r}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise OptionError(f"{where}.{key} must be a number, not {value!r}")
            value = float(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise OptionError(f"{where}.{key} must be a string, not {value!r}")
        values[key] = value
    return cls(**values)


def config_from_dict(data: dict) -> SRTrainConfig:
    sections = {"model": ModelSection, "data": DataSection, "train": TrainSection, "gan": GanSection}
    for key in data:
        if key not in sections:
            raise OptionError(f"unknown table [{key}]; known: {', '.join(sections)}")
    config = SRTrainConfig(**{name: _section(cls, data.get(name, {}), name) for name, cls in sections.items()})
    validate(config)
    return config


def validate(config: SRTrainConfig) -> None:
    m, d, t = config.model, config.data, config.train
    if m.arch not in ARCHS:
        raise OptionError(f"model.arch must be one of {ARCHS}, not {m.arch!r}")
    if m.scale not in (1, 2, 3, 4):
        raise OptionError(f"model.scale must be 1, 2, 3 or 4, not {m.scale}")
    if m.num_feat < 1 or m.num_conv < 0:
        raise OptionError("model.num_feat must be >= 1 and model.num_conv >= 0")
    if t.pixel_loss not in PIXEL_LOSSES:
        raise OptionError(f"train.pixel_loss must be one of {PIXEL_LOSSES}, not {t.pixel_loss!r}")
    if d.patch < 8 or d.batch < 1 or d.reuse < 1:
        raise OptionError("data.patch must be >= 8, data.batch >= 1 and data.reuse >= 1")
    if t.iterations < 1 or t.lr <= 0 or not 0 <= t.ema < 1:
        raise OptionError("train.iterations >= 1, train.lr > 0 and 0 <= train.ema < 1 are required")
    for name in ("pixel_weight", "cdc_weight", "fft_weight", "gan_weight"):
        if getattr(t, name) < 0:
            raise OptionError(f"train.{name} must be >= 0")
    if d.degradation != "bicubic":
        from acutance.degrade.presets import preset_names

        if d.degradation not in preset_names() and not Path(d.degradation).is_file():
            raise OptionError(
                f"data.degradation {d.degradation!r} is neither 'bicubic', a preset ({', '.join(preset_names())}) "
                "nor a degradation TOML file"
            )


def shipped_config_names() -> list[str]:
    folder = resources.files("acutance.deep").joinpath("configs")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_train_config(source: str | os.PathLike) -> SRTrainConfig:
    """A config from a TOML file, or a shipped one by name (``compact-x4``, ...)."""
    path = Path(source)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        resource = resources.files("acutance.deep").joinpath("configs", f"{source}.toml")
        if not resource.is_file():
            raise OptionError(
                f"config {str(source)!r} is neither a file nor a shipped config ({', '.join(shipped_config_names())})"
            )
        text = resource.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise OptionError(f"{source}: not valid TOML: {error}") from None
    return config_from_dict(data)


def replace(config: SRTrainConfig, section: str, **changes) -> SRTrainConfig:
    """A copy with some keys of one table changed (CLI overrides), validated again."""
    new = dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **changes)})
    validate(new)
    return new
