"""Entry point of the ``acutance`` command.

Each command lives in its own module with ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. Modules are listed here explicitly; a command's heavy imports happen inside its
``func`` so that ``acutance --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from acutance.errors import AcutanceError

# Order here is the order in --help.
COMMAND_MODULES = (
    "acutance.cli.upscale_cmd",
    "acutance.cli.sharpen_cmd",
    "acutance.cli.restore_cmd",
    "acutance.cli.faces_cmd",
    "acutance.cli.metrics_cmd",
    "acutance.cli.list_cmd",
    "acutance.cli.demo_cmd",
    "acutance.cli.video_cmd",
    "acutance.cli.video_compare_cmd",
    "acutance.cli.batch_cmd",
    "acutance.cli.serve_cmd",
    "acutance.cli.degrade_cmd",
    "acutance.cli.pairs_cmd",
    "acutance.cli.train_cmd",
    "acutance.cli.export_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acutance",
        description="Upscale, sharpen, denoise and measure images. 'acutance COMMAND --help' for details.",
    )
    from acutance import __version__

    parser.add_argument("--version", action="version", version=f"acutance {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from acutance.cli.limit_options import limits_from_arguments
    from acutance.limits import using

    try:
        with using(limits_from_arguments(args)):  # the resource limits a command's flags asked for
            return int(args.func(args) or 0)
    except AcutanceError as error:
        print(f"acutance: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("acutance: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
