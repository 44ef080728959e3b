"""Typed configuration of the degradation pipeline, its validation, and TOML load/save.

Defaults are the published Real-ESRGAN training values (``../shared/docs/METHODS.md`` section 1): a
``DegradeConfig()`` is the ``realesrgan`` preset. Every field is validated; an unknown key in a TOML file or
mapping is an error naming the key, never ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from acutance.degrade.kernels import KERNEL_TYPES
from acutance.degrade.resize_ops import RESIZE_MODES
from acutance.errors import OptionError

PI = math.pi
KERNEL_SIZES = (7, 9, 11, 13, 15, 17, 19, 21)
ORDERS = ("random", "resize_first", "jpeg_first")
RELATIVE_TO = ("input", "target")


@dataclass(frozen=True)
class KernelConfig:
    """How a blur kernel is drawn: a size, then a 2D sinc with ``sinc_prob``, else a type by ``probs``."""

    sizes: tuple[int, ...] = KERNEL_SIZES  # odd sizes, drawn uniformly
    types: tuple[str, ...] = KERNEL_TYPES
    probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  # one per type, sum 1
    sigma: tuple[float, float] = (0.2, 3.0)  # both axes, pixels
    rotation: tuple[float, float] = (-PI, PI)  # anisotropic kernels only
    beta_generalized: tuple[float, float] = (0.5, 4.0)
    beta_plateau: tuple[float, float] = (1.0, 2.0)
    sinc_prob: float = 0.1
    sinc_cutoff_small: tuple[float, float] = (PI / 3, PI)  # kernels smaller than sinc_small_below
    sinc_cutoff_large: tuple[float, float] = (PI / 5, PI)
    sinc_small_below: int = 13


@dataclass(frozen=True)
class RoundConfig:
    """One round of blur -> resize -> noise -> JPEG (defaults: Real-ESRGAN's first round)."""

    prob: float = 1.0  # probability that the round runs at all
    blur_prob: float = 1.0
    kernel: KernelConfig = field(default_factory=KernelConfig)
    resize_probs: tuple[float, float, float] = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: tuple[float, float] = (0.15, 1.5)  # up: U(1, hi); down: U(lo, 1)
    resize_modes: tuple[str, ...] = ("area", "bilinear", "bicubic")  # drawn uniformly
    resize_relative_to: str = "input"  # factor of the current size ('input') or of the final LR size ('target')
    noise_prob: float = 1.0
    gaussian_noise_prob: float = 0.5  # else Poisson
    noise_sigma: tuple[float, float] = (1.0, 30.0)  # 0-255 scale
    poisson_scale: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_prob: float = 1.0
    jpeg_quality: tuple[int, int] = (30, 95)  # inclusive


@dataclass(frozen=True)
class FinalConfig:
    """The last stage: resize to the LR size + sinc, and JPEG, in random order (Real-ESRGAN's ending)."""

    resize_modes: tuple[str, ...] = ("area", "bilinear", "bicubic")
    order: str = "random"  # random | resize_first | jpeg_first
    resize_first_prob: float = 0.5  # used when order = 'random'
    sinc_prob: float = 0.8
    sinc_sizes: tuple[int, ...] = KERNEL_SIZES
    sinc_cutoff: tuple[float, float] = (PI / 3, PI)
    jpeg_prob: float = 1.0
    jpeg_quality: tuple[int, int] = (30, 95)


SECOND_ROUND = RoundConfig(
    blur_prob=0.8,
    kernel=KernelConfig(sigma=(0.2, 1.5)),
    resize_probs=(0.3, 0.4, 0.3),
    resize_range=(0.3, 1.2),
    resize_relative_to="target",
    noise_sigma=(1.0, 25.0),
    poisson_scale=(0.05, 2.5),
    jpeg_prob=0.0,  # Real-ESRGAN's second JPEG is the final stage's
)


@dataclass(frozen=True)
class DegradeConfig:
    """The whole pipeline: ``rounds`` in order, then ``final``; ``quantize`` rounds the LR to 8-bit levels."""

    rounds: tuple[RoundConfig, ...] = (RoundConfig(), SECOND_ROUND)
    final: FinalConfig = field(default_factory=FinalConfig)
    quantize: bool = True

    def __post_init__(self) -> None:
        validate(self)


# --- validation -------------------------------------------------------------------------------------------


def _prob(path: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise OptionError(f"config {path}: a probability must be in [0, 1], got {value!r}")


def _distribution(path: str, values: tuple[float, ...], count: int) -> None:
    if len(values) != count:
        raise OptionError(f"config {path}: expected {count} probabilities, got {len(values)}")
    for value in values:
        _prob(path, value)
    if abs(sum(values) - 1.0) > 1e-6:
        raise OptionError(f"config {path}: probabilities must sum to 1, got {sum(values):.6g}")


def _range(path: str, values: tuple[float, float], low: float, high: float = math.inf, *, open_low: bool = False) -> None:
    lo, hi = values
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise OptionError(f"config {path}: values must be finite, got {list(values)}")
    below = lo <= low if open_low else lo < low
    if below or hi > high:
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        limit = bound if high == math.inf else f"{bound} and <= {high:g}"
        raise OptionError(f"config {path}: values must be {limit}, got {list(values)}")
    if lo > hi:
        raise OptionError(f"config {path}: low end {lo:g} is above high end {hi:g}")


def _sizes(path: str, sizes: tuple[int, ...]) -> None:
    if not sizes:
        raise OptionError(f"config {path}: give at least one kernel size")
    for size in sizes:
        if size < 1 or size % 2 == 0:
            raise OptionError(f"config {path}: kernel sizes must be odd and positive, got {size}")


def _modes(path: str, modes: tuple[str, ...]) -> None:
    if not modes:
        raise OptionError(f"config {path}: give at least one resize mode")
    for mode in modes:
        if mode not in RESIZE_MODES:
            raise OptionError(f"config {path}: unknown resize mode {mode!r}; choose from {', '.join(RESIZE_MODES)}")


def _validate_kernel(path: str, k: KernelConfig) -> None:
    _sizes(f"{path}.sizes", k.sizes)
    for name in k.types:
        if name not in KERNEL_TYPES:
            raise OptionError(f"config {path}.types: unknown kernel type {name!r}; choose from {', '.join(KERNEL_TYPES)}")
    if len(set(k.types)) != len(k.types):
        raise OptionError(f"config {path}.types: a kernel type is listed twice")
    _distribution(f"{path}.probs", k.probs, len(k.types))
    _range(f"{path}.sigma", k.sigma, 0.0, open_low=True)
    _range(f"{path}.rotation", k.rotation, -math.inf)
    _range(f"{path}.beta_generalized", k.beta_generalized, 0.0, open_low=True)
    _range(f"{path}.beta_plateau", k.beta_plateau, 0.0, open_low=True)
    _prob(f"{path}.sinc_prob", k.sinc_prob)
    _range(f"{path}.sinc_cutoff_small", k.sinc_cutoff_small, 0.0, PI, open_low=True)
    _range(f"{path}.sinc_cutoff_large", k.sinc_cutoff_large, 0.0, PI, open_low=True)


def validate(config: DegradeConfig) -> None:
    """Raise ``OptionError`` naming the first invalid field (``rounds[1].noise_sigma`` style)."""
    for index, r in enumerate(config.rounds):
        path = f"rounds[{index}]"
        for name in ("prob", "blur_prob", "noise_prob", "gaussian_noise_prob", "gray_noise_prob", "jpeg_prob"):
            _prob(f"{path}.{name}", getattr(r, name))
        _validate_kernel(f"{path}.kernel", r.kernel)
        _distribution(f"{path}.resize_probs", r.resize_probs, 3)
        _range(f"{path}.resize_range", r.resize_range, 0.0, open_low=True)
        if r.resize_range[0] > 1.0 or r.resize_range[1] < 1.0:
            raise OptionError(f"config {path}.resize_range: must contain 1 (down below it, up above), got {list(r.resize_range)}")
        _modes(f"{path}.resize_modes", r.resize_modes)
        if r.resize_relative_to not in RELATIVE_TO:
            raise OptionError(f"config {path}.resize_relative_to: must be 'input' or 'target', got {r.resize_relative_to!r}")
        _range(f"{path}.noise_sigma", r.noise_sigma, 0.0)
        _range(f"{path}.poisson_scale", r.poisson_scale, 0.0)
        _range(f"{path}.jpeg_quality", r.jpeg_quality, 1, 100)
    f = config.final
    _modes("final.resize_modes", f.resize_modes)
    if f.order not in ORDERS:
        raise OptionError(f"config final.order: must be one of {', '.join(ORDERS)}, got {f.order!r}")
    for name in ("resize_first_prob", "sinc_prob", "jpeg_prob"):
        _prob(f"final.{name}", getattr(f, name))
    _sizes("final.sinc_sizes", f.sinc_sizes)
    _range("final.sinc_cutoff", f.sinc_cutoff, 0.0, PI, open_low=True)
    _range("final.jpeg_quality", f.jpeg_quality, 1, 100)


# --- mappings and TOML --------------------------------------------------------------------------------------


def _convert(value: Any, hint: Any, path: str, base: Any) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise OptionError(f"config {path}: expected a table, got {type(value).__name__}")
        return _from_mapping(hint, value, path, base)
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise OptionError(f"config {path}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            bases = base if isinstance(base, tuple) else ()
            return tuple(
                _convert(item, args[0], f"{path}[{i}]", bases[i] if i < len(bases) else None)
                for i, item in enumerate(value)
            )
        if len(value) != len(args):
            raise OptionError(f"config {path}: expected {len(args)} values, got {len(value)}")
        return tuple(_convert(item, arg, f"{path}[{i}]", None) for i, (item, arg) in enumerate(zip(value, args)))
    if hint is bool:
        if not isinstance(value, bool):
            raise OptionError(f"config {path}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionError(f"config {path}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OptionError(f"config {path}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise OptionError(f"config {path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config field type {hint!r}")  # a bug in this module, not user input


def _from_mapping(cls: type, data: dict, path: str, base: Any) -> Any:
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    start = base if base is not None else cls()
    changes = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in hints:
            raise OptionError(f"unknown config key {where!r}; valid keys here: {', '.join(names)}")
        changes[key] = _convert(value, hints[key], where, getattr(start, key))
    try:
        return replace(start, **changes)
    except OptionError:
        raise
    except (TypeError, ValueError) as error:  # pragma: no cover - _convert checks types first
        raise OptionError(f"config {path or 'root'}: {error}") from error


def config_from_dict(data: dict, base: DegradeConfig | None = None) -> DegradeConfig:
    """A config from a (TOML-like) mapping; keys not given keep ``base``'s values (default: realesrgan).

    ``rounds`` is a list: its i-th table overrides the base's i-th round (a round beyond the base's starts from
    ``RoundConfig()``), and the list's length sets the number of rounds.
    """
    if not isinstance(data, dict):
        raise OptionError(f"config must be a table, got {type(data).__name__}")
    return _from_mapping(DegradeConfig, data, "", base)


def config_to_dict(config: DegradeConfig) -> dict:
    """A plain JSON/TOML-ready mapping (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def load_config(path: str | os.PathLike, base: DegradeConfig | None = None) -> DegradeConfig:
    """Read a TOML file written by :func:`save_config` (or by hand; partial files override ``base``)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptionError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise OptionError(f"cannot read config file {path}: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise OptionError(f"config file {path} is not valid TOML: {error}") from error
    try:
        return config_from_dict(data, base)
    except OptionError as error:
        raise OptionError(f"{path}: {error}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise OptionError(f"cannot write {value!r} to TOML")
        return repr(value)  # shortest round-tripping form: TOML reads back the same double
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for these ASCII names
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_scalars(table: dict) -> list[str]:
    return [f"{key} = {_toml_value(value)}" for key, value in table.items() if not isinstance(value, dict)]


def config_to_toml(config: DegradeConfig, header: str = "") -> str:
    """TOML text that :func:`load_config` reads back to an equal config."""
    data = config_to_dict(config)
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    lines += _toml_scalars({k: v for k, v in data.items() if k not in ("rounds", "final")})
    if not data["rounds"]:
        lines.append("rounds = []")  # an empty array of tables has no [[rounds]] form
    for round_table in data["rounds"]:
        lines += ["", "[[rounds]]"] + _toml_scalars(round_table)
        lines += ["", "[rounds.kernel]"] + _toml_scalars(round_table["kernel"])
    lines += ["", "[final]"] + _toml_scalars(data["final"])
    return "\n".join(lines) + "\n"


def save_config(config: DegradeConfig, path: str | os.PathLike, *, overwrite: bool = False, header: str = "") -> Path:
    """Write ``config`` as TOML (atomically; an existing file only with ``overwrite``)."""
    from acutance.io import atomic_write_bytes

    return atomic_write_bytes(path, config_to_toml(config, header).encode("utf-8"), overwrite=overwrite)
