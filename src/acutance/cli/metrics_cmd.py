"""``acutance metrics REF DIST``: PSNR / SSIM / MS-SSIM of two images or two folders (matched by name);
``acutance metrics --niqe PATH`` / ``--face-quality PATH``: no-reference scores of an image or a folder."""

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

Without a reference: --niqe PATH scores an image, or every image of a folder, with NIQE (Mittal et al.'s
natural image quality evaluator with our pristine model; lower is more natural; the image needs at least two
96x96 patches), --face-quality PATH with the face quality model (higher is better; needs the 'faces' extra).
Give both with the same PATH for both columns. REF DIST and the full-reference options do not apply then.
--list prints every metric of the registry (acutance.metrics.registry): inputs, direction, range; video
metrics (VMAF) are measured by 'acutance video-compare'.
"""

EPILOG = """\
examples:
  acutance metrics hr.png sr.png --y --crop 4
  acutance metrics refs/ outputs/ --metrics psnr,ssim,ms_ssim --csv scores.csv
  acutance metrics --niqe outputs/ --csv niqe.csv
  acutance metrics --niqe photo.png --face-quality photo.png
  acutance metrics --list
"""


def _no_reference_help(name: str, what: str) -> str:
    from acutance.metrics.registry import metric_info

    info = metric_info(name)
    extra = f"; extra '{info.extra}'" if info.extra else ""
    return f"no reference: {what} of an image or of every image in a folder ({info.better} is better{extra})"


def register(subparsers: argparse._SubParsersAction) -> None:
    from acutance.metrics.registry import metric_names

    parser = subparsers.add_parser(
        "metrics",
        help="PSNR, SSIM, MS-SSIM against a reference; NIQE and face quality with no reference",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ref", metavar="REF", nargs="?", help="reference image, or folder of reference images")
    parser.add_argument(
        "dist", metavar="DIST", nargs="?", help="distorted image, or folder of images named as in REF"
    )
    parser.add_argument("--niqe", metavar="PATH", help=_no_reference_help("niqe", "NIQE"))
    parser.add_argument("--face-quality", metavar="PATH", help=_no_reference_help("face_quality", "face quality"))
    channels = parser.add_mutually_exclusive_group()
    channels.add_argument(
        "--y", dest="y_channel", action="store_true", help="measure the Y channel of MATLAB rgb2ycbcr (BT.601)"
    )
    channels.add_argument("--gray", action="store_true", help="measure MATLAB rgb2gray luminance")
    parser.add_argument(
        "--crop", type=int, default=None, metavar="N", help="remove N pixels from every border first (default 0)"
    )
    parser.add_argument(
        "--metrics",
        default=None,
        metavar="LIST",
        help=f"comma-separated metrics from {', '.join(metric_names('full-reference'))} (default psnr,ssim)",
    )
    parser.add_argument("--list", action="store_true", help="list the registered metrics and exit")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --csv/--json files")
    parser.set_defaults(func=run)


FULL_REFERENCE_OPTIONS = (("--y", "y_channel", False), ("--gray", "gray", False), ("--crop", "crop", None),
                          ("--metrics", "metrics", None))  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from acutance.errors import ImageWriteError, OptionError

    if args.list:
        from acutance.metrics.registry import describe

        print(describe())
        return 0
    for option, target in (("--csv", args.csv), ("--json", args.json)):
        if target and Path(target).exists() and not args.overwrite:
            raise ImageWriteError(f"{target} exists; pass --overwrite to replace it ({option})")
    if args.csv and args.json and Path(args.csv).resolve() == Path(args.json).resolve():
        raise OptionError("--csv and --json name the same file")
    if args.niqe or args.face_quality:
        return run_no_reference(args)
    if args.ref is None or args.dist is None:
        raise OptionError("give REF and DIST (two images or two folders), or --niqe/--face-quality PATH (no reference)")
    return run_full_reference(args)


def run_full_reference(args: argparse.Namespace) -> int:
    from acutance.errors import ImageReadError, OptionError
    from acutance.metrics import evaluate

    metrics = evaluate.parse_metric_names(args.metrics or ",".join(evaluate.DEFAULT_METRICS))
    crop = 0 if args.crop is None else args.crop
    if crop < 0:
        raise OptionError(f"--crop must be 0 or more, got {crop}")
    ref, dist = Path(args.ref), Path(args.dist)
    for label, path in (("REF", ref), ("DIST", dist)):
        if not path.exists():
            raise ImageReadError(f"{label} {path} does not exist")
    options = {"crop_border": crop, "y_channel": args.y_channel, "gray": args.gray, "metrics": metrics}
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


def _no_reference_scorers(args: argparse.Namespace) -> dict:
    """``{metric: function(rgb) -> float}`` for the requested scores, imported only when asked for (a missing
    extra is a one-line ``ModelError`` naming it)."""
    from acutance.metrics.registry import load_metric

    wanted = [name for name, path in (("niqe", args.niqe), ("face_quality", args.face_quality)) if path]
    return {name: load_metric(name) for name in wanted}


def run_no_reference(args: argparse.Namespace) -> int:
    """Score one image or every image of a folder without a reference.

    A folder keeps going past an unreadable image (skipped) or a score that fails (NaN, e.g. NIQE of an image
    below 192x96, no face found), with a warning for each, and returns 1 at the end; the ``mean`` row
    averages the finite values.
    """
    from tqdm import tqdm

    from acutance.errors import AcutanceError, ImageReadError, OptionError
    from acutance.io import list_images, read_image
    from acutance.metrics import evaluate

    if args.ref is not None:
        raise OptionError("--niqe/--face-quality measure without a reference: give PATH to them, not REF DIST")
    given = [option for option, dest, default in FULL_REFERENCE_OPTIONS if getattr(args, dest) != default]
    if given:
        raise OptionError(f"{', '.join(given)}: only for REF DIST, not with --niqe/--face-quality")
    if args.niqe and args.face_quality and Path(args.niqe) != Path(args.face_quality):
        raise OptionError(
            f"--niqe {args.niqe} and --face-quality {args.face_quality}: give both the same PATH, "
            "or run them one at a time"
        )
    target = Path(args.niqe or args.face_quality)
    if not target.exists():
        raise ImageReadError(f"{target} does not exist")
    folder = target.is_dir()
    if folder:
        images, skipped = list_images(target)
        for path in skipped:
            _warn(f"skipping {path}: not an image file")
        if not images:
            raise OptionError(f"no images in {target}")
    else:
        images = [target]
    scorers = _no_reference_scorers(args)
    columns = tuple(scorers)
    rows, failed = [], 0
    for path in tqdm(images, unit="image", desc="metrics", disable=None if folder else True, file=sys.stderr):
        try:
            rgb = read_image(path).rgb
        except AcutanceError as error:
            if not folder:
                raise
            _warn(f"skipping {path}: {error}")
            failed += 1
            continue
        row = {"name": path.name, "image": str(path)}
        for column, scorer in scorers.items():
            try:
                row[column] = float(scorer(rgb))
            except AcutanceError as error:  # e.g. too small for NIQE, no face: the other column still counts
                if not folder:
                    raise
                _warn(f"no {column} for {path}: {error}")
                row[column] = math.nan
                failed += 1
        rows.append(row)
    if not rows:
        raise OptionError(f"no image in {target} could be read")
    if folder:
        mean = {"name": evaluate.MEAN_NAME, "image": ""}
        for column in columns:
            values = [row[column] for row in rows if math.isfinite(row[column])]
            mean[column] = math.fsum(values) / len(values) if values else math.nan
        rows.append(mean)
    print(format_table(rows, columns))
    if args.csv:
        write_rows_csv(rows, args.csv, overwrite=args.overwrite)
    if args.json:
        evaluate.write_json(rows, args.json, overwrite=args.overwrite)
    return 1 if failed else 0


def write_rows_csv(rows: list[dict], path: str, *, overwrite: bool = False) -> Path:
    """No-reference rows as CSV: ``name,image,<scores>`` at full precision; atomic, no silent overwrite."""
    import csv
    import io

    from acutance.io import atomic_write_bytes

    columns = list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([repr(v) if isinstance(v, float) else v for v in (row.get(c, "") for c in columns)])
    return atomic_write_bytes(path, buffer.getvalue().encode("utf-8"), overwrite=overwrite)


def _warn(message: str) -> None:
    print(f"acutance: warning: {message}", file=sys.stderr)


def format_table(rows: list[dict], metrics: tuple[str, ...]) -> str:
    """Aligned text table: name left-aligned, then one right-aligned column per metric, headed and printed as
    the metric registry says (``psnr_db``, SSIM to 6 decimals)."""
    from acutance.metrics.registry import metric_info

    infos = [metric_info(m) for m in metrics]
    headers = ["name", *(info.column for info in infos)]
    cells = [[str(row["name"]), *(info.format(row[info.name]) for info in infos)] for row in rows]
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (value.rjust(width) for value, width in zip(values[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(headers), *(line(c) for c in cells)])
