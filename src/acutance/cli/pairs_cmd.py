"""``acutance pairs``: build an HR/LR patch dataset for training from a folder of clean images."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.cli.degrade_cmd import add_degrade_arguments, resolve_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pairs",
        help="build an HR/LR patch dataset with a degradation preset",
        description=(
            "Cut --per-image random HR patches of --patch pixels from every image in HR_DIR, degrade each with "
            "--preset, and write OUT_DIR/hr/, OUT_DIR/lr/, a JSON sidecar per pair (every sampled parameter), "
            "manifest.json and config.toml. --sampling-aug TOP draws per-image/TOP candidates and keeps those a "
            "bilinear upscale reconstructs worst. Same seed, same dataset, whatever --workers."
        ),
    )
    parser.add_argument("hr_dir", metavar="HR_DIR", type=Path, help="folder of clean (HR) images")
    parser.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="dataset folder to write")
    parser.add_argument("--patch", type=int, default=128, help="HR patch side in pixels, a multiple of --scale (default: 128)")
    parser.add_argument("--per-image", type=int, default=8, help="pairs per image (default: 8)")
    parser.add_argument("--sampling-aug", type=float, metavar="TOP", help="keep the top fraction (0, 1] of candidates by SamplingAug")
    parser.add_argument("--usm-hr", action="store_true", help="sharpen HR images first (Real-ESRGAN's USM: radius 50, weight 0.5, threshold 10)")
    parser.add_argument("--gallery", type=Path, metavar="FILE.png", help="also write a contact sheet of sample pairs")
    parser.add_argument("--gallery-count", type=int, default=8, help="pairs in the gallery (default: 8)")
    add_degrade_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.degrade.pairs import PairsOptions, build_pairs, gallery_from_dataset
    from acutance.errors import AcutanceError, OptionError
    from acutance.io import check_writable_output, is_image_path, write_image

    config, label = resolve_config(args)
    options = PairsOptions(
        scale=args.scale, patch=args.patch, per_image=args.per_image, sampling_aug=args.sampling_aug,
        seed=args.seed, preset=label, usm_hr=args.usm_hr,
    )
    if not args.hr_dir.is_dir():
        raise AcutanceError(f"{args.hr_dir}: no such folder")
    if args.gallery is not None:
        if not is_image_path(args.gallery):
            raise OptionError(f"--gallery {args.gallery}: give an image file name such as gallery.png")
        if args.gallery_count < 1:
            raise OptionError(f"--gallery-count must be positive, got {args.gallery_count}")
        check_writable_output(args.gallery, overwrite=args.overwrite)
    manifest = build_pairs(
        args.hr_dir, args.out_dir, config, options, workers=args.workers, recursive=args.recursive,
        overwrite=args.overwrite,
    )
    print(f"{manifest['count']} pairs from {manifest['images']} images written to {args.out_dir}")
    if args.gallery is not None and manifest["count"]:
        write_image(args.gallery, gallery_from_dataset(args.out_dir, args.gallery_count), overwrite=args.overwrite, bit_depth=8)
        print(args.gallery)
    return 1 if manifest["failed"] else 0
