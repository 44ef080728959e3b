"""``acutance train METHOD``: every trainer of acutance, one sub-command each, all on ``acutance.train``.

Methods: ``raisr``, ``blade`` (hashed filters, normal equations), ``lut`` (look-up tables: least squares, nets,
LUT-aware fine-tuning), ``lerf`` (LeRF resampler tables), ``splut`` (SPLUT tables from MLPs), ``edgesr``
(edge-SR), ``sr`` (deep SR nets from a TOML config), ``face`` (the face restorer), ``face-quality`` (the
face-quality regressor) and ``dncm`` (colour style).

Trainers that write a model file keep their checkpoint and JSON-lines log in a run folder (``--run``,
default ``OUTPUT.run``): rerunning the same command after an interruption continues where it stopped.
Nothing heavy is imported until a method runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model on your own images (raisr, blade, ...)",
        description="Train a model on folders of clean images. 'acutance train METHOD --help' for details.",
    )
    methods = parser.add_subparsers(dest="method", metavar="METHOD")
    for name, (help_, description, arguments, run) in _METHODS.items():
        method = methods.add_parser(name, help=help_, description=description)
        arguments(method)
        method.set_defaults(func=run)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


# ------------------------------------------------------------------------------------------ shared parts


def _data_output(parser: argparse.ArgumentParser, output_help: str, *, config: bool = True) -> None:
    parser.add_argument("--data", type=Path, action="append", required=True, metavar="DIR",
                        help="folder of clean training images (repeat for several; searched recursively)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL", help=output_help)
    if config:
        parser.add_argument("--config", type=Path, help="JSON or TOML file of training options")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def _schedule(parser: argparse.ArgumentParser, steps: str = "", minutes: str = "") -> None:
    """--steps and --minutes of a recipe on the training loop; ``steps``/``minutes``: the defaults, for the help."""
    parser.add_argument("--steps", type=int, help="training steps" + (f" (default: config or {steps})" if steps else ""))
    parser.add_argument("--minutes", type=float, help="stop after this many minutes of training"
                        + (f" (default: {minutes})" if minutes else ""))


def _resumable(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, metavar="DIR",
                        help="run folder: checkpoint and log.jsonl (default: OUTPUT.run); rerun to resume")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the log lines stay)")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _prepare(args: argparse.Namespace) -> Path | None:
    """Checks shared by the file-writing trainers; returns the run folder."""
    from acutance.errors import OptionError
    from acutance.io import check_writable_output

    if getattr(args, "config", None) is not None and not args.config.is_file():
        raise OptionError(f"--config {args.config}: no such file")
    for folder in getattr(args, "data", None) or ():
        if not folder.is_dir():
            raise OptionError(f"--data {folder}: not a folder")
    check_writable_output(args.output, overwrite=args.overwrite)
    if not hasattr(args, "run"):
        return None
    return args.run or args.output.with_name(args.output.name + ".run")


def _trained(args: argparse.Namespace, train, load_config, torch_for: str = ""):
    """Run a recipe that writes one model file: the shared checks, then ``train(config, data, ...)`` with the run
    folder, progress and log lines on stderr; ``load_config()`` reads the options once the checks passed."""
    if torch_for:
        _need_torch(torch_for)
    run = _prepare(args)
    return train(load_config(), list(args.data), log=_stderr, run=run, progress=not args.no_progress)


def _need_torch(method: str) -> None:
    from acutance.train.loop import require_torch

    require_torch(f"'acutance train {method}'")


# ------------------------------------------------------------------------------------------ raisr, blade


def _hashed_common(parser: argparse.ArgumentParser) -> None:
    _data_output(parser, "model file to write (.npz)", config=False)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    parser.add_argument("--limit", type=int, default=0, help="use only this many images, spread over the data (0: all)")
    parser.add_argument("--no-augment", action="store_true", help="skip the 8-fold flip/rotate augmentation")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pixel sampling and the synthetic noise")
    _resumable(parser)


def _raisr_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=int, required=True, choices=(2, 3, 4), help="upscaling factor")
    parser.add_argument("--preset", choices=("quality", "fast", "classic"), default="quality",
                        help="layer recipe (default: quality)")
    _hashed_common(parser)


def _blade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=("denoise", "deblock", "sharpen"), required=True)
    parser.add_argument("--sigma", type=float, default=25.0, help="denoise: noise sigma on the 0-255 scale")
    parser.add_argument("--jpeg-quality", type=int, default=20, help="deblock: JPEG quality 1-100")
    parser.add_argument("--blur", type=float, default=1.0, help="sharpen: the Gaussian blur sigma to undo")
    _hashed_common(parser)


def _run_hashed(args: argparse.Namespace) -> int:
    from acutance.errors import OptionError
    from acutance.raisr.model import save_model
    from acutance.raisr.train import hashed_options, train_files
    from acutance.train.data import find_images

    if args.workers < 1:
        raise OptionError(f"--workers must be >= 1, got {args.workers}")
    if args.limit < 0:
        raise OptionError(f"--limit must be >= 0, got {args.limit}")
    if args.output.suffix != ".npz":
        raise OptionError(f"-o {args.output}: the model file must end in .npz")
    run = _prepare(args)
    paths = find_images(args.data, sort=True)
    if args.limit:
        paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]
    options, meta = hashed_options(args)
    print(f"training on {len(paths)} images from {', '.join(map(str, args.data))}", flush=True)
    model = train_files(paths, options, meta=meta, run=run, progress=not args.no_progress)
    # Write next to the target then rename, so an interrupted run leaves no half-written model.
    temporary = args.output.with_name(f".{args.output.name}.partial.npz")
    save_model(model, temporary)
    os.replace(temporary, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB) in {model.meta['training_seconds']} s")
    return 0


# --------------------------------------------------------------------------------------------------- lut


def _lut_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), help="upscaling factor (default: config or 4)")
    _data_output(parser, "model file to write (.npz)")
    _resumable(parser)


def _run_lut(args: argparse.Namespace) -> int:
    from acutance.lut.runtime import save_model
    from acutance.lut.train import TrainConfig, train

    model = _trained(args, train, lambda: TrainConfig.load(args.config, scale=args.scale))
    print(f"wrote {save_model(model, args.output)} (x{model.scale}, {model.nbytes / 1e6:.2f} MB of tables)")
    return 0


# -------------------------------------------------------------------------------------------------- lerf


def _lerf_arguments(parser: argparse.ArgumentParser) -> None:
    _schedule(parser)
    parser.add_argument("--init", help="start from this LeRF model file's tables")
    _data_output(parser, "model file to write (.npz)")
    _resumable(parser)


def _run_lerf(args: argparse.Namespace) -> int:
    from acutance.lut.lerf import save_model
    from acutance.lut.lerf_train import LerfConfig, train

    options = {"steps": args.steps, "minutes": args.minutes, "init": args.init}
    model = _trained(args, train, lambda: LerfConfig.load(args.config, **options), "lerf")
    save_model(model, args.output)
    print(f"wrote {args.output} ({model.meta['steps']} steps)")
    return 0


# ------------------------------------------------------------------------------------------------- splut


def _splut_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), help="upscaling factor (default: config or 4)")
    _schedule(parser)
    _data_output(parser, "model file to write (.npz)")
    _resumable(parser)


def _run_splut(args: argparse.Namespace) -> int:
    from acutance.lut.splut import save_atomically
    from acutance.lut.splut_train import SplutConfig, train

    options = {"scale": args.scale, "steps": args.steps, "minutes": args.minutes}
    model = _trained(args, train, lambda: SplutConfig.load(args.config, **options), "splut")
    save_atomically(model, args.output, overwrite=args.overwrite)
    print(f"wrote {args.output} (x{model.scale}, {model.meta['steps']} steps, {model.nbytes / 1e6:.2f} MB of tables)")
    return 0


# ------------------------------------------------------------------------------------------------ edgesr


def _edgesr_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=("max", "tm", "tr", "cnn"), help="variant (default: config or tr)")
    parser.add_argument("--scale", type=int, choices=(2, 3, 4), help="upscaling factor (default: config or 2)")
    parser.add_argument("--channels", type=int, help="C, the channels the max/softmax runs over")
    parser.add_argument("--kernel", type=int, help="k, the filter size (odd; eSR-CNN: 3)")
    parser.add_argument("--depth", type=int, help="eSR-CNN: D, channels of the 5x5 layer")
    parser.add_argument("--features", type=int, help="eSR-CNN: S, channels of the 3x3 layer")
    parser.add_argument("--steps", type=int, help="training steps (default: config or 2500)")
    _data_output(parser, "model file to write (.npz)")
    _resumable(parser)


def _run_edgesr(args: argparse.Namespace) -> int:
    from acutance.edgesr.runtime import save_model
    from acutance.edgesr.train import TrainConfig, train

    names = ("kind", "scale", "channels", "kernel", "depth", "features", "steps")
    flags = {name: getattr(args, name) for name in names}
    model = _trained(args, train, lambda: TrainConfig.load(args.config, **flags), "edgesr")
    path = save_model(model, args.output)
    best = model.meta["history"][-1].get("best_val_psnr")
    print(f"wrote {path} ({model.spec.name}, {model.spec.params} parameters, held-out Y-PSNR {best} dB)")
    return 0


# ---------------------------------------------------------------------------------------------------- sr


def _sr_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE|NAME", help="TOML config, or a shipped config's name")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="run folder (created)")
    parser.add_argument("--data", action="append", metavar="DIR", help="replace data.train (repeatable)")
    parser.add_argument("--iterations", type=int, help="replace train.iterations")
    parser.add_argument("--threads", type=int, help="torch threads (default: the config's, else torch's)")
    parser.add_argument("--no-export", action="store_true", help="do not write the ONNX file at the end")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_sr(args: argparse.Namespace) -> int:
    _need_torch("sr")
    from acutance.deep.train.config import load_train_config, replace
    from acutance.deep.train.recipe import export_weights, train

    config = load_train_config(args.config)
    if args.data:
        config = replace(config, "data", train=tuple(args.data))
    if args.iterations:
        config = replace(config, "train", iterations=args.iterations)
    if args.threads:
        config = replace(config, "train", threads=args.threads)
    weights = train(config, args.output, progress=not args.no_progress)
    print(f"wrote {weights}")
    if not args.no_export:
        print(f"wrote {export_weights(weights, weights.with_suffix('.onnx'))}")
    return 0


# -------------------------------------------------------------------------------------------------- face


def _face_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lfw", type=Path, required=True, help="LFW root (one folder per identity)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="ONNX", help="the ONNX file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/acutance-faces/lfw_aligned128.npz"),
                        help="aligned crops cache (npz, outside the repository)")
    parser.add_argument("--steps", type=int, help="training steps")
    parser.add_argument("--time-limit", type=float, default=0.0, help="stop after this many seconds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-identity", type=int, default=2, help="images per training identity (0: all)")
    parser.add_argument("--per-held-out", type=int, default=2, help="images per held-out identity (0: all)")
    parser.add_argument("--prepare-only", action="store_true", help="only build the crops cache")
    tune = parser.add_argument_group("identity fine-tune (with --init-onnx)")
    tune.add_argument("--init-onnx", type=Path, help="fine-tune this exported FaceUNet with the identity loss")
    tune.add_argument("--identity-weight", type=float, default=0.1)
    tune.add_argument("--batch", type=int, default=4)
    tune.add_argument("--lr", type=float, default=2e-4)
    tune.add_argument("--validation-identities", type=int, default=40,
                      help="the last N training identities (sorted) are left out of the fine-tune to validate on")
    tune.add_argument("--identity-cache", type=Path, default=Path("/tmp/acutance-faces/identity_targets.npz"))
    _resumable(parser)


def _run_face(args: argparse.Namespace) -> int:
    from acutance.faces.train import main

    _need_torch("face")
    run = _prepare(args)
    return main(args, run)


def _face_quality_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lfw", type=Path, required=True, help="LFW root (one folder per identity)")
    parser.add_argument("-o", "--output", type=Path, help="the npz to write (not needed with --cache-only)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/acutance_fiqa"), help="embeddings cache folder")
    parser.add_argument("--cache-only", action="store_true", help="only build the cache")
    parser.add_argument("--holdout", type=int, default=60, help="held-out identities (the last ones, sorted)")


def _run_face_quality(args: argparse.Namespace) -> int:
    import json

    from acutance.errors import OptionError
    from acutance.faces import quality_train as qt
    from acutance.io import check_writable_output

    if not args.cache_only:
        if args.output is None:
            raise OptionError("-o is needed (or --cache-only)")
        check_writable_output(args.output, overwrite=args.overwrite)
    _need_torch("face-quality")
    qt.build_cache(qt.CacheOptions(lfw=args.lfw.resolve(), cache=args.cache))
    if args.cache_only:
        return 0
    report = qt.train_and_save(args.cache, args.output, args.holdout, qt.TrainOptions())
    print(json.dumps(report, indent=1))
    return 0


# -------------------------------------------------------------------------------------------------- dncm


def _dncm_arguments(parser: argparse.ArgumentParser) -> None:
    _schedule(parser)
    _data_output(parser, "model file to write (.npz)")
    _resumable(parser)


def _run_dncm(args: argparse.Namespace) -> int:
    from acutance.grading.dncm import save_encoder
    from acutance.grading.dncm_train import DncmConfig, train

    _need_torch("dncm")
    run = _prepare(args)
    config = DncmConfig.load(args.config, steps=args.steps, minutes=args.minutes)
    arrays, meta = train(config, list(args.data), log=_stderr, run=run, progress=not args.no_progress)
    save_encoder(args.output, arrays, meta)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB, {meta['steps']} steps, best {meta['best']})")
    return 0


# --------------------------------------------------------------------------------------------------- irn


def _irn_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=int, choices=(2, 4), help="downscaling factor (default: config or 2)")
    parser.add_argument("--jpeg-aug", action="store_true", default=None,
                        help="the robust variant: JPEG (real codec and differentiable proxy) on the LR in training")
    _schedule(parser, "20000", "40")
    _data_output(parser, "upscaler file to write (.onnx); the downscaler goes beside it as NAME.down.onnx")
    _resumable(parser)


def _run_irn(args: argparse.Namespace) -> int:
    from acutance.rescale.train import TrainConfig, train

    flags = {"scale": args.scale, "jpeg_aug": args.jpeg_aug, "steps": args.steps, "time_limit_min": args.minutes}
    net, meta = _trained(args, train, lambda: TrainConfig.load(args.config, **flags), "irn")
    from acutance.rescale.export import export_pair

    name = args.output.name.removesuffix(".onnx")
    variant = "robust: trained with JPEG on the LR" if meta["config"]["jpeg_aug"] else "plain"
    up, down = export_pair(net, args.output, name, f"IRN x{net.spec.scale} ({variant}), from acutance train irn",
                           {"best": meta["best"], "train_seconds": meta["train_seconds"]}, overwrite=args.overwrite)  # fmt: skip
    print(f"wrote {up} and {down} (held-out {meta['best']})")
    return 0


# ----------------------------------------------------------------------------------------------- inpaint


def _inpaint_arguments(parser: argparse.ArgumentParser) -> None:
    _schedule(parser, "20000", "60")
    _data_output(parser, "the ONNX file to write (.onnx)")
    _resumable(parser)


def _run_inpaint(args: argparse.Namespace) -> int:
    from acutance.inpaint.train import TrainConfig, export, train

    flags = {"steps": args.steps, "time_limit_min": args.minutes}
    net, meta = _trained(args, train, lambda: TrainConfig.load(args.config, **flags), "inpaint")
    print(f"wrote {export(net, meta, args.output, overwrite=args.overwrite)} (held-out {meta['best']})")
    return 0


# --------------------------------------------------------------------------------------------------- vsr


def _vsr_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=int, choices=(2, 4), help="upscaling factor (default: config or 4)")
    _schedule(parser, minutes="50")
    _data_output(parser, "model file to write (.onnx)")
    _resumable(parser)


def _run_vsr(args: argparse.Namespace) -> int:
    from acutance.vsr.train import TrainConfig, export_model, train

    flags = {"scale": args.scale, "steps": args.steps, "time_limit_min": args.minutes}
    net, meta = _trained(args, train, lambda: TrainConfig.load(args.config, **flags), "vsr")
    export_model(net, meta, args.output, overwrite=args.overwrite)
    print(f"wrote {args.output} (held-out {meta['best']})")
    return 0


# ---------------------------------------------------------------------------------------------------- aa


def _aa_arguments(parser: argparse.ArgumentParser) -> None:
    _data_output(parser, "model file to write (.npz)", config=False)
    parser.add_argument("--scenes", type=int, help="rendered vector scenes (default 240)")
    parser.add_argument("--k", type=int, help="filter size, odd (default 7)")
    parser.add_argument("--limit", type=int, default=0, help="use only this many photos, spread over the data (0: all)")
    parser.add_argument("--no-augment", action="store_true", help="skip the 8-fold flip/rotate augmentation")
    parser.add_argument("--seed", type=int, help="seed of the scenes and the pixel sampling (default 0)")
    _resumable(parser)


def _run_aa(args: argparse.Namespace) -> int:
    from acutance.antialias.model import save_model
    from acutance.antialias.train import options_from, train
    from acutance.errors import OptionError
    from acutance.train.data import find_images

    if args.output.suffix != ".npz":
        raise OptionError(f"-o {args.output}: the model file must end in .npz")
    if args.limit < 0:
        raise OptionError(f"--limit must be >= 0, got {args.limit}")
    run = _prepare(args)
    options = options_from(args)
    paths = find_images(args.data, sort=True)
    if args.limit:
        paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]
    model = train(options, paths, log=_stderr, run=run, progress=not args.no_progress)
    model.meta["training_data"] = [str(d) for d in args.data]
    temporary = args.output.with_name(f".{args.output.name}.partial.npz")
    save_model(model, temporary)
    os.replace(temporary, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB) in {model.meta['training_seconds']} s")
    return 0


# name: (one-line help, description, arguments, run); the order of --help
_METHODS = {
    "raisr": (
        "train a RAISR upscaler (hashed filters) on clean images",
        (
            "Train a RAISR model: LR images are made from the clean ones with MATLAB bicubic (the SR protocol), "
            "filters are solved per hash bucket from accumulated normal equations, layer by layer (each finished "
            "layer is kept in the run folder, so a rerun resumes). About 5-10 minutes per scale on 2 cores for "
            "BSDS400 + T91. The model file holds everything needed to run it: 'acutance upscale IN --model MODEL'."
        ),
        _raisr_arguments,
        _run_hashed,
    ),
    "blade": (
        "train a BLADE restorer (denoise, deblock, sharpen) on clean images",
        (
            "Train a same-size hashed-filter restorer: the clean images are degraded synthetically (Gaussian "
            "noise of --sigma, JPEG at --jpeg-quality, or a Gaussian blur of --blur) and the filters learn to undo it."
        ),
        _blade_arguments,
        _run_hashed,
    ),
    "lut": (
        "train a look-up-table SR model (SR-LUT / MuLUT style) on a folder of HR images",
        (
            "Train a LUT super-resolution model on the HR images under --data (LR made with MATLAB bicubic, as "
            "the SR test protocol does) and write it to -o (.npz, loadable by the runtime without torch). "
            "Method 'fit' (default) solves for the tables directly by least squares on the CPU; 'net' trains "
            "small MLPs with torch and samples them into tables; both can be followed by LUT-aware fine-tuning "
            "of the tables (torch). Options come from --config (JSON or TOML; see docs/lut.md), --scale "
            "overrides the file."
        ),
        _lut_arguments,
        _run_lut,
    ),
    "lerf": (
        "train the LeRF resampler's tables (any scale) on a folder of HR images",
        (
            "Train the tables of a LeRF-style resampler (acutance.lut.lerf: LUT-predicted steerable Gaussian "
            "kernels, any scale or output size) with torch: random crops at random scales, L1 on Y. Options "
            "from --config (JSON or TOML, fields of acutance.lut.lerf_train.LerfConfig; see docs/lerf.md); "
            "--steps, --minutes and --init override it."
        ),
        _lerf_arguments,
        _run_lerf,
    ),
    "splut": (
        "train a SPLUT model (series-parallel look-up tables) on a folder of HR images",
        (
            "Train our own SPLUT (acutance.lut.splut): a SPLUT-shaped network of small MLPs (4-bit MSB and LSB "
            "branches, series stages) with torch on the CPU, on MATLAB-bicubic LR of the HR images under --data, "
            "then transferred to int16 tables in one model file (-o, run without torch). Options from --config "
            "(JSON or TOML, fields of acutance.lut.splut_train.SplutConfig; see docs/splut.md); the flags "
            "override it. Resumable from the run folder."
        ),
        _splut_arguments,
        _run_splut,
    ),
    "edgesr": (
        "train an edge-SR single-layer SR model (eSR-MAX, eSR-TM, eSR-TR, eSR-CNN) on a folder of HR images",
        (
            "Train an edge-SR model on the HR images under --data (LR made with MATLAB bicubic, as the SR test "
            "protocol does; a few images held out to keep the best state) with torch on the CPU, and write it "
            "to -o (.npz, run without torch by onnxruntime or OpenCV). Options come from --config (JSON or "
            "TOML, fields of acutance.edgesr.train.TrainConfig; see docs/edge_sr.md); the flags override it."
        ),
        _edgesr_arguments,
        _run_edgesr,
    ),
    "sr": (
        "train a deep SR network (compact SRVGG; L1/Charbonnier, CDC, FFT, GAN, EMA) from a config",
        (
            "Train a deep super-resolution network as a TOML config says ([model], [data], [train], [gan]; "
            "see acutance/deep/configs/ for the shipped models' configs, usable by name: compact-x2, "
            "compact-x4, real-x4-fidelity, real-x4). OUT/checkpoint.safetensors is written every "
            "train.checkpoint_every steps; rerunning the same command continues from it. The result is "
            "OUT/NAME.safetensors (EMA weights, the config inside) and OUT/NAME.onnx, which "
            "'acutance upscale IN --model OUT/NAME.onnx' runs. Needs the 'train' extra (torch)."
        ),
        _sr_arguments,
        _run_sr,
    ),
    "face": (
        "train the face restorer (FaceUNet) on aligned LFW faces, or fine-tune it with an identity loss",
        (
            "Train our face restorer on LFW (identity folders; the last 60 identities in sorted order are held "
            "out), aligned by 5 landmarks to the 128 template, with random blur/downscale/noise/JPEG; export "
            "it to ONNX (-o). With --init-onnx, fine-tune an exported restorer with dlib's identity loss "
            "instead. See docs/face_restorer.md. Resumable from the run folder."
        ),
        _face_arguments,
        _run_face,
    ),
    "face-quality": (
        "train the face-quality regressor (SDD-FIQA style) on LFW",
        (
            "Build (or continue) the cache of dlib embeddings of LFW photos and degraded copies (slow, resumable "
            "by chunk), then fit the SDD-FIQA pseudo-label regressor and write it (-o, npz). "
            "See docs/face_quality.md."
        ),
        _face_quality_arguments,
        _run_face_quality,
    ),
    "dncm": (
        "train the DNCM colour-style encoder (Neural Preset style) on clean images",
        (
            "Train the encoder of 'acutance style' self-supervised: two random colour looks of each image "
            "(curves, white balance, HSL, split-toning, film-like LUTs, channel mixing); one look's normalised "
            "image must be restyled into the other. Options from --config (fields of "
            "acutance.grading.dncm_train.DncmConfig; see docs/colour.md). Resumable from the run folder."
        ),
        _dncm_arguments,
        _run_dncm,
    ),
    "irn": (
        "train an invertible rescaler (IRN: downscaler and upscaler together) on clean images",
        (
            "Train an IRN-style invertible network (Haar + affine coupling blocks) with IRN's losses: the LR "
            "against MATLAB bicubic, the HR restored from the 8-bit LR with z = 0, z matched to N(0, 1); "
            "--jpeg-aug also passes the LR through JPEG (the real codec and a differentiable proxy, as MBRS). "
            "Writes OUTPUT (upscaler) and OUTPUT.down.onnx; see docs/irn.md. Resumable from the run folder."
        ),
        _irn_arguments,
        _run_irn,
    ),
    "aa": (
        "train aa-x1-style anti-aliasing filters (hashed, BLADE-style) on aliased / anti-aliased pairs",
        (
            "Train the learned anti-aliasing filters of 'acutance antialias': pairs are rendered vector scenes "
            "(point-sampled against supersampled), the --data photos shrunk 3x without and with a pre-filter, and "
            "line art made from them with its anti-aliasing undone (DaltonLens-style); filters are solved per hash "
            "bucket from normal equations. Resumable from the run folder. See docs/antialias.md."
        ),
        _aa_arguments,
        _run_aa,
    ),
    "inpaint": (
        "train the inpainting network (gated convolutions + attention) on clean images",
        (
            "Train the learned inpainter of 'acutance inpaint' with torch on the CPU: random crops of the "
            "images under --data with seeded LaMa-style masks (strokes, boxes, blobs), L1 inside and outside "
            "the hole; the first images (sorted) are held out. Writes an ONNX file (-o) run by onnxruntime. "
            "See docs/inpaint.md. Resumable from the run folder."
        ),
        _inpaint_arguments,
        _run_inpaint,
    ),
    "vsr": (
        "train the temporal video upscaler (vsr-x4, vsr-x2) on clips synthesised from clean images",
        (
            "Train the recurrent refiner of the temporal upscaler (acutance.vsr) over the frozen shipped "
            "compact net: clips with smooth random camera motion and moving layers are synthesised from the "
            "images under --data, with DIS flow as the runtime computes it. Writes one ONNX file (-o); see "
            "docs/vsr.md. Resumable from the run folder."
        ),
        _vsr_arguments,
        _run_vsr,
    ),
}
