"""``acutance upscale``: run a registered model on an image file or a folder of images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.errors import AcutanceError, ImageWriteError, OptionError
from acutance.io.image import OPTION_SUFFIXES as FORMATS  # --format NAME -> the suffix written


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
    parser.add_argument(
        "-s", "--scale", type=float,
        help="scale factor (default: the model's own); models that take any factor take 1/64..32",
    )
    parser.add_argument(
        "--outscale", type=float, metavar="S",
        help=(
            "final scale, as Real-ESRGAN's: run the model at its own factor, then resize (MATLAB bicubic) to S "
            "times the input; any factor in 1/64..32 with any model"
        ),
    )
    parser.add_argument(
        "--size", type=parse_size, metavar="WxH",
        help="exact output size, e.g. 3840x2160 (models that take any scale: bicubic, lanczos, nearest, lerf)",
    )
    parser.add_argument(
        "--detail", type=float, metavar="0..1",
        help="real-x4 only: 0 = the fidelity weights, 1 = the GAN weights (more texture); in between blends them",
    )
    parser.add_argument(
        "--post", choices=("antialias",),
        help="after the model: 'antialias' removes its jaggies with aa-x1 (see 'acutance antialias'; output named ..._aa)",
    )
    add_output_arguments(parser)
    add_limit_arguments(parser)
    # The face defaults are acutance.faces.enhance's; they are filled in by run() only when --face-enhance
    # is given, so that building this parser (and a plain upscale) imports no face code.
    faces = parser.add_argument_group("faces", "restore faces on top of the upscaled image (extra 'faces')")
    faces.add_argument(
        "--face-enhance", action="store_true",
        help="detect faces in IN, restore them and paste them on the upscaled image (output named ..._faces)",
    )
    faces.add_argument(
        "--face-restorer", dest="restorer", help="face restorer name or file (default: face-restore)",
    )
    faces.add_argument(
        "--fidelity", type=float,
        help="face restoration strength 0..1: 0 = upscaled faces unchanged, 1 = full restoration (default: 0.7)",
    )
    faces.add_argument(
        "--face-min-size", dest="min_size", type=float,
        help="leave faces smaller than this many input pixels alone (default: 32)",
    )
    parser.set_defaults(func=run, detector="hog", threshold=0.0, colour_match=True)


def _face_defaults(args: argparse.Namespace) -> None:
    """Fill the face options not given with acutance.faces.enhance's defaults (imported only now)."""
    from acutance.faces.enhance import DEFAULT_FIDELITY, DEFAULT_MIN_SIZE, DEFAULT_RESTORER

    for name, value in (("restorer", DEFAULT_RESTORER), ("fidelity", DEFAULT_FIDELITY), ("min_size", DEFAULT_MIN_SIZE)):
        if getattr(args, name, None) is None:
            setattr(args, name, value)


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` -> (width, height), both positive integers."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT with positive integers, e.g. 3840x2160, got {text!r}")
    return int(parts[0]), int(parts[1])


def parse_tile(text: str | int | None) -> int | None:
    """``--tile``: ``auto`` (or None) -> None, tiles sized from the memory budget; else a size >= 0 (0 = off)."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "auto"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise OptionError(f"--tile must be auto, 0 (off) or a tile size in pixels, got {text!r}") from None
    if value < 0:
        raise OptionError(f"--tile must be auto, 0 (off) or a positive size, got {value}")
    return value


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every image-to-image command shares: format, bit depth, quality, tiles, folders."""
    parser.add_argument("--format", choices=sorted(FORMATS), help="output format (default: the input's)")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), help="output bits per channel (default: the input's)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality 1-100 (default: 95)")
    parser.add_argument(
        "--tile", metavar="auto|N",
        help=(
            "tile size in input pixels, at least twice the model's context; 0 = off; auto (default) sizes the "
            "tiles from --max-memory and the model's working memory"
        ),
    )
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of a folder IN")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument(
        "--first-frame", action="store_true",
        help="process the first frame of an animated or multi-page input (APNG, WebP, TIFF); otherwise it is refused",
    )


def _suffix(args: argparse.Namespace, source: Path) -> str:
    return FORMATS[args.format] if args.format else source.suffix


def check_output_arguments(args: argparse.Namespace) -> None:
    """Validate the shared options and IN; ``args.output`` becomes a Path (remembering a trailing '/')."""
    if not 1 <= args.quality <= 100:
        raise OptionError(f"--quality must be in 1..100, got {args.quality}")
    args.tile = parse_tile(args.tile)  # None: auto
    if isinstance(args.output, str):
        args.output_is_folder = args.output.endswith(("/", "\\"))
        args.output = Path(args.output)
    if not args.input.exists():
        raise AcutanceError(f"{args.input}: no such file or folder")


def run(args: argparse.Namespace) -> int:
    from acutance.limits import check_output_pixels, check_scale_value
    from acutance.models.registry import load_model
    from acutance.pipeline.enhance import resolve_scale

    # The request is checked before the model is loaded or any image read: the scale is finite, positive and
    # in range, and an exact --size is within the output limit.
    for flag in ("scale", "outscale"):
        if getattr(args, flag, None) is not None:
            check_scale_value(getattr(args, flag), f"--{flag}")
    size = getattr(args, "size", None)
    if size is not None:
        if args.scale is not None or getattr(args, "outscale", None) is not None:
            raise OptionError("give --scale/--outscale or --size, not both")
        check_output_pixels(*size, what="--size")
    check_output_arguments(args)

    model = load_model(args.model, detail=args.detail)
    if size is not None:
        if args.face_enhance:
            raise OptionError("--size cannot be combined with --face-enhance; use --scale")
        if model.info.task != "upscale" or model.info.scales is not None:
            raise OptionError(
                f"--size needs a model that takes any scale (bicubic, lanczos, nearest, lerf); "
                f"{model.info.name!r} takes only x{', x'.join(f'{s:g}' for s in model.info.scales or (1,))}"
            )
        return run_model(args, model, None, tag=f"{model.info.name}_{size[0]}x{size[1]}")
    outscale = getattr(args, "outscale", None)
    if outscale is not None and model.info.scales is None:
        if args.scale is not None and abs(args.scale - outscale) > 1e-9:
            raise OptionError(f"model {model.info.name!r} takes any scale: give --scale or --outscale, not both")
        scale, outscale = resolve_scale(model, outscale), None  # it runs at the asked factor itself
    else:
        if outscale is not None and model.info.task != "upscale":
            raise OptionError(f"--outscale is for upscaling models; {model.info.name!r} is a {model.info.task} model")
        if args.scale is not None and not model.info.supports_scale(args.scale) and model.info.task == "upscale":
            own = ", ".join(f"x{s:g}" for s in model.info.scales or ())
            raise OptionError(
                f"model {model.info.name!r} supports {own}, not x{args.scale:g}; "
                f"use --outscale {args.scale:g} to resize its output to that factor"
            )
        scale = resolve_scale(model, args.scale)
        if outscale is not None and abs(outscale - scale) < 1e-9:
            outscale = None
    args.run_outscale = outscale
    tag = f"{model.info.name}_x{(outscale or scale):g}"
    if getattr(args, "post", None) == "antialias":
        from acutance.antialias.api import method_function

        args.post_runner = method_function("aa-x1")  # loaded once for a whole folder
        tag += "_aa"
    if args.face_enhance:
        from acutance.cli.faces_cmd import check_face_arguments, face_enhancer

        _face_defaults(args)
        check_face_arguments(args)
        args.face_runner = face_enhancer(args)  # the restorer is loaded once for a whole folder
        tag += "_faces"
    return run_model(args, model, scale, tag=tag)


def run_model(args: argparse.Namespace, model, scale: float | None, tag: str) -> int:
    """Run ``model`` on IN (file or folder); outputs are named with ``tag`` (``photo_<tag>.png``)."""
    from acutance.pipeline.budget import min_tile

    args.tag = tag
    if args.tile and args.tile < min_tile(model.info):  # before any image is read
        raise OptionError(
            f"--tile {args.tile} is too small for model {model.info.name!r} (context {model.info.context} pixels): "
            f"the minimum is {min_tile(model.info)}; or 0 (off), or auto"
        )
    if args.input.is_dir():
        return _run_folder(args, model, scale)
    return _run_file(args, model, scale)


def file_target(args: argparse.Namespace, source: Path, tag: str, keep: tuple[tuple[Path, str], ...] = ()) -> Path:
    """The checked output of a one-file run of any image command: ``-o`` (a file or a folder) or
    ``IN_TAG.ext`` beside the input. Refused before any work: an input that is no image, an output that
    is the input (or another file in ``keep``, as (path, what)), exists without --overwrite, or has an
    unknown extension or one that disagrees with --format."""
    from acutance.io import check_output_format, check_writable_output, is_image_path

    if not is_image_path(source):
        raise AcutanceError(f"{source}: not an image file (supported: png, jpg, webp, tif, bmp)")
    name = f"{source.stem}_{tag}{_suffix(args, source)}"
    if args.output is None:
        target = source.with_name(name)
    elif args.output.is_dir() or getattr(args, "output_is_folder", False):
        target = args.output / name
    else:
        target = args.output
    for kept, what in ((source, "the input"), *keep):
        if _same_file(kept, target):
            raise ImageWriteError(f"{target} is {what}; choose another output (-o), {what} is never replaced")
    target = check_writable_output(target, overwrite=args.overwrite)
    if not is_image_path(target):
        raise ImageWriteError(f"cannot write {target}: unknown image extension {target.suffix!r}")
    check_output_format(target, format=args.format, bit_depth=args.bit_depth)  # -o x.png --format jpg: refused
    return target


class _TileBar:
    """``on_tile(done, total)`` as a tqdm bar over the tiles (with ETA); silent when stderr is no terminal."""

    def __init__(self, desc: str) -> None:
        self.desc, self.bar = desc, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="tile", desc=self.desc, leave=False, disable=None, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _process(source: Path, target: Path, args: argparse.Namespace, model, scale: float, progress: bool) -> None:
    from acutance.io import read_image, write_image
    from acutance.pipeline import enhance_image

    image = read_image(source, first_frame=args.first_frame)
    crop = None
    if model.info.task == "upscale":
        from acutance.rescale.tag import check_upscale

        crop = check_upscale(source, image, args.model)  # an IRN LR and its upscaler belong together (else a notice)
    size = getattr(args, "size", None)
    if size is not None:  # --size WxH: per-axis scales of this image
        scale = (size[1] / image.rgb.shape[0], size[0] / image.rgb.shape[1])
    bar = _TileBar(source.name) if progress else None
    try:
        result = enhance_image(
            image, model, scale, tile=args.tile, on_tile=bar, outscale=getattr(args, "run_outscale", None)
        )
    finally:
        if bar is not None:
            bar.close()
    if crop is not None:  # an IRN original padded to the scale: cropped back
        result = result.replace(result.rgb[: crop[0], : crop[1]], None if result.alpha is None else result.alpha[: crop[0], : crop[1]])
    post = getattr(args, "post_runner", None)
    if post is not None:  # on the model's output, before faces are pasted back
        import numpy as np

        result = result.replace(np.clip(post(result.rgb), 0.0, 1.0), result.alpha)
    face_runner = getattr(args, "face_runner", None)
    if face_runner is not None:
        from acutance.cli.faces_cmd import print_notices

        rgb, report = face_runner(image.rgb, upscaled_background=result.rgb)
        print_notices(source, report)
        result = result.replace(rgb, result.alpha)
    write_image(target, result, overwrite=args.overwrite, bit_depth=args.bit_depth, quality=args.quality)


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))


def _run_file(args: argparse.Namespace, model, scale: float) -> int:
    source: Path = args.input
    target = file_target(args, source, args.tag)
    _process(source, target, args, model, scale, progress=True)
    print(target)
    return 0


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def folder_inputs(source: Path, root: Path, *, recursive: bool) -> list[Path]:
    """The images of a folder IN for a run into folder ``root``: non-images skipped with a warning; a ``root``
    that is a file, or is IN itself, or no image at all, is an error before any work.

    When ``root`` lies inside IN, a recursive run leaves out everything under it (earlier outputs are not
    inputs: a rerun of ``upscale DIR -o DIR/x2 -r`` must not write ``DIR/x2/x2``).
    """
    from acutance.io import list_images

    if root.exists() and not root.is_dir():
        raise ImageWriteError(f"cannot write into {root}: it is a file, not a folder")
    source_real, root_real = source.resolve(), root.resolve()
    if root_real == source_real:
        raise ImageWriteError(
            f"the output folder {root} is the input folder; choose another -o (inputs are never replaced)"
        )
    images, skipped = list_images(source, recursive=recursive)
    if _is_within(root_real, source_real):
        images = [path for path in images if not _is_within(path.resolve(), root_real)]
        skipped = [path for path in skipped if not _is_within(path.resolve(), root_real)]
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


def folder_targets(args: argparse.Namespace, source: Path, root: Path, images: list[Path]) -> list[Path]:
    """Where each image of a folder run goes (the tree mirrored under ``root``, the output format's suffix).

    An output that would land on one of the inputs is refused before any work, with or without --overwrite.
    """
    targets = [(root / path.relative_to(source)).with_suffix(_suffix(args, path)) for path in images]
    inputs = {path.resolve() for path in images}
    for path, target in zip(images, targets):
        if target.resolve() in inputs:
            raise ImageWriteError(
                f"the output for {path} would be {target}, which is an input; choose another -o "
                "(inputs are never replaced)"
            )
    return targets


def process_folder(args: argparse.Namespace, source: Path, root: Path, images: list[Path], process, desc: str) -> int:
    """Run ``process(path, target)`` on every image of a folder run; a bad file is reported and skipped, the
    exit status is 1 if any failed. Targets mirror the tree under ``root`` with the output format's suffix."""
    from tqdm import tqdm

    from acutance.io import check_writable_output

    targets = folder_targets(args, source, root, images)
    failures = 0
    for path, target in tqdm(list(zip(images, targets)), unit="image", desc=desc, disable=None, file=sys.stderr):
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
