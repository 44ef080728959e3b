"""``acutance video-compare REF DIST``: per-frame PSNR/SSIM and VMAF of two clips, CSV, side-by-side preview."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

DESCRIPTION = """\
Score DIST against REF frame by frame: PSNR and SSIM (MATLAB conventions, on BT.601 Y unless --rgb) and VMAF
(libvmaf v0.6.1 through the ffmpeg bundled with imageio-ffmpeg). Frames are paired in order; a DIST of another
size is resized to REF's (bicubic). Prints a summary; --csv writes one row per frame.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "video-compare",
        help="PSNR/SSIM/VMAF of a video against a reference, per frame; side-by-side preview",
        description=DESCRIPTION,
        epilog="example:\n  acutance video-compare ref.mp4 out.mp4 --csv frames.csv --side-by-side split.mp4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ref", metavar="REF", type=Path, help="reference video")
    parser.add_argument("dist", metavar="DIST", type=Path, help="distorted or enhanced video")
    parser.add_argument("--frames", type=int, help="compare only the first N frames")
    parser.add_argument("--no-vmaf", action="store_true", help="skip VMAF (PSNR/SSIM only)")
    parser.add_argument("--rgb", action="store_true", help="PSNR/SSIM over RGB instead of Y")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write per-frame scores as CSV")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the summary as JSON")
    parser.add_argument(
        "--side-by-side", type=Path, metavar="OUT", help="write a split-screen clip (left REF, right DIST)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.errors import OptionError
    from acutance.io import atomic_write_bytes, check_writable_output
    from acutance.video.compare import compare_videos, side_by_side, write_csv

    if args.frames is not None and args.frames < 1:
        raise OptionError(f"--frames must be >= 1, got {args.frames}")
    for path in (args.csv, args.json):
        if path is not None:
            check_writable_output(path, overwrite=args.overwrite)
    result = compare_videos(args.ref, args.dist, frames=args.frames, use_vmaf=not args.no_vmaf, y_channel=not args.rgb)
    summary = result.summary
    parts = [f"frames {summary['frames']}", f"PSNR {summary['psnr']:.3f} dB", f"SSIM {summary['ssim']:.4f}"]
    if "vmaf" in summary:
        parts.append(f"VMAF {summary['vmaf']:.3f}")
    print(f"{args.dist} vs {args.ref} ({summary['channel']}): " + ", ".join(parts))
    if "warning" in summary:
        print(f"acutance: warning: {summary['warning']}")
    if args.csv:
        print(write_csv(result.rows, args.csv, overwrite=args.overwrite))
    if args.json:
        payload = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
        print(atomic_write_bytes(args.json, (json.dumps(payload, indent=2) + "\n").encode(), overwrite=args.overwrite))
    if args.side_by_side:
        print(side_by_side(args.ref, args.dist, args.side_by_side, frames=args.frames, overwrite=args.overwrite))
    return 0
