"""``acutance watermark embed|detect``: invisible marks in images (files or folders) and videos."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from acutance.errors import AcutanceError, OptionError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watermark",
        help="embed an invisible, robust watermark in images, or detect and read one (images and videos)",
        description=(
            "Invisible watermarks that survive JPEG, resizing, cropping, small rotations and screenshots. "
            "'embed' marks images; 'detect' reads the mark back from images or a video (see docs/watermark.md)."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    embed = actions.add_parser("embed", help="mark an image or a folder of images")
    embed.add_argument("input", metavar="IN", type=Path, help="image file or folder")
    embed.add_argument("-o", "--output", type=str, help="output file or folder (default: IN's name + _wm)")
    what = embed.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="the payload as text (UTF-8; up to 24 bytes, up to 8 for the most robust code)")
    what.add_argument("--bits", metavar="HEX", help="the payload as hex digits, e.g. a5c3e1f00f1e3c5a (64 bits)")
    _add_key(embed)
    embed.add_argument(
        "--strength", type=float, default=1.0,
        help="1 = the default (Y-PSNR about 40 dB); higher survives more and shows more (default: 1)",
    )
    from acutance.cli.limit_options import add_limit_arguments
    from acutance.cli.upscale_cmd import add_output_arguments

    add_output_arguments(embed)
    add_limit_arguments(embed)
    embed.set_defaults(func=run_embed, tile=None)

    detect = actions.add_parser(
        "detect",
        help="read the mark of KEY from an image, a folder or a video; exit 0 when one is found, 1 when none is",
    )
    detect.add_argument("input", metavar="IN", type=Path, help="image file, folder of images, or video file")
    _add_key(detect)
    detect.add_argument("--json", action="store_true", help="print one JSON object per input instead of a line")
    detect.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of a folder IN")
    detect.add_argument(
        "--window", type=float, default=2.0, metavar="SECONDS",
        help="video: decode each excerpt of this many seconds on its own (default: 2)",
    )
    add_limit_arguments(detect)
    detect.set_defaults(func=run_detect)


def _add_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, help="the secret key (any text): only the same key finds the mark")


def payload_of(args: argparse.Namespace) -> bytes:
    if args.text is not None:
        return args.text.encode("utf-8")
    text = args.bits.strip().removeprefix("0x")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise OptionError(f"--bits must be hex digits (an even number of them), got {args.bits!r}") from None


def run_embed(args: argparse.Namespace) -> int:
    from acutance.cli.upscale_cmd import check_output_arguments, run_model
    from acutance.watermark import core
    from acutance.watermark.payload import profile_for

    payload = payload_of(args)
    profile_for(payload)  # too long: one line before any file is read
    if not (0 < args.strength <= 10):
        raise OptionError(f"--strength must be in (0, 10], got {args.strength}")
    check_output_arguments(args)
    args.tile = 0  # the mark is laid out on the whole image's grid: never tile by tile
    args.model = "watermark"
    return run_model(args, _Marker(payload, args.key, args.strength), 1.0, tag="wm")


class _Marker:
    """The watermark as a same-size enhancer, so that 'embed' shares upscale's file and folder handling
    (formats, bit depth, alpha, metadata, atomic writes, --overwrite)."""

    def __init__(self, payload: bytes, key: str, strength: float):
        from acutance.models.descriptor import ModelInfo

        self.payload, self.key, self.strength = payload, key, strength
        # tile=0: the mark is laid out on the whole image's grid, so it must never run tile by tile
        self.info = ModelInfo(
            name="watermark", task="sharpen", scales=(1,), summary="invisible watermark", licence="Apache-2.0",
            loader="acutance.watermark", tile=0, context=0, default_scale=1.0,
        )

    def __call__(self, rgb, scale):
        from acutance.watermark import embed

        return embed(rgb, self.payload, self.key, self.strength)


def _result(path: str, detection, **extra) -> dict:
    return {
        "input": path,
        "found": detection.found,
        "payload_hex": detection.payload.hex() if detection.payload is not None else None,
        "text": detection.text,
        "p_value": detection.p_value,
        "confidence": detection.confidence,
        "scale": round(detection.scale, 4),
        "rotation": round(detection.angle, 3),
        **extra,
    }


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    where = result["input"] + (f" [{result['start']:.1f}-{result['end']:.1f} s]" if "start" in result else "")
    if result["found"]:
        shown = repr(result["text"]) if result["text"] is not None else f"0x{result['payload_hex']}"
        print(f"{where}: watermark {shown} (p-value {result['p_value']:.2g}; scale {result['scale']:g}, "
              f"rotation {result['rotation']:g} deg)")  # fmt: skip
    else:
        print(f"{where}: no watermark (for this key)")


def run_detect(args: argparse.Namespace) -> int:
    from acutance.io import is_image_path

    source: Path = args.input
    if not source.exists():
        raise AcutanceError(f"{source}: no such file or folder")
    if source.is_dir():
        return _detect_folder(args)
    if is_image_path(source):
        from acutance.io import read_image
        from acutance.watermark import detect

        result = _result(str(source), detect(read_image(source).rgb, args.key))
        _print(result, args.json)
        return 0 if result["found"] else 1
    return _detect_video(args)


def _detect_folder(args: argparse.Namespace) -> int:
    from acutance.io import list_images, read_image
    from acutance.watermark import detect

    images, skipped = list_images(args.input, recursive=args.recursive)
    for path in skipped:
        print(f"acutance: warning: skipping {path}: not an image", file=sys.stderr)
    if not images:
        raise AcutanceError(f"{args.input}: no images found" + ("" if args.recursive else " (try --recursive)"))
    found = 0
    for path in images:
        try:
            result = _result(str(path), detect(read_image(path).rgb, args.key))
        except AcutanceError as error:
            print(f"acutance: error: {error}", file=sys.stderr)
            continue
        found += result["found"]
        _print(result, args.json)
    if not args.json:
        print(f"{found} of {len(images)} images hold a watermark for this key")
    return 0 if found else 1


def _detect_video(args: argparse.Namespace) -> int:
    from acutance.watermark.video import detect_video

    if not args.window > 0:
        raise OptionError(f"--window must be a positive number of seconds, got {args.window}")
    windows = detect_video(args.input, args.key, window_seconds=args.window)
    for window in windows:
        _print(_result(str(args.input), window.detection, start=window.start, end=window.end), args.json)
    found = [w for w in windows if w.detection.found]
    if not args.json:
        print(f"{len(found)} of {len(windows)} excerpts of {args.window:g} s hold a watermark for this key")
    return 0 if found else 1
