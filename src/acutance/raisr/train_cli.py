"""``acutance train raisr`` and ``acutance train blade``: train hashed-filter models on folders of images."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, action="append", required=True, metavar="DIR",
        help="folder of clean training images (repeat for several; searched recursively)",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL", help="model file to write (.npz)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    parser.add_argument("--limit", type=int, default=0, help="use only this many images, spread over the data (0: all)")
    parser.add_argument("--no-augment", action="store_true", help="skip the 8-fold flip/rotate augmentation")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pixel sampling and the synthetic noise")
    parser.add_argument("--overwrite", action="store_true", help="replace MODEL if it exists")


def register(subparsers: argparse._SubParsersAction) -> None:
    from acutance.raisr.presets import UPSCALE_PRESETS

    raisr = subparsers.add_parser(
        "raisr",
        help="train a RAISR upscaler (hashed filters) on clean images",
        description=(
            "Train a RAISR model: LR images are made from the clean ones with MATLAB bicubic (the SR "
            "protocol), filters are solved per hash bucket from accumulated normal equations. About 5-10 "
            "minutes per scale on 2 cores for BSDS400 + T91. The model file holds everything needed to run it: "
            "'acutance upscale IN --model MODEL'."
        ),
    )
    raisr.add_argument("--scale", type=int, required=True, choices=(2, 3, 4), help="upscaling factor")
    raisr.add_argument("--preset", choices=UPSCALE_PRESETS, default="quality", help="layer recipe (default: quality)")
    _common(raisr)
    raisr.set_defaults(func=run_raisr)

    blade = subparsers.add_parser(
        "blade",
        help="train a BLADE restorer (denoise, deblock, sharpen) on clean images",
        description=(
            "Train a same-size hashed-filter restorer: the clean images are degraded synthetically (Gaussian "
            "noise of --sigma, JPEG at --jpeg-quality, or a Gaussian blur of --blur) and the filters learn to undo it."
        ),
    )
    blade.add_argument("--task", choices=("denoise", "deblock", "sharpen"), required=True)
    blade.add_argument("--sigma", type=float, default=25.0, help="denoise: noise sigma on the 0-255 scale")
    blade.add_argument("--jpeg-quality", type=int, default=20, help="deblock: JPEG quality 1-100")
    blade.add_argument("--blur", type=float, default=1.0, help="sharpen: the Gaussian blur sigma to undo")
    _common(blade)
    blade.set_defaults(func=run_blade)


def _training_paths(args: argparse.Namespace) -> list[Path]:
    from acutance.errors import OptionError
    from acutance.io import list_images

    paths = []
    for folder in args.data:
        if not folder.is_dir():
            raise OptionError(f"--data {folder}: not a folder")
        images, skipped = list_images(folder, recursive=True)
        if not images:
            raise OptionError(f"--data {folder}: no images in it ({len(skipped)} other files)")
        paths += sorted(images)
    if args.limit < 0:
        raise OptionError(f"--limit must be >= 0, got {args.limit}")
    if args.limit:
        paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]
    return paths


def _train(args: argparse.Namespace, options, meta: dict) -> int:
    from acutance.errors import OptionError
    from acutance.io import check_writable_output
    from acutance.raisr.model import save_model
    from acutance.raisr.train import train_files

    if args.workers < 1:
        raise OptionError(f"--workers must be >= 1, got {args.workers}")
    if args.output.suffix != ".npz":
        raise OptionError(f"-o {args.output}: the model file must end in .npz")
    check_writable_output(args.output, overwrite=args.overwrite)
    paths = _training_paths(args)
    print(f"training on {len(paths)} images from {', '.join(map(str, args.data))}", flush=True)
    model = train_files(paths, options, meta=meta)
    # Write next to the target then rename, so an interrupted run leaves no half-written model.
    temporary = args.output.with_name(f".{args.output.name}.partial.npz")
    save_model(model, temporary)
    os.replace(temporary, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB) in {model.meta['training_seconds']} s")
    return 0


def run_raisr(args: argparse.Namespace) -> int:
    from acutance.raisr.presets import upscale_layers
    from acutance.raisr.train import TrainOptions

    options = TrainOptions(
        task="upscale", scale=args.scale, layers=upscale_layers(args.preset, args.scale),
        augment=not args.no_augment, workers=args.workers, seed=args.seed,
    )
    meta = {"method": "RAISR", "preset": args.preset, "training_data": [str(d) for d in args.data]}
    return _train(args, options, meta)


def run_blade(args: argparse.Namespace) -> int:
    from acutance.raisr.presets import restore_layers
    from acutance.raisr.train import TrainOptions

    options = TrainOptions(
        task=args.task, scale=1, layers=restore_layers(args.task), noise_sigma=args.sigma,
        jpeg_quality=args.jpeg_quality, blur_sigma=args.blur, augment=not args.no_augment,
        workers=args.workers, seed=args.seed,
    )
    meta = {"method": "BLADE", "training_data": [str(d) for d in args.data]}
    return _train(args, options, meta)
