"""``acutance upscale``: run a registered model on an image file or a folder of images."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from acutance.errors import AcutanceError, ImageWriteError, OptionError

FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp", "tif": ".tif", "tiff": ".tif", "bmp": ".bmp"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upscale",
        help="upscale (or enhance) an image or a folder of images",
        description=(
            "Run a registered model on IN (a file or a folder). Outputs keep the input's format, bit depth, "
            "alpha, ICC profile and EXIF unless told otherwise. Existing files are never replaced without "
            "--overwrite; every image is written to a temporary file first and renamed when complete."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    parser.add_argument(
        "-o",
        "--output",
        type=str,  # a str, so that a trailing '/' (write into this folder) survives; run() makes it a Path
        help="output file or folder (default: IN's name + _MODEL_xS next to it; a folder keeps the tree)",
    )
    parser.add_argument(
        "-m", "--model", default="bicubic",
        help="model name (see 'acutance list') or a model file of your own, e.g. from 'acutance train' (default: bicubic)",
    )
    parser.add_argument("-s", "--scale", type=float, help="scale factor (default: the model's own)")
    parser.add_argument(
        "--size", type=parse_size, metavar="WxH",
        help="exact output size, e.g. 3840x2160 (models that take any scale: bicubic, lanczos, nearest, lerf)",
    )
    parser.add_argument(
        "--detail", type=float, metavar="0..1",
        help="real-x4 only: 0 = the fidelity weights, 1 = the GAN weights (more texture); in between blends them",
    )
    add_output_arguments(parser)
    from acutance.faces.enhance import DEFAULT_FIDELITY, DEFAULT_MIN_SIZE, DEFAULT_RESTORER

    faces = parser.add_argument_group("faces", "restore faces on top of the upscaled image (extra 'faces')")
    faces.add_argument(
        "--face-enhance", action="store_true",
        help="detect faces in IN, restore them and paste them on the upscaled image (output named ..._faces)",
    )
    faces.add_argument(
        "--face-restorer", dest="restorer", default=DEFAULT_RESTORER,
        help=f"face restorer name or file (default: {DEFAULT_RESTORER})",
    )
    faces.add_argument(
        "--fidelity", type=float, default=DEFAULT_FIDELITY,
        help=(
            "face restoration strength 0..1: 0 = upscaled faces unchanged, 1 = full restoration "
            f"(default: {DEFAULT_FIDELITY})"
        ),
    )
    faces.add_argument(
        "--face-min-size", dest="min_size", type=float, default=DEFAULT_MIN_SIZE,
        help=f"leave faces smaller than this many input pixels alone (default: {DEFAULT_MIN_SIZE})",
    )
    parser.set_defaults(func=run, detector="hog", threshold=0.0, colour_match=True)


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` -> (width, height), both positive integers."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT with positive integers, e.g. 3840x2160, got {text!r}")
    return int(parts[0]), int(parts[1])


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every image-to-image command shares: format, bit depth, quality, tiles, folders."""
    parser.add_argument("--format", choices=sorted(FORMATS), help="output format (default: the input's)")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), help="output bits per channel (default: the input's)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality 1-100 (default: 95)")
    parser.add_argument("--tile", type=int, help="tile size in input pixels; 0 = off (default: the model's advice)")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of a folder IN")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def _suffix(args: argparse.Namespace, source: Path) -> str:
    return FORMATS[args.format] if args.format else source.suffix


def check_output_arguments(args: argparse.Namespace) -> None:
    """Validate the shared options and IN; ``args.output`` becomes a Path (remembering a trailing '/')."""
    if not 1 <= args.quality <= 100:
        raise OptionError(f"--quality must be in 1..100, got {args.quality}")
    if args.tile is not None and args.tile < 0:
        raise OptionError(f"--tile must be >= 0, got {args.tile}")
    if isinstance(args.output, str):
        args.output_is_folder = args.output.endswith(("/", "\\"))
        args.output = Path(args.output)
    if not args.input.exists():
        raise AcutanceError(f"{args.input}: no such file or folder")


def run(args: argparse.Namespace) -> int:
    from acutance.models.registry import load_model

    if args.scale is not None and not (math.isfinite(args.scale) and args.scale > 0):
        raise OptionError(f"--scale must be a positive number, got {args.scale:g}")
    check_output_arguments(args)
    from acutance.pipeline.enhance import resolve_scale

    model = load_model(args.model, detail=args.detail)
    size = getattr(args, "size", None)
    if size is not None:
        if args.scale is not None:
            raise OptionError("give --scale or --size, not both")
        if args.face_enhance:
            raise OptionError("--size cannot be combined with --face-enhance; use --scale")
        if model.info.task != "upscale" or model.info.scales is not None:
            raise OptionError(
                f"--size needs a model that takes any scale (bicubic, lanczos, nearest, lerf); "
                f"{model.info.name!r} takes only x{', x'.join(f'{s:g}' for s in model.info.scales or (1,))}"
            )
        return run_model(args, model, None, tag=f"{model.info.name}_{size[0]}x{size[1]}")
    scale = resolve_scale(model, args.scale)
    tag = f"{model.info.name}_x{scale:g}"
    if args.face_enhance:
        from acutance.cli.faces_cmd import check_face_arguments, face_enhancer

        check_face_arguments(args)
        args.face_runner = face_enhancer(args)  # the restorer is loaded once for a whole folder
        tag += "_faces"
    return run_model(args, model, scale, tag=tag)


