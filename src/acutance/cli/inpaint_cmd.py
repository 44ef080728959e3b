"""``acutance inpaint``: fill the holes a mask marks (an object, text, a scratch) in an image or a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.cli.upscale_cmd import add_output_arguments
from acutance.errors import AcutanceError, OptionError

METHODS = ("auto", "telea", "ns", "learned")  # acutance.inpaint.METHODS (not imported here: start-up time)
ALPHA = "alpha"  # --mask alpha: the input's own alpha channel is the mask
TAG = "inpaint"


class InpaintNotice(UserWarning):
    """Something the user should know about a mask (thresholded, empty): printed as one warning line."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inpaint",
        help="remove objects, text or scratches: fill the pixels a mask marks, at full resolution",
        description=(
            "Fill the pixels of IN (a file or a folder) that MASK marks; every other pixel is kept exactly. "
            "MASK is a mask image of IN's size: its bright pixels (white on black) are filled, or, if it has "
            "transparency, its opaque pixels; grey values are thresholded at 50%. '--mask alpha' uses IN's own "
            "alpha channel instead: its transparent pixels are filled. For a folder IN, MASK is one mask for "
            "every image or a folder of masks matched by name (MASKDIR/photo.png for photo.jpg, sub-folders "
            "mirrored). Outputs keep the input's format, bit depth, alpha (unless it was the mask), ICC profile "
            "and EXIF; existing files are kept without --overwrite."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    parser.add_argument(
        "--mask", required=True, metavar="MASK",
        help="mask image, folder of masks matched by name, or 'alpha' (IN's own alpha channel; ./alpha for a file named alpha)",
    )
    parser.add_argument(
        "-o", "--output", type=str,
        help="output file or folder (default: IN's name + _inpaint next to it; a folder keeps the tree)",
    )
    parser.add_argument(
        "--method", choices=METHODS, default="auto",
        help="auto (default): telea for thin masks (scratches, text), learned for larger holes; "
             "telea / ns: OpenCV's fast marching / Navier-Stokes; learned: our network",
    )
    parser.add_argument(
        "--dilate", type=int, default=0, metavar="N",
        help="grow the mask by N pixels first, to cover halos and antialiased edges (default: 0)",
    )
    parser.add_argument(
        "--resize-mask", action="store_true",
        help="rescale a mask of another size to the image's (otherwise a size mismatch is an error)",
    )
    add_output_arguments(parser)
    for action in parser._actions:  # a hole is filled from the whole image: the shared --tile does not apply
        if action.dest == "tile":
            action.help = argparse.SUPPRESS
    add_limit_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.cli.upscale_cmd import check_output_arguments

    if args.dilate < 0:
        raise OptionError(f"--dilate must be >= 0 pixels, got {args.dilate}")
    check_output_arguments(args)
    masks = _Masks(args)  # a missing or unreadable mask fails here, before any image is read
    source: Path = args.input
    if source.is_dir():
        return _run_folder(args, masks)
    return _run_file(args, masks)


class _Masks:
    """Where each input's mask comes from: its alpha, one mask file (read once), or a folder matched by name."""

    def __init__(self, args: argparse.Namespace):
        self.alpha = args.mask.strip().lower() == ALPHA
        self.folder: Path | None = None
        self.single = None  # (path, values) of one mask file for every input
        if self.alpha:
            return
        path = Path(args.mask)
        if path.is_dir():
            self.folder = path
        elif path.exists():
            self.single = (path, self._read(path))
        else:
            raise AcutanceError(f"{path}: no such mask file or folder (or give --mask alpha for IN's own alpha)")

    @staticmethod
    def _read(path: Path):
        from acutance.inpaint.mask_file import mask_values
        from acutance.io import is_image_path, read_image

        if not is_image_path(path):
            raise AcutanceError(f"{path}: not an image file (a mask is a PNG, JPEG, WebP, TIFF or BMP image)")
        return mask_values(read_image(path))

    def for_input(self, image, source: Path, relative: Path):
        """(mask values HxW before thresholding, its name in messages, whether IN's alpha is the mask)."""
        from acutance.inpaint.mask_file import alpha_values

        if self.alpha:
            return alpha_values(image, str(source)), f"the alpha of {source}", True
        if self.single is not None:
            return self.single[1], str(self.single[0]), False
        path = self._matched(relative)
        return self._read(path), str(path), False

    def _matched(self, relative: Path) -> Path:
        from acutance.io import IMAGE_EXTENSIONS

        folder = self.folder / relative.parent
        extensions = [".png", *sorted(set(IMAGE_EXTENSIONS) - {".png"})]
        for stem in (relative.stem, f"{relative.stem}_mask"):
            for extension in extensions:
                for candidate in (folder / f"{stem}{extension}", folder / f"{stem}{extension.upper()}"):
                    if candidate.is_file():
                        return candidate
        raise AcutanceError(f"no mask for {relative} in {self.folder} (looked for {folder / relative.stem}.png, "
                            f"or another image named {relative.stem} or {relative.stem}_mask)")  # fmt: skip


def _process(args: argparse.Namespace, masks: _Masks, source: Path, target: Path, relative: Path) -> None:
    import warnings

    from acutance.inpaint import inpaint, prepare_mask
    from acutance.inpaint.mask_file import dilate, fit_mask, is_binary
    from acutance.io import read_image, write_image

    image = read_image(source, first_frame=args.first_frame)
    values, name, from_alpha = masks.for_input(image, source, relative)
    if not is_binary(values):  # asked of the mask as given: --resize-mask's own grey edges need no notice
        warnings.warn(f"{name} is not black and white: its grey pixels are thresholded at 50%", InpaintNotice,
                      stacklevel=1)  # fmt: skip
    values = fit_mask(values, image.rgb.shape, resize=args.resize_mask, name=name, image_name=str(source),
                      hint=" (WxH); give --resize-mask to rescale the mask")  # fmt: skip
    fill = dilate(prepare_mask(values, image.rgb.shape, name=name), args.dilate, name)
    if fill.any():
        rgb = inpaint(image.rgb, fill, args.method)
    else:
        warnings.warn(f"{name} marks no pixel: {source} is written unchanged", InpaintNotice, stacklevel=1)
        rgb = image.rgb
    # The alpha stays alpha unless it was the mask: then its holes are filled and the result is opaque.
    result = image.replace(rgb, None if from_alpha else image.alpha)
    write_image(target, result, overwrite=args.overwrite, bit_depth=args.bit_depth, quality=args.quality)


def _run_file(args: argparse.Namespace, masks: _Masks) -> int:
    from acutance.cli.upscale_cmd import file_target

    source: Path = args.input
    keep = ((masks.single[0], "the mask"),) if masks.single else ()
    target = file_target(args, source, TAG, keep)
    _process(args, masks, source, target, Path(source.name))
    print(target)
    return 0


def _run_folder(args: argparse.Namespace, masks: _Masks) -> int:
    from acutance.cli.upscale_cmd import folder_inputs, process_folder

    source: Path = args.input
    named = source if source.name not in ("", "..") else source.resolve()
    root = args.output or named.with_name(f"{named.name}_{TAG}")
    images = folder_inputs(source, root, recursive=args.recursive)
    if masks.folder is not None:  # a mask folder inside IN holds masks, not inputs
        inside = masks.folder.resolve()
        images = [path for path in images if inside not in path.resolve().parents]
        if not images:
            raise AcutanceError(f"{source}: no images found outside the mask folder {masks.folder}")
    if masks.single is not None:
        images = [path for path in images if path.resolve() != masks.single[0].resolve()]

    def process(path: Path, target: Path) -> None:
        _process(args, masks, path, target, path.relative_to(source))

    return process_folder(args, source, root, images, process, TAG)

