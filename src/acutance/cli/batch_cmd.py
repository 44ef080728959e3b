"""``acutance batch``: a whole folder tree through one model; resumable, parallel, optionally on Dask."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.limit_options import add_limit_arguments
from acutance.cli.upscale_cmd import add_output_arguments, check_output_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="process a folder tree; resumable, with a manifest, on local processes or a Dask cluster",
        description=(
            "Run a registered model on every image in IN_DIR and write the results into OUT_DIR with the "
            "same tree and names. Non-images are skipped with a warning. Outputs that already exist and are "
            "complete (a whole image of the right size) are kept, so a rerun after an interruption does only "
            "the rest; outputs are written to a hidden temp file and renamed, so a killed run leaves no half "
            "file. A manifest (input, output, model, seconds, status, message) is written to "
            "OUT_DIR/manifest.csv. The exit status is 1 if any image failed, after all the others are done."
        ),
    )
    parser.add_argument("input", metavar="IN_DIR", type=Path, help="folder of images")
    parser.add_argument("output", metavar="OUT_DIR", type=Path, help="folder for the results (created)")
    parser.add_argument("-m", "--model", required=True, help="model name, see 'acutance list'")
    parser.add_argument("-s", "--scale", type=float, help="scale factor (default: the model's own)")
    parser.add_argument("-j", "--workers", type=int, default=1, help="local worker processes (default: 1)")
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS (tcp://scheduler:8786), or 'local' for a local cluster of "
        "--workers processes; needs the 'distributed' extra",
    )
    parser.add_argument("--manifest", type=Path, help="manifest file, .csv or .json (default: OUT_DIR/manifest.csv)")
    add_output_arguments(parser)
    if "--max-pixels" not in parser._option_string_actions:  # unless the shared output options added them
        add_limit_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.batch import BatchOptions, run_batch

    check_output_arguments(args)
    options = BatchOptions(
        model=args.model,
        scale=args.scale,
        recursive=args.recursive,
        workers=args.workers,
        dask=args.dask,
        format=args.format,
        bit_depth=args.bit_depth,
        quality=args.quality,
        tile=args.tile,
        overwrite=args.overwrite,
        manifest=args.manifest,
        first_frame=args.first_frame,
    )
    summary = run_batch(args.input, args.output, options)
    counts = {status: summary.count(status) for status in ("done", "skipped", "failed", "ignored")}
    print(
        f"{counts['done']} written, {counts['skipped']} already complete, {counts['failed']} failed, "
        f"{counts['ignored']} not images; manifest {summary.manifest} ({summary.seconds:.1f} s)"
    )
    return summary.exit_code