def run_model(args: argparse.Namespace, model, scale: float, tag: str) -> int:
    """Run ``model`` on IN (file or folder); outputs are named with ``tag`` (``photo_<tag>.png``)."""
    args.tag = tag
    if args.input.is_dir():
        return _run_folder(args, model, scale)
    return _run_file(args, model, scale)


def _file_output(args: argparse.Namespace, source: Path, scale: float) -> Path:
    name = f"{source.stem}_{args.tag}{_suffix(args, source)}"
    if args.output is None:
        return source.with_name(name)
    if args.output.is_dir() or getattr(args, "output_is_folder", False):
        return args.output / name
    return args.output


def _process(source: Path, target: Path, args: argparse.Namespace, model, scale: float, progress: bool) -> None:
    from acutance.io import read_image, write_image
    from acutance.pipeline import enhance_image

    image = read_image(source)
    size = getattr(args, "size", None)
    if size is not None:  # --size WxH: per-axis scales of this image
        scale = (size[1] / image.rgb.shape[0], size[0] / image.rgb.shape[1])
    on_tile = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="tile", desc=source.name, leave=False, disable=None, file=sys.stderr)

        def on_tile(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

    try:
        result = enhance_image(image, model, scale, tile=args.tile, on_tile=on_tile)
    finally:
        if bar is not None:
            bar.close()
    face_runner = getattr(args, "face_runner", None)
    if face_runner is not None:
        from acutance.cli.faces_cmd import print_notices

        rgb, report = face_runner(image.rgb, upscaled_background=result.rgb)
        print_notices(source, report)
        result = result.replace(rgb, result.alpha)
    write_image(target, result, overwrite=args.overwrite, bit_depth=args.bit_depth, quality=args.quality)


def _run_file(args: argparse.Namespace, model, scale: float) -> int:
    from acutance.io import check_writable_output, is_image_path

    source: Path = args.input
    if not is_image_path(source):
        raise AcutanceError(f"{source}: not an image file (supported: png, jpg, webp, tif, bmp)")
    target = check_writable_output(_file_output(args, source, scale), overwrite=args.overwrite)
    if not is_image_path(target):
        raise ImageWriteError(f"cannot write {target}: unknown image extension {target.suffix!r}")
    _process(source, target, args, model, scale, progress=True)
    print(target)
    return 0


def folder_inputs(source: Path, root: Path, *, recursive: bool) -> list[Path]:
    """The images of a folder IN for a run into folder ``root``: non-images skipped with a warning; a ``root``
    that is a file, or no image at all, is an error before any work."""
    from acutance.io import list_images

    if root.exists() and not root.is_dir():
        raise ImageWriteError(f"cannot write into {root}: it is a file, not a folder")
    images, skipped = list_images(source, recursive=recursive)
    for path in skipped:
        print(f"acutance: warning: skipping {path}: not an image", file=sys.stderr)
    if not images:
        raise AcutanceError(f"{source}: no images found" + ("" if recursive else " (try --recursive)"))
    return images


def _run_folder(args: argparse.Namespace, model, scale: float) -> int:
    source: Path = args.input
    named = source if source.name not in ("", "..") else source.resolve()  # '.' has no name to extend
    root = args.output or named.with_name(f"{named.name}_{args.tag}")
    images = folder_inputs(source, root, recursive=args.recursive)
    return process_folder(
        args, source, root, images, lambda path, target: _process(path, target, args, model, scale, progress=False), args.tag
    )


def process_folder(args: argparse.Namespace, source: Path, root: Path, images: list[Path], process, desc: str) -> int:
    """Run ``process(path, target)`` on every image of a folder run; a bad file is reported and skipped, the
    exit status is 1 if any failed. Targets mirror the tree under ``root`` with the output format's suffix."""
    from tqdm import tqdm

    from acutance.io import check_writable_output

    failures = 0
    for path in tqdm(images, unit="image", desc=desc, disable=None, file=sys.stderr):
        target = (root / path.relative_to(source)).with_suffix(_suffix(args, path))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            check_writable_output(target, overwrite=args.overwrite)
            process(path, target)
        except AcutanceError as error:
            failures += 1
            print(f"acutance: error: {error}", file=sys.stderr)
        except OSError as error:
            failures += 1
            print(f"acutance: error: {target}: {error.strerror or error}", file=sys.stderr)
    done = len(images) - failures
    print(f"{done} of {len(images)} images written to {root}" + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0
