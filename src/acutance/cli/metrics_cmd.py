"""``acutance metrics REF DIST``: PSNR / SSIM / MS-SSIM of two images or two folders (matched by name)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

DESCRIPTION = """\
Measure distorted images against references with MATLAB-compatible PSNR, SSIM (Wang et al.'s ssim_index:
11x11 Gaussian window, sigma 1.5, 'valid' filtering, no automatic downsampling) and 5-scale MS-SSIM, on the
0-255 scale. REF and DIST are two image files, or two folders whose images are paired by file name without
extension. Default: all three RGB channels (PSNR over all of them, SSIM averaged over them); --y measures the
BT.601 luma of MATLAB rgb2ycbcr (the convention of super-resolution papers, usually with --crop SCALE),
--gray the luminance of MATLAB rgb2gray.
"""

EPILOG = """\
examples:
  acutance metrics hr.png sr.png --y --crop 4
  acutance metrics refs/ outputs/ --metrics psnr,ssim,ms_ssim --csv scores.csv
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "metrics",
        help="PSNR, SSIM and MS-SSIM of images or folders against references",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ref", metavar="REF", help="reference image, or folder of reference images")
    parser.add_argument("dist", metavar="DIST", help="distorted image, or folder of images named as in REF")
    channels = parser.add_mutually_exclusive_group()
    channels.add_argument(
        "--y", dest="y_channel", action="store_true", help="measure the Y channel of MATLAB rgb2ycbcr (BT.601)"
    )
    channels.add_argument("--gray", action="store_true", help="measure MATLAB rgb2gray luminance")
    parser.add_argument(
        "--crop", type=int, default=0, metavar="N", help="remove N pixels from every border first (default 0)"
    )
    parser.add_argument(
        "--metrics",
        default="psnr,ssim",
        metavar="LIST",
        help="comma-separated metrics from psnr, ssim, ms_ssim (default psnr,ssim)",
    )
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --csv/--json files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.errors import ImageReadError, ImageWriteError, OptionError
    from acutance.metrics import evaluate

    metrics = evaluate.parse_metric_names(args.metrics)
    if args.crop < 0:
        raise OptionError(f"--crop must be 0 or more, got {args.crop}")
    for option, target in (("--csv", args.csv), ("--json", args.json)):
        if target and Path(target).exists() and not args.overwrite:
            raise ImageWriteError(f"{target} exists; pass --overwrite to replace it ({option})")
    if args.csv and args.json and Path(args.csv).resolve() == Path(args.json).resolve():
        raise OptionError("--csv and --json name the same file")
    ref, dist = Path(args.ref), Path(args.dist)
    for label, path in (("REF", ref), ("DIST", dist)):
        if not path.exists():
            raise ImageReadError(f"{label} {path} does not exist")
    options = dict(crop_border=args.crop, y_channel=args.y_channel, gray=args.gray, metrics=metrics)
    if ref.is_dir() and dist.is_dir():
        rows = evaluate.evaluate_folders(ref, dist, warn=_warn, **options)
    elif ref.is_file() and dist.is_file():
        rows = [evaluate.evaluate_pair(ref, dist, **options)]
    else:
        raise OptionError(f"REF and DIST must be two files or two folders: {ref} and {dist}")

    print(format_table(rows, metrics))
    if args.csv:
        evaluate.write_csv(rows, args.csv, overwrite=args.overwrite)
    if args.json:
        evaluate.write_json(rows, args.json, overwrite=args.overwrite)
    return 0


def _warn(message: str) -> None:
    print(f"acutance: warning: {message}", file=sys.stderr)


def _format_value(metric: str, value: float) -> str:
    if math.isinf(value):
        return "inf"
    return f"{value:.4f}" if metric == "psnr" else f"{value:.6f}"


def format_table(rows: list[dict], metrics: tuple[str, ...]) -> str:
    """Aligned text table: name left-aligned, then one right-aligned column per metric (PSNR in dB)."""
    headers = ["name", *("psnr_db" if m == "psnr" else m for m in metrics)]
    cells = [[str(row["name"]), *(_format_value(m, row[m]) for m in metrics)] for row in rows]
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (value.rjust(width) for value, width in zip(values[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(headers), *(line(c) for c in cells)])
