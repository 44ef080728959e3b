"""``acutance antialias``: remove jaggies from an image or a folder of images (aa-x1, FXAA or a blur)."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.cli.upscale_cmd import add_output_arguments, check_output_arguments, run_model

METHODS = ("aa-x1", "fxaa", "blur")  # acutance.antialias.api.METHODS, without importing it for --help


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "antialias",
        help="remove jaggies (aliased edges) from an image or a folder of images",
        description=(
            "Anti-alias IN (a file or a folder) at its own size: turn the staircase edges of aliased renders, "
            "nearest-neighbour scaling or fast upscalers into clean anti-aliased ones. 'aa-x1' (default) is a "
            "learned hashed filter trained on aliased/anti-aliased pairs; 'fxaa' is FXAA-style post-process "
            "anti-aliasing (edge-directed blending); 'blur' a Gaussian of matched softness. Outputs keep the "
            "input's format, bit depth, alpha, ICC profile and EXIF; existing files are kept without --overwrite."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    parser.add_argument(
        "-o", "--output", type=str,
        help="output file or folder (default: IN's name + _METHOD next to it; a folder keeps the tree)",
    )
    parser.add_argument("--method", choices=METHODS, default="aa-x1", help="anti-aliasing method (default: aa-x1)")
    parser.add_argument("--sigma", type=float, help="blur only: the Gaussian sigma (default: the matched softness)")
    add_output_arguments(parser)
    add_limit_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.antialias.api import method_enhancer

    check_output_arguments(args)
    model = method_enhancer(args.method, args.sigma)  # options checked, model loaded, before any image is read
    args.model = model.info.name
    return run_model(args, model, 1.0, tag=args.method)
