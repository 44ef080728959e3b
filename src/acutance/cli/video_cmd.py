"""``acutance video``: enhance a video with any registered model, keeping audio, subtitles, timing, colour."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments

DESCRIPTION = """\
Decode IN, run a registered model on every frame (tiled), encode, and copy the audio and subtitle streams
unchanged. Frame rate, time base and every frame's timestamp (variable frame rate too), duration, colour
tags and container/stream metadata are kept; a 10-bit input gives a 10-bit output. Work is done in segments
in a hidden folder next to OUT (.OUT.partial/): after Ctrl-C or a crash, run the same command again and it
continues where it stopped; OUT appears only when complete.
"""

EPILOG = """\
examples:
  acutance video clip.mp4 -o clip_x2.mp4 --model raisr-x2
  acutance video anime.mkv -o anime_x2.mkv --model anime4k-x2 --codec h265 --crf 20
  acutance video noisy.mp4 -o sharp.mp4 --model cas --temporal 0.6
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "video",
        help="enhance a video with any model; audio, subtitles, timing and colour kept; resumable",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="IN", type=Path, help="video file")
    parser.add_argument(
        "-o", "--output", type=Path, help="output video (.mp4 .mkv .mov .webm; default IN_MODEL_xS.ext)"
    )
    parser.add_argument("-m", "--model", default="bicubic", help="model name, see 'acutance list', or 'none' to only re-encode (default: bicubic)")
    parser.add_argument("-s", "--scale", type=float, help="scale factor (default: the model's own)")
    parser.add_argument(
        "--codec", default="h264", choices=("h264", "h265", "vp9", "av1"), help="video codec (default h264)"
    )
    parser.add_argument("--crf", type=int, help="quality, lower is better (default: h264 18, h265 22, vp9 32, av1 32)")
    parser.add_argument(
        "--preset",
        help="encoder speed preset (default: veryfast for h264, fast for h265, 8 for av1; medium/slow: smaller files)",
    )
    parser.add_argument(
        "--pix-fmt", choices=("yuv420p", "yuv420p10le"), help="output pixel format (default: 10-bit if IN is)"
    )
    parser.add_argument(
        "--temporal", type=float, default=0.0, metavar="A",
        help="flicker reduction 0..1: blend what the model adds with the motion-compensated previous frame's "
        "(default 0: off)",
    )
    parser.add_argument(
        "--temporal-mode", choices=("residual", "output"), default="residual",
        help="residual: steady only what the model adds (default); output: the whole frame, which also calms "
        "the input's noise",
    )
    parser.add_argument("--tile", type=int, help="tile size in input pixels; 0 = off (default: the model's advice)")
    parser.add_argument("--segment-frames", type=int, default=120, help="frames per resumable segment (default 120)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    parser.add_argument("--restart", action="store_true", help="discard an unfinished run's work folder and start over")
    marks = parser.add_argument_group("watermark", "an invisible mark on every frame (see 'acutance watermark')")
    marks.add_argument("--watermark", metavar="TEXT", help="mark every output frame with TEXT (UTF-8, up to 24 bytes)")
    marks.add_argument("--watermark-bits", metavar="HEX", help="mark every output frame with these bytes, as hex")
    marks.add_argument("--watermark-key", metavar="KEY", help="the secret key of the mark (required with --watermark)")
    marks.add_argument("--watermark-strength", type=float, default=1.0, help="1 = the default (Y-PSNR about 40 dB)")
    holes = parser.add_argument_group("inpaint", "fill a static mask on every frame (see 'acutance inpaint')")
    holes.add_argument("--inpaint-mask", type=Path, metavar="MASK.png",
                       help="fill the pixels this mask marks (white on black, the frames' size): a logo, a timestamp")
    holes.add_argument("--inpaint-method", choices=("auto", "telea", "ns", "learned"), default="auto",
                       help="auto (default): telea for thin masks, learned for larger ones")
    holes.add_argument("--inpaint-dilate", type=int, default=0, metavar="N", help="grow the mask by N pixels first")
    holes.add_argument("--inpaint-resize-mask", action="store_true", help="rescale a mask of another size to the frames'")
    parser.add_argument(
        "--pre-encode", type=_pre_encode_level, metavar="auto|LEVEL",
        help="sharpen for the encoder: auto = a level per scene from its frequency content, or a fixed level "
        "0 (none)..5 (see docs/pre_encode.md)",
    )
    looks = parser.add_argument_group("style", "a reference's colour look, one mapping per shot (see 'acutance style')")
    looks.add_argument("--style", type=Path, metavar="REF", help="give every output frame REF's colour look")
    looks.add_argument("--style-strength", type=float, default=1.0, metavar="S", help="0 = unchanged .. 1 = full (default)")
    parser.add_argument(
        "--post", choices=("antialias",),
        help="after the model, on every frame: 'antialias' removes jaggies with aa-x1 (see docs/antialias.md)",
    )
    add_limit_arguments(parser)  # per frame: --max-pixels for the input's, --max-output-pixels for the output's
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.errors import OptionError

    if args.scale is not None and not (math.isfinite(args.scale) and args.scale > 0):
        raise OptionError(f"--scale must be a positive number, got {args.scale:g}")
    from acutance.video import VideoOptions, enhance_video

    if args.watermark is not None and args.watermark_bits is not None:
        raise OptionError("give --watermark or --watermark-bits, not both")
    if args.watermark_bits is not None:
        try:
            mark = bytes.fromhex(args.watermark_bits.strip().removeprefix("0x")).hex()
        except ValueError:
            raise OptionError(f"--watermark-bits must be hex digits, got {args.watermark_bits!r}") from None
    else:
        mark = args.watermark.encode("utf-8").hex() if args.watermark is not None else None
    options = VideoOptions(
        model=args.model,
        scale=args.scale,
        codec=args.codec,
        crf=args.crf,
        preset=args.preset,
        pix_fmt=args.pix_fmt,
        temporal=args.temporal,
        temporal_mode=args.temporal_mode,
        tile=args.tile,
        segment_frames=args.segment_frames,
        stages=tuple(_stages(args, mark)),
    )
    target = args.output
    if target is None:
        from acutance.models.registry import load_model
        from acutance.pipeline.enhance import resolve_scale
        from acutance.video.enhance import NO_MODEL

        scale = 1.0 if args.model == NO_MODEL else resolve_scale(load_model(args.model), args.scale)
        suffix = args.input.suffix if args.input.suffix.lower() in (".mp4", ".mkv", ".mov", ".webm", ".m4v") else ".mkv"
        target = args.input.with_name(f"{args.input.stem}_{args.model}_x{scale:g}{suffix}")
    try:
        report = enhance_video(args.input, target, options, overwrite=args.overwrite, restart=args.restart)
    except KeyboardInterrupt:
        print("acutance: finished segments are kept; run the same command again to resume", file=sys.stderr)
        raise
    resumed = f", {report.reused_segments} segments reused" if report.reused_segments else ""
    speed = f"{report.enhanced_frames} enhanced at {report.fps:.1f} fps"
    print(f"{report.output}: {report.frames} frames, {speed}{resumed}")
    return 0


def _pre_encode_level(text: str):
    if text == "auto":
        return text
    if text.isdigit() and 0 <= int(text) <= 5:
        return int(text)
    raise argparse.ArgumentTypeError(f"must be 'auto' or a level 0..5, got {text!r}")


def _stages(args: argparse.Namespace, mark: str | None):
    """The per-frame stages the flags ask for (acutance.video.stages runs them in its table's order)."""
    from acutance.video.stages import StageSpec

    if getattr(args, "inpaint_mask", None) is not None:
        from acutance.inpaint.video import stage_params

        yield StageSpec.of("inpaint", **stage_params(args.inpaint_mask, args.inpaint_method, args.inpaint_dilate,
                                                     args.inpaint_resize_mask))  # fmt: skip
    if getattr(args, "pre_encode", None) is not None:
        if args.pre_encode == "auto":  # scene analysis needs a few frames: refuse a shorter clip up front
            from acutance.preencode.video import check_clip_frames
            from acutance.video.probe import probe

            check_clip_frames(probe(args.input).estimated_frames())
        yield StageSpec.of("pre-encode", level=args.pre_encode)
    if getattr(args, "style", None) is not None:
        from acutance.grading.video import stage_params as style_params

        yield StageSpec.of("style", **style_params(args.style, args.style_strength))
    if getattr(args, "post", None) == "antialias":
        yield StageSpec.of("antialias", method="aa-x1")
    if mark is not None:
        yield StageSpec.of("watermark", bits=mark, key=args.watermark_key, strength=args.watermark_strength)
