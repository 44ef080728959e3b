"""``acutance upscale-frames DIR -o OUT --model vsr-x4``: a folder of frames, in order, upscaled as one clip.

A sequence model (``vsr-x4``, ``vsr-x2``) streams the frames with its recurrent state (reset at scene cuts
and size changes, with a note); any other model runs frame by frame. Frames are taken in natural name
order (``frame2`` before ``frame10``) and written to OUT under their own names as they are done, so memory
stays a few frames whatever their number.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.errors import ImageReadError, ImageWriteError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upscale-frames",
        help="upscale a folder of video frames, in order, with a temporal model (vsr-x4, vsr-x2) or any other",
        description=(
            "Upscale the frames in DIR (natural name order) into the folder OUT (created; same names). "
            "A temporal model (vsr-x4, vsr-x2) uses the neighbouring frames: its state is carried from frame to "
            "frame and reset at scene cuts and size changes (a note says where). See docs/vsr.md."
        ),
    )
    parser.add_argument("input", metavar="DIR", type=Path, help="folder of frames (image files)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output folder")
    parser.add_argument("-m", "--model", default="vsr-x4", help="model name or file (default: vsr-x4)")
    parser.add_argument("-s", "--scale", type=float, help="factor (default: the model's)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output frames")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_limit_arguments(parser)
    parser.set_defaults(func=run)


def natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def frames_in(folder: Path) -> list[Path]:
    from acutance.io import list_images

    images, _ = list_images(folder)
    if not images:
        raise ImageReadError(f"{folder}: no image files")
    return sorted(images, key=natural_key)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from acutance import limits
    from acutance.io import check_writable_output, read_image, write_image
    from acutance.models.registry import load_model
    from acutance.pipeline.enhance import enhance, resolve_scale

    source, target = args.input, args.output
    frames = frames_in(source)
    if target.resolve() == source.resolve():
        raise ImageWriteError(f"{target} is the input folder; choose another output folder")
    target.mkdir(parents=True, exist_ok=True)
    outputs = [target / path.name for path in frames]
    for out in outputs:  # every clash before any work
        check_writable_output(out, overwrite=args.overwrite)
    model = load_model(args.model)
    scale = resolve_scale(model, args.scale)
    by_index: dict[int, object] = {}  # frames read, waiting for their output (a sequence model: one behind)

    def note(index, text: str) -> None:
        tqdm.write(f"acutance: note: {frames[index].name}: {text}", file=sys.stderr)

    stream = model.stream(notice=note) if getattr(model, "sequence", False) else None
    bar = tqdm(total=len(frames), unit="frame", disable=True if args.no_progress else None, file=sys.stderr)

    def save(index: int, rgb) -> None:
        image = by_index.pop(index)
        limits.check_output_pixels(rgb.shape[1], rgb.shape[0], f"{outputs[index].name}")
        write_image(outputs[index], image.replace(rgb.clip(0, 1), _alpha(image, rgb)), overwrite=args.overwrite)
        bar.update(1)

    try:
        for index, path in enumerate(frames):
            image = read_image(path)
            by_index[index] = image
            if stream is None:
                save(index, enhance(image.rgb, model, scale))
                continue
            for done, rgb in stream.push(index, image.rgb):
                save(done, rgb)
        if stream is not None:
            for done, rgb in stream.flush():
                save(done, rgb)
    finally:
        bar.close()
    print(f"{len(frames)} frames -> {target}")
    return 0


def _alpha(image, rgb):
    if image.alpha is None:
        return None
    from acutance.resize import imresize

    return imresize(image.alpha, size=rgb.shape[:2], method="bicubic").clip(0, 1).astype("float32")
