"""``acutance style``: give an image (or a folder) the colour look of a reference image, and export that look
as a ``.cube`` 3D LUT."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.cli.upscale_cmd import add_output_arguments
from acutance.errors import OptionError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "style",
        help="give an image the colour look of a reference (DNCM); export it as a .cube LUT",
        description=(
            "Transfer the colour look of --ref to IN (a file or a folder) with DNCM, a deterministic neural colour "
            "mapping (after Neural Preset): a small encoder reads the colour statistics of both images, and every "
            "pixel is mapped by the same function, so there are no spatial artefacts and 4K is fast. "
            "--export-lut writes the mapping as a .cube 3D LUT for Resolve, Premiere or ffmpeg's lut3d "
            "(a file IN only). A grayscale reference is refused: it has no colour to transfer."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    parser.add_argument("--ref", type=Path, required=True, metavar="REF", help="the reference image whose look is wanted")
    parser.add_argument("-o", "--output", type=str,
                        help="output file or folder (default: IN's name + _style next to it, unless only --export-lut)")
    parser.add_argument("--strength", type=float, default=1.0, metavar="0..1",
                        help="0 = IN unchanged, 1 = the full look (default: 1)")
    parser.add_argument("--export-lut", type=Path, metavar="FILE.cube", help="write the mapping as a .cube 3D LUT")
    parser.add_argument("--size", type=int, default=33, help="the exported LUT's grid size (default: 33)")
    parser.add_argument("--weights", type=Path, help="a DNCM model file of your own (from 'acutance train dncm')")
    add_output_arguments(parser)
    add_limit_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.cli.lut_cmd import run_pixelwise
    from acutance.grading.dncm import ColourMapping, check_strength, compute_mapping, is_grayscale, load_encoder
    from acutance.io import check_writable_output, read_image

    check_strength(args.strength)
    if not 2 <= args.size <= 129:
        raise OptionError(f"--size must be in 2..129, got {args.size}")
    if args.export_lut is not None:
        if args.input.is_dir():
            raise OptionError("--export-lut needs one input image, not a folder (the look depends on the input)")
        if args.export_lut.suffix.lower() != ".cube":
            raise OptionError(f"--export-lut {args.export_lut}: the file must end in .cube")
        check_writable_output(args.export_lut, overwrite=args.overwrite)
    if not args.ref.is_file():
        raise OptionError(f"--ref {args.ref}: no such file")
    encoder = load_encoder(args.weights)
    ref = read_image(args.ref, first_frame=args.first_frame).rgb
    if args.export_lut is not None:
        mapping = compute_mapping(read_image(args.input, first_frame=args.first_frame).rgb, ref, encoder)
        print(mapping.to_cube(args.export_lut, args.size, args.strength, title=f"acutance style {args.ref.stem}",
                              overwrite=args.overwrite))
        if args.output is None:
            return 0
    if is_grayscale(ref):  # before any output
        raise OptionError(f"--ref {args.ref} is grayscale: it has no colours to transfer; give a colour reference")
    _, stylise = encoder.tables(ref)

    def colour(rgb):
        normalise, _ = encoder.tables(rgb)
        return ColourMapping(normalise, stylise).apply(rgb, args.strength)

    return run_pixelwise(args, "style", colour)
