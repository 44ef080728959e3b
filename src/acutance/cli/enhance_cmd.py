"""``acutance enhance``: automatic colour enhancement (saturation and contrast) of an image or a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.cli.upscale_cmd import add_output_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "enhance",
        help="automatic colour enhancement (saturation and contrast) of an image or a folder",
        description=(
            "Enhance the colours of IN (a file or a folder). --color auto: an image-adaptive saturation lift "
            "(dull images gain more, saturated colours are not clipped) and a percentile contrast stretch; "
            "--color boost: a plain global saturation boost (--gain), for comparison. Outputs keep the input's "
            "format, bit depth, alpha, ICC profile and EXIF."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    parser.add_argument("-o", "--output", type=str,
                        help="output file or folder (default: IN's name + _color next to it; a folder keeps the tree)")
    parser.add_argument("--color", "--colour", dest="color", choices=("auto", "boost"), default="auto",
                        help="auto (adaptive, default) or boost (global saturation times --gain)")
    parser.add_argument("--amount", type=float, default=1.0, help="auto: strength 0..2 (default: 1)")
    parser.add_argument("--gain", type=float, default=1.3, help="boost: the saturation factor (default: 1.3)")
    add_output_arguments(parser)
    add_limit_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from acutance.cli.lut_cmd import run_pixelwise
    from acutance.grading.enhance import auto_colour, saturation_boost

    probe = np.full((2, 2, 3), 0.5, dtype=np.float32)  # the options are checked before any image is read
    if args.color == "auto":
        auto_colour(probe, args.amount)
        return run_pixelwise(args, "color", lambda rgb: auto_colour(rgb, args.amount))
    saturation_boost(probe, args.gain)
    return run_pixelwise(args, "boost", lambda rgb: saturation_boost(rgb, args.gain))
