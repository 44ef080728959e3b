"""``acutance train edgesr``: train an edge-SR model (eSR-MAX / TM / TR / CNN) and write its model file.

Registered by the ``acutance train`` command: ``register(train_subparsers)`` adds the ``edgesr`` subcommand.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(train_subparsers: argparse._SubParsersAction) -> None:
    parser = train_subparsers.add_parser(
        "edgesr",
        help="train an edge-SR single-layer SR model (eSR-MAX, eSR-TM, eSR-TR, eSR-CNN) on a folder of HR images",
        description=(
            "Train an edge-SR model on the HR images under --data (LR made with MATLAB bicubic, as the SR test "
            "protocol does; a few images held out to keep the best state) with torch on the CPU, and write it "
            "to -o (.npz, run without torch by onnxruntime or OpenCV). Options come from --config (JSON or "
            "TOML, fields of acutance.edgesr.train.TrainConfig; see docs/edge_sr.md); the flags override it."
        ),
    )
    parser.add_argument("--kind", choices=("max", "tm", "tr", "cnn"), help="variant (default: config or tr)")
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), help="upscaling factor (default: config or 2)")
    parser.add_argument("--channels", type=int, help="C, the channels the max/softmax runs over")
    parser.add_argument("--kernel", type=int, help="k, the filter size (odd; eSR-CNN: 3)")
    parser.add_argument("--depth", type=int, help="eSR-CNN: D, channels of the 5x5 layer")
    parser.add_argument("--features", type=int, help="eSR-CNN: S, channels of the 3x3 layer")
    parser.add_argument("--steps", type=int, help="training steps (default: config or 2500)")
    parser.add_argument("--data", type=Path, action="append", required=True, help="folder of HR images (repeatable)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="model file to write (.npz)")
    parser.add_argument("--config", type=Path, help="JSON or TOML file of training options")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from acutance.edgesr.runtime import save_model
    from acutance.edgesr.train import TrainConfig, train
    from acutance.errors import OptionError
    from acutance.io import check_writable_output

    if args.config is not None and not args.config.is_file():
        raise OptionError(f"--config {args.config}: no such file")
    for folder in args.data:
        if not folder.is_dir():
            raise OptionError(f"--data {folder}: not a folder")
    check_writable_output(args.output, overwrite=args.overwrite)
    flags = ("kind", "scale", "channels", "kernel", "depth", "features", "steps")
    config = TrainConfig.load(args.config, **{name: getattr(args, name) for name in flags})
    model = train(config, list(args.data), log=lambda line: print(line, file=sys.stderr, flush=True))
    path = save_model(model, args.output)
    best = model.meta["history"][-1].get("best_val_psnr")
    print(f"wrote {path} ({model.spec.name}, {model.spec.params} parameters, held-out Y-PSNR {best} dB)")
    return 0
