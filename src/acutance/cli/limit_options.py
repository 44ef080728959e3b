"""The resource-limit flags every command that reads images shares (``acutance.limits``)."""

from __future__ import annotations

import argparse

from acutance import limits


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels``, ``--max-output-pixels``, ``--max-memory``: raise (or, with 0, lift) a limit."""
    group = parser.add_argument_group("resource limits", "checked before any work; 0 turns a limit off")
    group.add_argument(
        "--max-pixels", type=int, metavar="N",
        help=f"largest input image in pixels (default: {limits.DEFAULT.max_input_pixels:,}, Pillow's bomb guard)",
    )
    group.add_argument(
        "--max-output-pixels", type=int, metavar="N",
        help=f"largest output image in pixels (default: {limits.DEFAULT.max_output_pixels:,})",
    )
    group.add_argument(
        "--max-memory", type=limits.parse_bytes, metavar="SIZE",
        help=f"working memory for one image, e.g. 512M or 2G (default: {limits.DEFAULT.max_memory // limits.MIB} MiB)",
    )


def limits_from_arguments(args: argparse.Namespace) -> limits.Limits:
    """The limits a command runs under: the defaults with the flags given."""
    for flag in ("max_pixels", "max_output_pixels"):
        value = getattr(args, flag, None)
        if value is not None and value < 0:
            raise limits.LimitError(f"--{flag.replace('_', '-')} must be >= 0, got {value}")
    return limits.DEFAULT.with_overrides(
        max_input_pixels=getattr(args, "max_pixels", None),
        max_output_pixels=getattr(args, "max_output_pixels", None),
        max_memory=getattr(args, "max_memory", None),
    )
