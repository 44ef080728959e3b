"""``acutance train sr``: train a deep SR network (SRVGG compact) from a TOML config; resumable."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sr",
        help="train a deep SR network (compact SRVGG; L1/Charbonnier, CDC, FFT, GAN, EMA) from a config",
        description=(
            "Train a deep super-resolution network as a TOML config says ([model], [data], [train], [gan]; "
            "see acutance/deep/configs/ for the shipped models' configs, usable by name: compact-x2, "
            "compact-x4, real-x4-fidelity, real-x4). OUT/checkpoint.pt is written every "
            "train.checkpoint_every steps; rerunning the same command continues from it. The result is "
            "OUT/NAME.safetensors (EMA weights, the config inside) and OUT/NAME.onnx, which "
            "'acutance upscale IN --model OUT/NAME.onnx' runs. Needs the 'train' extra (torch)."
        ),
    )
    parser.add_argument("--config", required=True, metavar="FILE|NAME", help="TOML config, or a shipped config's name")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="run folder (created)")
    parser.add_argument("--data", action="append", metavar="DIR", help="replace data.train (repeat for several folders)")
    parser.add_argument("--iterations", type=int, help="replace train.iterations")
    parser.add_argument("--threads", type=int, help="torch threads (default: the config's, else torch's)")
    parser.add_argument("--no-export", action="store_true", help="do not write the ONNX file at the end")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.errors import ModelError

    try:
        import torch  # noqa: F401
    except ImportError:
        raise ModelError("'acutance train sr' needs torch: pip install 'acutance[train]'") from None
    from acutance.deep.train.config import load_train_config, replace
    from acutance.deep.train.loop import export_weights, train

    config = load_train_config(args.config)
    if args.data:
        config = replace(config, "data", train=tuple(args.data))
    if args.iterations:
        config = replace(config, "train", iterations=args.iterations)
    if args.threads:
        config = replace(config, "train", threads=args.threads)
    weights = train(config, args.output)
    print(f"wrote {weights}")
    if not args.no_export:
        onnx_path = export_weights(weights, weights.with_suffix(".onnx"))
        print(f"wrote {onnx_path}")
    return 0
