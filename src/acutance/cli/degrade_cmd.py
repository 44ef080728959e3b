"""``acutance degrade``: make realistic low-quality versions of images (Real-ESRGAN high-order model)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from acutance.errors import AcutanceError, ImageWriteError, OptionError

PRESET_HELP = "bicubic, realesrgan, realesrgan-light, jpeg, noise"


def add_degrade_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``degrade`` and ``pairs``: which degradation, how reproducible, how parallel."""
    parser.add_argument("--preset", default="realesrgan", help=f"degradation preset: {PRESET_HELP} (default: realesrgan)")
    parser.add_argument("--config", type=Path, metavar="FILE.toml", help="TOML config; keys it gives override the preset's")
    parser.add_argument("-s", "--scale", type=int, default=4, help="integer downscale factor (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; each file's own comes from it and its path (default: 0)")
    parser.add_argument("-j", "--workers", type=int, default=1, help="worker processes (results do not depend on it; default: 1)")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders of a folder input")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def resolve_config(args: argparse.Namespace):
    """``(config, label)`` from --preset and --config; validates --scale, --seed and --workers too."""
    from acutance.degrade import get_preset, load_config, make_rng
    from acutance.degrade.parallel import check_workers

    config = get_preset(args.preset)
    label = args.preset
    if args.config is not None:
        config = load_config(args.config, base=config)
        label = f"{args.preset} + {args.config.name}"
    if args.scale < 1:
        raise OptionError(f"--scale must be a positive integer, got {args.scale}")
    make_rng(args.seed)
    check_workers(args.workers)
    return config, label


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "degrade",
        help="synthesise realistic low-quality (LR) versions of images",
        description=(
            "Degrade IN (a file or a folder) into OUT with the Real-ESRGAN high-order model or a simpler preset: "
            "blur, resize, noise and JPEG, twice, then a final resize, sinc filter and JPEG. The output is "
            "the input's size divided by --scale, 8-bit PNG, with a JSON sidecar of every sampled parameter "
            "(enough to reproduce it). The same seed and input give the same bytes, whatever --workers."
        ),
    )
    parser.add_argument("input", metavar="IN", type=Path, nargs="?", help="image file or folder")
    parser.add_argument("output", metavar="OUT", type=str, nargs="?", help="output file (.png) or folder")
    add_degrade_arguments(parser)
    parser.add_argument("--no-sidecar", action="store_true", help="do not write the JSON parameter sidecars")
    parser.add_argument("--save-config", type=Path, metavar="FILE.toml", help="also write the effective config as TOML")
    parser.add_argument("--dump-config", action="store_true", help="print the effective config as TOML and exit")
    parser.set_defaults(func=run)


def _job(job: tuple) -> dict:
    """Degrade one file; returns its target or its error (so a folder run goes on past bad files)."""
    from acutance.degrade.pipeline import degrade_pair, make_rng
    from acutance.io import atomic_write_bytes, check_writable_output, read_image, write_image

    source, relative, target, sidecar, config, label, scale, seed, overwrite = job
    try:
        check_writable_output(target, overwrite=overwrite)
        if sidecar is not None:
            check_writable_output(sidecar, overwrite=overwrite)
        hr = read_image(source).rgb
        lr, params = degrade_pair(hr, config, make_rng(seed, relative), scale=scale)
        write_image(target, lr, overwrite=overwrite, bit_depth=8)
        if sidecar is not None:
            record = {
                "kind": "acutance degrade",
                "version": 1,
                "source": relative,
                "output": target.name,
                "seed": seed,
                "key": relative,
                "preset": label,
                "hr_shape": list(hr.shape[:2]),
                "lr_shape": list(lr.shape[:2]),
                "params": params,
            }
            atomic_write_bytes(sidecar, (json.dumps(record, indent=1) + "\n").encode("utf-8"), overwrite=overwrite)
        return {"target": str(target)}
    except AcutanceError as error:
        return {"error": str(error)}
    except OSError as error:
        return {"error": f"{target}: {error.strerror or error}"}


def run(args: argparse.Namespace) -> int:
    from acutance.degrade.config import config_to_toml, save_config

    config, label = resolve_config(args)
    if args.dump_config:
        sys.stdout.write(config_to_toml(config, f"effective degradation config: {label}"))
        return 0
    if args.input is None or args.output is None:
        raise OptionError("give IN and OUT (or --dump-config)")
    if not args.input.exists():
        raise AcutanceError(f"{args.input}: no such file or folder")
    if args.save_config is not None:
        save_config(config, args.save_config, overwrite=args.overwrite, header=f"degradation config: {label}")
    if args.input.is_dir():
        return _run_folder(args, config, label)
    return _run_file(args, config, label)


def _sidecar(target: Path, args: argparse.Namespace) -> Path | None:
    return None if args.no_sidecar else target.with_suffix(".json")


def _run_file(args: argparse.Namespace, config, label: str) -> int:
    from acutance.io import is_image_path

    source: Path = args.input
    if not is_image_path(source):
        raise AcutanceError(f"{source}: not an image file (supported: png, jpg, webp, tif, bmp)")
    out = Path(args.output)
    if out.is_dir() or args.output.endswith(("/", "\\")):
        target = out / f"{source.stem}.png"
    elif is_image_path(out):
        target = out
    else:
        raise ImageWriteError(f"cannot write {out}: give an image file name (.png) or an existing folder")
    if not target.parent.is_dir():
        raise ImageWriteError(f"cannot write {target}: folder {target.parent} does not exist")
    # The seed key is the file name, so a file degraded alone matches the same file at a folder's top level.
    result = _job((source, source.name, target, _sidecar(target, args), config, label, args.scale, args.seed, args.overwrite))
    if "error" in result:
        raise AcutanceError(result["error"])
    print(target)
    return 0


def _run_folder(args: argparse.Namespace, config, label: str) -> int:
    from acutance.cli.upscale_cmd import folder_inputs
    from acutance.degrade.parallel import run_jobs

    source: Path = args.input
    root = Path(args.output)
    images = folder_inputs(source, root, recursive=args.recursive)
    jobs = []
    stems = Counter(path.relative_to(source).with_suffix("") for path in images)
    for path in images:
        relative = path.relative_to(source)
        # photo.jpg and photo.png side by side would both become photo.png: keep the suffix for those.
        clash = stems[relative.with_suffix("")] > 1
        target = root / (f"{relative}.png" if clash else relative.with_suffix(".png"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImageWriteError(f"cannot create {target.parent}: {error.strerror or error}") from error
        jobs.append((path, relative.as_posix(), target, _sidecar(target, args), config, label, args.scale, args.seed, args.overwrite))
    failures = 0
    for result in run_jobs(_job, jobs, workers=args.workers, desc=f"degrade {label}"):
        if "error" in result:
            failures += 1
            print(f"acutance: error: {result['error']}", file=sys.stderr)
    done = len(images) - failures
    print(f"{done} of {len(images)} images written to {root}" + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0
