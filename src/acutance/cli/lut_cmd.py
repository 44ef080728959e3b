"""``acutance lut apply``: put a ``.cube`` 3D LUT on an image file or a folder of images.

``run_pixelwise`` is the file-or-folder driver of the colour commands (``lut``, ``style``, ``enhance``): a
per-pixel colour function applied to the colour of each image, with alpha, bit depth, ICC profile and EXIF
kept, through the shared output options of ``upscale``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.cli.upscale_cmd import add_output_arguments

INTERPOLATIONS = ("tetrahedral", "trilinear")  # acutance.grading.cube.INTERPOLATIONS (not imported: startup)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lut",
        help="apply a .cube 3D LUT (Resolve, Premiere, ffmpeg lut3d) to an image or a folder of images",
        description="Colour look-up tables. 'acutance lut apply --help' for details.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    apply = actions.add_parser(
        "apply",
        help="apply a .cube file to an image or a folder",
        description=(
            "Map every pixel of IN through a .cube 3D LUT (Adobe/Resolve format; 1D .cube files too), with "
            "tetrahedral (default, as ffmpeg's lut3d) or trilinear interpolation. Outputs keep the input's "
            "format, bit depth, alpha, ICC profile and EXIF; a malformed LUT is refused before any image is read."
        ),
    )
    apply.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    apply.add_argument("--lut", type=Path, required=True, metavar="FILE.cube", help="the LUT to apply")
    apply.add_argument("-o", "--output", type=str,
                       help="output file or folder (default: IN's name + _LUTNAME next to it; a folder keeps the tree)")
    apply.add_argument("--interpolation", choices=INTERPOLATIONS, default="tetrahedral",
                       help="interpolation between the LUT's entries (default: tetrahedral)")
    add_output_arguments(apply)
    add_limit_arguments(apply)
    apply.set_defaults(func=run_apply)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_apply(args: argparse.Namespace) -> int:
    from acutance.grading.cube import apply_lut, read_cube

    lut = read_cube(args.lut)  # before any image is read
    return run_pixelwise(args, args.lut.stem, lambda rgb: apply_lut(rgb, lut, args.interpolation))


def run_pixelwise(args: argparse.Namespace, tag: str, colour) -> int:
    """Apply ``colour(rgb) -> rgb`` to IN (file or folder); outputs named ``IN_<tag>`` by default."""
    from acutance.cli.upscale_cmd import check_output_arguments, folder_inputs, process_folder

    check_output_arguments(args)

    def process(source: Path, target: Path) -> None:
        from acutance.io import read_image, write_image

        image = read_image(source, first_frame=args.first_frame)
        result = image.replace(colour(image.rgb), image.alpha)  # alpha carried through unchanged
        write_image(target, result, overwrite=args.overwrite, bit_depth=args.bit_depth, quality=args.quality)

    source: Path = args.input
    if source.is_dir():
        named = source if source.name not in ("", "..") else source.resolve()
        root = args.output or named.with_name(f"{named.name}_{tag}")
        return process_folder(args, source, root, folder_inputs(source, root, recursive=args.recursive), process, tag)
    from acutance.cli.upscale_cmd import file_target

    target = file_target(args, source, tag)
    process(source, target)
    print(target)
    return 0
