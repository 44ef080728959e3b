"""The one resource budget of every entry point (CLI, Python API, web server, batch, video).

Each limit has a default and a way to raise it, like Pillow's decompression-bomb guard: the CLI's
``--max-pixels`` / ``--max-output-pixels`` / ``--max-memory`` flags, the web server's options, or
``with acutance.limits.using(Limits(...)):`` in Python. Every check happens *before* the memory is allocated,
and every failure is a ``LimitError`` whose one line names the limit and the flag that raises it.

Scales are checked here too (finite, positive, within ``MIN_SCALE..MAX_SCALE`` for models that take any
factor), so that no entry point can ask for an absurd factor that only a later allocation would reject.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass, replace
from typing import Iterator

from acutance.errors import AcutanceError

# Any-scale models (interpolators, lerf) take factors in this range; fixed-scale models take their own.
MIN_SCALE = 1 / 64
MAX_SCALE = 32.0

MIB = 1 << 20
GIB = 1 << 30


class LimitError(AcutanceError):
    """A request over one of the resource limits (input or output pixels, working memory, scale)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits; ``0`` turns one off.

    max_input_pixels: decoded input size (width x height), checked from the file header before decoding.
        The default is Pillow's own bomb threshold (about 89.5 MP: a 16-bit RGBA image of that size is 0.7 GB).
    max_output_pixels: the size a request would produce, checked before any work (default 16384 x 16384).
    max_memory: bytes of estimated working memory for one image (``acutance.pipeline`` estimates it from
        the model's tile advice); automatic tiling sizes its tiles to stay under it.
    """

    max_input_pixels: int = 89_478_485
    max_output_pixels: int = 16384 * 16384
    max_memory: int = 1 * GIB

    def with_overrides(self, **values: int | None) -> "Limits":
        """These limits with the given fields replaced (None leaves a field as it is)."""
        return replace(self, **{key: value for key, value in values.items() if value is not None})


DEFAULT = Limits()
_CURRENT: contextvars.ContextVar[Limits] = contextvars.ContextVar("acutance_limits", default=DEFAULT)

# The flag (or option) that raises each limit, named in the error so a user knows what to do.
FLAGS = {
    "max_input_pixels": "--max-pixels",
    "max_output_pixels": "--max-output-pixels",
    "max_memory": "--max-memory",
}


def current() -> Limits:
    """The limits in force in this context (thread or task)."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(limits: Limits) -> Iterator[Limits]:
    """Run a block under ``limits`` (context-local, so web jobs on threads don't see each other's)."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def _megapixels(pixels: float) -> str:
    return f"{pixels / 1e6:.1f} MP"


def check_input_pixels(width: int, height: int, name: str = "image") -> None:
    """Refuse an input larger than ``max_input_pixels`` (call with the header's size, before decoding)."""
    limit = current().max_input_pixels
    if width <= 0 or height <= 0:
        raise LimitError(f"{name}: invalid image size {width}x{height}")
    if limit and width * height > limit:
        raise LimitError(
            f"{name}: {width}x{height} ({_megapixels(width * height)}) is over the input limit of "
            f"{_megapixels(limit)}; raise it with {FLAGS['max_input_pixels']} if you trust this file"
        )


def check_output_pixels(width: int, height: int, what: str = "the output") -> None:
    """Refuse a request whose output would be larger than ``max_output_pixels``."""
    limit = current().max_output_pixels
    if limit and width * height > limit:
        raise LimitError(
            f"{what} would be {width}x{height} ({_megapixels(width * height)}), over the output limit of "
            f"{_megapixels(limit)}; raise it with {FLAGS['max_output_pixels']}"
        )


def check_memory(estimate: int, what: str = "this request", *, advice: str | None = None) -> None:
    """Refuse work whose estimated working memory is over ``max_memory`` (bytes).

    advice: what to do instead, ending in "or" (default: "use a smaller --tile or").
    """
    limit = current().max_memory
    if limit and estimate > limit:
        advice = "use a smaller --tile or" if advice is None else advice
        raise LimitError(
            f"{what} needs about {estimate / MIB:,.0f} MiB of working memory, over the limit of "
            f"{limit / MIB:,.0f} MiB; {advice + ' ' if advice else ''}raise it with {FLAGS['max_memory']}"
        )


def check_scale_value(scale: float, what: str = "scale") -> float:
    """A scale factor must be a finite positive number; any-scale models also keep to MIN_SCALE..MAX_SCALE."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise LimitError(f"{what} must be a number, got {scale!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise LimitError(f"{what} must be a finite positive number, got {scale!r}")
    if not MIN_SCALE <= value <= MAX_SCALE:
        raise LimitError(f"{what} {value:g} is outside the supported range {MIN_SCALE:g}..{MAX_SCALE:g}")
    return value


def parse_bytes(text: str) -> int:
    """'512M', '2G', '1.5GiB' or a plain number of bytes -> bytes (for --max-memory)."""
    units = {"": 1, "k": 1 << 10, "m": MIB, "g": GIB, "t": 1 << 40}
    cleaned = text.strip().lower().removesuffix("ib").removesuffix("b")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned and cleaned[-1] in units else (cleaned, "")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise LimitError(f"expected a size such as 512M or 2G, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise LimitError(f"expected a non-negative size, got {text!r}")
    return int(value)
