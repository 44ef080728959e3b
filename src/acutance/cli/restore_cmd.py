"""``acutance denoise`` and ``acutance deblock``: same-size restoration with the BLADE models."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.cli.upscale_cmd import add_output_arguments, check_output_arguments, run_model

SIGMAS = (15, 25, 50)
QUALITIES = (10, 20, 30, 40)


def _nearest(value: float, choices: tuple[int, ...]) -> int:
    return min(choices, key=lambda c: (abs(c - value), c))


def _input_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    parser.add_argument("-o", "--output", type=str, help="output file or folder (default: IN's name + _MODEL)")


def register(subparsers: argparse._SubParsersAction) -> None:
    denoise = subparsers.add_parser(
        "denoise",
        help="remove Gaussian-like noise from an image or a folder (BLADE hashed filters)",
        description=(
            "Denoise IN (a file or a folder) at its own size with the BLADE model trained for the noise level "
            f"closest to --sigma (models for sigma {', '.join(map(str, SIGMAS))} on the 0-255 scale; the "
            "multiscale one for 50). Outputs "
            "keep format, bit depth, alpha and metadata; existing files are kept without --overwrite."
        ),
    )
    _input_output(denoise)
    denoise.add_argument("--sigma", type=float, default=25.0, help="noise level on the 0-255 scale (default: 25)")
    denoise.add_argument("-m", "--model", help="a denoise model by name or file (overrides --sigma)")
    add_output_arguments(denoise)
    add_limit_arguments(denoise)
    denoise.set_defaults(func=run_denoise)

    deblock = subparsers.add_parser(
        "deblock",
        help="remove JPEG blocking and ringing from an image or a folder (BLADE hashed filters)",
        description=(
            "Deblock IN with the BLADE model trained for the JPEG quality closest to --jpeg-quality (models for "
            f"{', '.join(map(str, QUALITIES))}). Outputs keep format, bit depth, alpha and metadata."
        ),
    )
    _input_output(deblock)
    deblock.add_argument("--jpeg-quality", type=int, default=20, help="quality the JPEG was saved at (default: 20)")
    deblock.add_argument("-m", "--model", help="a deblock model by name or file (overrides --jpeg-quality)")
    add_output_arguments(deblock)
    add_limit_arguments(deblock)
    deblock.set_defaults(func=run_deblock)


def _run(args: argparse.Namespace, name: str, task: str) -> int:
    from acutance.errors import OptionError
    from acutance.models.registry import load_model

    check_output_arguments(args)
    args.model = name  # the model actually run (--model, or the one --sigma / --jpeg-quality chose)
    model = load_model(name)
    if model.info.task != task:
        raise OptionError(f"--model {name} is a {model.info.task} model, not a {task} model")
    return run_model(args, model, 1.0, tag=model.info.name)


def run_denoise(args: argparse.Namespace) -> int:
    from acutance.errors import OptionError

    if not 0 < args.sigma <= 100:
        raise OptionError(f"--sigma must be in (0, 100], got {args.sigma:g}")
    sigma = _nearest(args.sigma, SIGMAS)
    # For heavy noise the multiscale model is better (Kodak24 at sigma 50: +0.5 dB; see docs/hashed_filters.md).
    default = "blade-denoise-ms-50" if sigma == 50 else f"blade-denoise-{sigma}"
    return _run(args, args.model or default, "denoise")


def run_deblock(args: argparse.Namespace) -> int:
    from acutance.errors import OptionError

    if not 1 <= args.jpeg_quality <= 100:
        raise OptionError(f"--jpeg-quality must be in 1..100, got {args.jpeg_quality}")
    return _run(args, args.model or f"blade-deblock-q{_nearest(args.jpeg_quality, QUALITIES)}", "deblock")
