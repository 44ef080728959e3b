"""``acutance sharpen``: unsharp mask or AMD CAS on an image file or a folder of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.cli.upscale_cmd import add_output_arguments, check_output_arguments, run_model

METHODS = ("usm", "cas", "blade")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sharpen",
        help="sharpen an image or a folder of images (unsharp mask or AMD CAS)",
        description=(
            "Sharpen IN (a file or a folder) at its own size. 'usm' is the classic unsharp mask "
            "(in + amount * (in - blur)); 'cas' is AMD FidelityFX Contrast Adaptive Sharpening, which "
            "sharpens flat detail more than strong edges and never overshoots; 'blade' is a learned hashed filter "
            "trained to undo a mild (sigma 1) blur. Outputs keep the input's "
            "format, bit depth, alpha, ICC profile and EXIF; existing files are kept without --overwrite."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    parser.add_argument(
        "-o",
        "--output",
        type=str,
        help="output file or folder (default: IN's name + _METHOD next to it; a folder keeps the tree)",
    )
    parser.add_argument("--method", choices=METHODS, default="cas", help="sharpening method (default: cas)")
    usm = parser.add_argument_group("usm options")
    usm.add_argument("--amount", type=float, help="strength: out = in + amount * detail (default 0.5)")
    usm.add_argument("--radius", type=float, help="blur sigma in pixels (default 1.0)")
    usm.add_argument("--threshold", type=float, help="ignore detail below this, in [0, 1] (default 0)")
    cas = parser.add_argument_group("cas options")
    cas.add_argument("--sharpness", type=float, help="0 (least) to 1 (most) (default 0.5)")
    add_output_arguments(parser)
    add_limit_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from acutance.errors import OptionError
    from acutance.filters import contrast_adaptive_sharpen, unsharp_mask
    from acutance.models import classical
    from acutance.models.registry import model_info

    usm_options = {"amount": args.amount, "radius": args.radius, "threshold": args.threshold}
    given = [f"--{name}" for name, value in usm_options.items() if value is not None]
    if args.method != "usm" and given:
        raise OptionError(f"{', '.join(given)}: options of --method usm, not {args.method}")
    if args.method != "cas" and args.sharpness is not None:
        raise OptionError(f"--sharpness: an option of --method cas, not {args.method}")
    check_output_arguments(args)
    probe = np.full((3, 3, 3), 0.5, dtype=np.float32)  # the filters check their options: fail before writing
    if args.method == "blade":
        from acutance.models.registry import load_model

        args.model = "blade-sharpen"
        return run_model(args, load_model("blade-sharpen"), 1.0, tag="blade")
    if args.method == "usm":
        options = {name: value for name, value in usm_options.items() if value is not None}
        unsharp_mask(probe, **options)
        model = classical.usm(model_info("usm"), **options)
    else:
        sharpness = 0.5 if args.sharpness is None else args.sharpness
        contrast_adaptive_sharpen(probe, sharpness)
        model = classical.cas(model_info("cas"), sharpness)
    args.model = args.method
    return run_model(args, model, 1.0, tag=args.method)
