"""``acutance train lut``: fit or train a LUT super-resolution model and write its model file.

Registered by the ``acutance train`` command: ``register(train_subparsers)`` adds the ``lut`` subcommand.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(train_subparsers: argparse._SubParsersAction) -> None:
    parser = train_subparsers.add_parser(
        "lut",
        help="train a look-up-table SR model (SR-LUT / MuLUT style) on a folder of HR images",
        description=(
            "Train a LUT super-resolution model on the HR images under --data (LR made on the fly with "
            "MATLAB bicubic, as the SR test protocol does) and write it to -o (.npz, loadable by the "
            "runtime without torch). Method 'fit' (default) solves for the tables directly by least "
            "squares on the CPU; 'net' trains small MLPs with torch and samples them into tables; both "
            "can be followed by LUT-aware fine-tuning of the tables (torch). Options come from --config "
            "(JSON or TOML; see docs/lut.md), --scale overrides the file."
        ),
    )
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), help="upscaling factor (default: config or 4)")
    parser.add_argument("--data", type=Path, action="append", required=True, help="folder of HR images (repeatable)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="model file to write (.npz)")
    parser.add_argument("--config", type=Path, help="JSON or TOML file of training options")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from acutance.errors import OptionError
    from acutance.io import check_writable_output
    from acutance.lut.runtime import save_model
    from acutance.lut.train import TrainConfig, train

    if args.config is not None and not args.config.is_file():
        raise OptionError(f"--config {args.config}: no such file")
    for folder in args.data:
        if not folder.is_dir():
            raise OptionError(f"--data {folder}: not a folder")
    check_writable_output(args.output, overwrite=args.overwrite)
    config = TrainConfig.load(args.config, scale=args.scale)
    model = train(config, list(args.data), log=lambda line: print(line, file=sys.stderr, flush=True))
    path = save_model(model, args.output)
    print(f"wrote {path} (x{model.scale}, {model.nbytes / 1e6:.2f} MB of tables)")
    return 0
