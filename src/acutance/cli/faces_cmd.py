"""``acutance faces``: restore the faces of an image (or a folder of images) and paste them back seamlessly."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from acutance.errors import AcutanceError, ImageWriteError, OptionError
from acutance.io.image import OPTION_SUFFIXES as FORMATS  # --format NAME -> the suffix written


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "faces",
        help="restore faces: detect, align, restore, paste back without seams",
        description=(
            "Find the faces in IN (a file or a folder), restore each on the 512x512 FFHQ template and paste it "
            "back with a feathered face mask and the original's skin colour. --fidelity blends the restoration "
            "with the original face: 0 leaves the image exactly as it was, 1 is the full restoration. An image "
            "without faces is written unchanged, with a notice."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    parser.add_argument(
        "-o",
        "--output",
        type=str,
        help="output file or folder (default: IN's name + _faces next to it; a folder keeps the tree)",
    )
    add_face_arguments(parser, restorer_flag="--restorer")
    parser.add_argument("--format", choices=sorted(FORMATS), help="output format (default: the input's)")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), help="output bits per channel (default: the input's)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality 1-100 (default: 95)")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of a folder IN")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.set_defaults(func=run)


def add_face_arguments(parser: argparse.ArgumentParser, *, restorer_flag: str) -> None:
    """Options shared by ``faces`` and ``upscale --face-enhance`` (the restorer flag's name differs)."""
    from acutance.faces.enhance import DEFAULT_FIDELITY, DEFAULT_MIN_SIZE, DEFAULT_RESTORER

    parser.add_argument(
        restorer_flag,
        dest="restorer",
        default=DEFAULT_RESTORER,
        help=f"face restorer: a name, an .onnx file or a GFPGAN checkpoint (default: {DEFAULT_RESTORER})",
    )
    parser.add_argument(
        "--fidelity",
        type=float,
        default=DEFAULT_FIDELITY,
        help=f"restoration strength 0..1: 0 = faces unchanged, 1 = full restoration (default: {DEFAULT_FIDELITY})",
    )
    parser.add_argument(
        "--detector",
        choices=("hog", "cnn"),
        default="hog",
        help="face detector (default: hog; cnn finds turned and smaller faces, slower)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="detector score threshold; higher = fewer, surer faces (default: 0)",
    )
    parser.add_argument(
        "--min-size",
        type=float,
        default=DEFAULT_MIN_SIZE,
        help=f"leave faces smaller than this many input pixels alone (default: {DEFAULT_MIN_SIZE})",
    )
    parser.add_argument(
        "--no-colour-match",
        dest="colour_match",
        action="store_false",
        help="do not match the restored skin colour to the original's",
    )


def check_face_arguments(args: argparse.Namespace) -> None:
    """Validate the face options before any work, with one-line errors."""
    if not (math.isfinite(args.fidelity) and 0.0 <= args.fidelity <= 1.0):
        raise OptionError(
            f"--fidelity must be in 0..1 (0 = faces unchanged, 1 = full restoration), got {args.fidelity:g}"
        )
    if not (math.isfinite(args.min_size) and args.min_size >= 0):
        raise OptionError(f"--min-size must be >= 0 pixels, got {args.min_size:g}")
    if not math.isfinite(args.threshold):
        raise OptionError(f"--threshold must be a finite number, got {args.threshold}")


def face_enhancer(args: argparse.Namespace):
    """``enhance(rgb, upscaled_background=None) -> (rgb, report)`` with the restorer loaded once."""
    from acutance.faces import enhance as faces

    restorer = faces.load_restorer(args.restorer)

    def run_faces(rgb, upscaled_background=None):
        return faces.enhance_faces(
            rgb,
            restorer,
            upscaled_background=upscaled_background,
            fidelity=args.fidelity,
            detector=args.detector,
            threshold=args.threshold,
            min_size=args.min_size,
            colour_match=args.colour_match,
        )

    return run_faces


def print_notices(source: Path, report) -> None:
    """The report's notices on stderr, one line each, naming the file."""
    for notice in report.notices:
        print(f"acutance: notice: {source}: {notice}", file=sys.stderr)


def _suffix(args: argparse.Namespace, source: Path) -> str:
    return FORMATS[args.format] if args.format else source.suffix


def run(args: argparse.Namespace) -> int:
    from acutance.cli.upscale_cmd import folder_inputs
    from acutance.io import check_writable_output, is_image_path

    if not 1 <= args.quality <= 100:
        raise OptionError(f"--quality must be in 1..100, got {args.quality}")
    check_face_arguments(args)
    output_is_folder = isinstance(args.output, str) and args.output.endswith(("/", "\\"))
    output = Path(args.output) if args.output is not None else None
    source: Path = args.input
    if not source.exists():
        raise AcutanceError(f"{source}: no such file or folder")

    if source.is_dir():
        named = source if source.name not in ("", "..") else source.resolve()
        root = output or named.with_name(f"{named.name}_faces")
        images = folder_inputs(source, root, recursive=args.recursive)
        enhance = face_enhancer(args)
        return _run_folder(args, enhance, source, root, images)

    if not is_image_path(source):
        raise AcutanceError(f"{source}: not an image file (supported: png, jpg, webp, tif, bmp)")
    name = f"{source.stem}_faces{_suffix(args, source)}"
    if output is None:
        target = source.with_name(name)
    elif output.is_dir() or output_is_folder:
        target = output / name
    else:
        target = output
    check_writable_output(target, overwrite=args.overwrite)
    if not is_image_path(target):
        raise ImageWriteError(f"cannot write {target}: unknown image extension {target.suffix!r}")
    enhance = face_enhancer(args)
    _process(args, enhance, source, target)
    print(target)
    return 0


def _process(args: argparse.Namespace, enhance, source: Path, target: Path) -> None:
    from acutance.io import read_image, write_image

    image = read_image(source)
    rgb, report = enhance(image.rgb)
    print_notices(source, report)
    write_image(
        target,
        image.replace(rgb, image.alpha),
        overwrite=args.overwrite,
        bit_depth=args.bit_depth,
        quality=args.quality,
    )


def _run_folder(args: argparse.Namespace, enhance, source: Path, root: Path, images: list[Path]) -> int:
    from acutance.cli.upscale_cmd import process_folder

    return process_folder(args, source, root, images, lambda path, target: _process(args, enhance, path, target), "faces")
