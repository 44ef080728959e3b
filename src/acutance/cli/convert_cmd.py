"""``acutance convert-splut``: the SPLUT authors' two branch checkpoints -> one self-describing LUT file."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.errors import OptionError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-splut",
        help="convert the SPLUT authors' checkpoints to a LUT model file",
        description=(
            "Read the two branches of a published SPLUT model (MODEL_G_A: the 4 most significant bits, "
            "MODEL_G_B: the 4 least), whole-module pickles read by a restricted unpickler that never runs "
            "them; evaluate each mapping network on all 16^4 inputs (the authors' transfer to tables) and write "
            "one .npz model file: 'acutance upscale IN --model OUT.npz'. No torch needed."
        ),
    )
    parser.add_argument("branch_a", metavar="MODEL_G_A", type=Path, help="the MSB branch checkpoint (.pth)")
    parser.add_argument("branch_b", metavar="MODEL_G_B", type=Path, help="the LSB branch checkpoint (.pth)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="model file to write (.npz)")
    parser.add_argument("--name", help="model name stored in the file (default: splut-s / -m / -l)")
    parser.add_argument("--expect", choices=("S", "M", "L"), help="refuse checkpoints of another SPLUT size")
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), help="refuse checkpoints of another scale")
    parser.add_argument("--tables", choices=("int16", "float32"), default="int16",
                        help="table precision (default int16: half the size, same Set5 score to 0.01 dB)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.io import check_writable_output
    from acutance.lut import splut

    target: Path = args.output
    if target.suffix.lower() != ".npz":
        raise OptionError(f"-o {target}: the output must be an .npz file")
    check_writable_output(target, overwrite=args.overwrite)  # fail before the slow part
    model = splut.convert(args.branch_a, args.branch_b, name=args.name or None, dtype=args.tables,
                          variant=args.expect, scale=args.scale)
    written = splut.save_atomically(model, target, overwrite=args.overwrite)
    print(f"{model.meta['summary']}; {model.nbytes / 1e6:.1f} MB of {args.tables} tables")
    print(written)
    return 0
