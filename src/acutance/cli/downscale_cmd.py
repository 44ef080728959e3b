"""``acutance downscale``: make an LR image (a thumbnail) that an IRN upscaler can restore, or a plain one."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.errors import AcutanceError, ImageWriteError, OptionError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "downscale",
        help="downscale an image so that 'acutance upscale' can restore it (IRN), or plainly (MATLAB bicubic)",
        description=(
            "Downscale IN. --model irn-x2 (default) writes an LR that looks like a normal downscale and that "
            "'acutance upscale LR --model irn-x2' restores; --model bicubic --scale S is MATLAB's "
            "imresize(IN, 1/S). The LR carries a tag (PNG text chunk / EXIF ImageDescription) naming the model "
            "and the original size: a size that is not a multiple of the scale is padded, and cropped back on "
            "upscaling. Alpha is downscaled plainly (bicubic). Keep the LR lossless (PNG) for the best restore. "
            "See docs/irn.md."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, help="image file")
    parser.add_argument("-o", "--output", type=Path, help="LR file (default: IN's name + _MODEL_down.png next to it)")
    parser.add_argument("-m", "--model", default="irn-x2", help="irn-x2 (default; trained to survive JPEG), irn-x2-plain, irn-x4 (x4, trained without JPEG), bicubic, or an IRN pair of your own (NAME.onnx from 'acutance train irn')")
    parser.add_argument("-s", "--scale", type=int, help="factor (bicubic: required; IRN: its own, default)")
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), help="output bits per channel (default: the input's)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality 1-100 (default: 95)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_limit_arguments(parser)
    parser.set_defaults(func=run)


def downscale_image(image, model: str, scale: int | None = None):
    """The tagged LR ``Image`` of an ``acutance.io.Image``."""
    import dataclasses

    from acutance.rescale.runtime import load_downscaler, open_downscaler, pad_to_multiple
    from acutance.rescale.tag import tagged
    from acutance.resize import imresize

    if model.endswith(".onnx"):  # a pair of one's own (acutance train irn): its NAME.down.onnx
        from acutance.rescale.runtime import down_path

        path = Path(model) if model.endswith(".down.onnx") else down_path(model)
        if not path.is_file():
            raise AcutanceError(f"{path}: no such downscaler file")
        down = open_downscaler(path, scale=scale)
    else:
        down = load_downscaler(model, scale)
    height, width = image.rgb.shape[:2]
    if min(height, width) < down.scale:
        raise OptionError(f"a {width}x{height} image is too small to downscale by {down.scale}")
    lr = down(image.rgb)
    alpha = None
    if image.alpha is not None:  # plainly: bicubic of the (padded) alpha, to the LR's size
        padded = pad_to_multiple(image.alpha, down.scale) if down.session is not None else image.alpha
        alpha = imresize(padded, size=lr.shape[:2], method="bicubic").clip(0, 1).astype("float32")
    result = image.replace(lr, alpha)
    if down.session is not None:  # an IRN LR keeps its colour: a gray source's chroma carries the latent too
        result = dataclasses.replace(result, meta=dataclasses.replace(result.meta, grayscale=False))
    return tagged(result, down.name, down.scale, (width, height))


def run(args: argparse.Namespace) -> int:
    from acutance.io import check_output_format, check_writable_output, read_image, write_image

    if not 1 <= args.quality <= 100:
        raise OptionError(f"--quality must be in 1..100, got {args.quality}")
    source: Path = args.input
    if not source.is_file():
        raise AcutanceError(f"{source}: no such file")
    target = args.output or source.with_name(f"{source.stem}_{Path(args.model).name.removesuffix('.onnx')}_down.png")
    if target.exists() and target.resolve() == source.resolve():
        raise ImageWriteError(f"{target} is the input; choose another output (-o), the input is never replaced")
    target = check_writable_output(target, overwrite=args.overwrite)
    check_output_format(target, bit_depth=args.bit_depth)
    lr = downscale_image(read_image(source), args.model, args.scale)
    write_image(target, lr, overwrite=args.overwrite, bit_depth=args.bit_depth, quality=args.quality)
    print(target)
    return 0
