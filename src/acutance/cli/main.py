"""Entry point of the ``acutance`` command.

Each command lives in its own module with ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. The table below names every command, its module and its one-line help, so that
``acutance --help`` is printed without importing any command module, and ``acutance CMD ...`` imports only
CMD's module (and whatever that module imports). ``tests/test_startup.py`` checks that the one-line helps
here match the ones the modules register, and that choosing a command imports nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from acutance.errors import AcutanceError

# name -> (module, one-line help). Order here is the order in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "upscale": ("acutance.cli.upscale_cmd", "upscale (or enhance) an image or a folder of images"),
    "downscale": (
        "acutance.cli.downscale_cmd",
        "downscale an image so that 'acutance upscale' can restore it (IRN), or plainly (MATLAB bicubic)",
    ),
    "sharpen": ("acutance.cli.sharpen_cmd", "sharpen an image or a folder of images (unsharp mask or AMD CAS)"),
    "antialias": ("acutance.cli.antialias_cmd", "remove jaggies (aliased edges) from an image or a folder of images"),
    "denoise": (
        "acutance.cli.restore_cmd",
        "remove Gaussian-like noise from an image or a folder (BLADE hashed filters)",
    ),
    "deblock": (
        "acutance.cli.restore_cmd",
        "remove JPEG blocking and ringing from an image or a folder (BLADE hashed filters)",
    ),
    "faces": ("acutance.cli.faces_cmd", "restore faces: detect, align, restore, paste back without seams"),
    "style": ("acutance.cli.style_cmd", "give an image the colour look of a reference (DNCM); export it as a .cube LUT"),
    "lut": ("acutance.cli.lut_cmd", "apply a .cube 3D LUT (Resolve, Premiere, ffmpeg lut3d) to an image or a folder of images"),
    "enhance": ("acutance.cli.enhance_cmd", "automatic colour enhancement (saturation and contrast) of an image or a folder"),
    "inpaint": (
        "acutance.cli.inpaint_cmd",
        "remove objects, text or scratches: fill the pixels a mask marks, at full resolution",
    ),
    "watermark": (
        "acutance.cli.watermark_cmd",
        "embed an invisible, robust watermark in images, or detect and read one (images and videos)",
    ),
    "metrics": (
        "acutance.cli.metrics_cmd",
        "PSNR, SSIM, MS-SSIM against a reference; NIQE and face quality with no reference",
    ),
    "list": ("acutance.cli.list_cmd", "list the registered models"),
    "demo": ("acutance.cli.demo_cmd", "upscale a bundled test image and write a comparison"),
    "warm": ("acutance.cli.demo_cmd", "compile the numba kernels of the shipped models once, so first runs start fast"),
    "upscale-frames": (
        "acutance.cli.upscale_frames_cmd",
        "upscale a folder of video frames, in order, with a temporal model (vsr-x4, vsr-x2) or any other",
    ),
    "video": (
        "acutance.cli.video_cmd",
        "enhance a video with any model; audio, subtitles, timing and colour kept; resumable",
    ),
    "video-compare": (
        "acutance.cli.video_compare_cmd",
        "PSNR/SSIM/VMAF of a video against a reference, per frame; side-by-side preview",
    ),
    "batch": (
        "acutance.cli.batch_cmd",
        "process a folder tree; resumable, with a manifest, on local processes or a Dask cluster",
    ),
    "serve": ("acutance.cli.serve_cmd", "start the local web page: upload, compare before/after, download"),
    "degrade": ("acutance.cli.degrade_cmd", "synthesise realistic low-quality (LR) versions of images"),
    "pairs": ("acutance.cli.pairs_cmd", "build an HR/LR patch dataset with a degradation preset"),
    "train": ("acutance.cli.train_cmd", "train a model on your own images (raisr, blade, ...)"),
    "export": ("acutance.cli.export_cmd", "convert a deep-model checkpoint to ONNX"),
    "convert-splut": ("acutance.cli.convert_cmd", "convert the SPLUT authors' checkpoints to a LUT model file"),
}

DESCRIPTION = "Upscale, sharpen, denoise and measure images. 'acutance COMMAND --help' for details."


def _chosen_command(argv: list[str]) -> str | None:
    """The command named in ``argv``: the first argument that is not a top-level option (the top level has
    only ``-h``/``--help`` and ``--version``, neither of which takes a value)."""
    for token in argv:
        if token == "--":
            continue
        if not token.startswith("-"):
            return token
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``command``: only its module is imported and registered. Without a command (or with an
    unknown one) every command is listed from the table, with no module imported."""
    from acutance import __version__

    parser = argparse.ArgumentParser(prog="acutance", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"acutance {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command in COMMANDS:
        importlib.import_module(COMMANDS[command][0]).register(subparsers)
    else:
        for name, (_module, help_line) in COMMANDS.items():
            subparsers.add_parser(name, help=help_line)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_chosen_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from acutance.cli.limit_options import limits_from_arguments
    from acutance.limits import using

    try:
        with using(limits_from_arguments(args)), warnings.catch_warnings():  # the limits a command's flags asked for
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except AcutanceError as error:
        print(f"acutance: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("acutance: interrupted", file=sys.stderr)
        return 130


_python_show_warning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our own warnings (e.g. ``acutance.io.ImageNotice``: alpha composited for JPEG) as one line, like errors;
    anyone else's as Python prints them."""
    if category.__module__.startswith("acutance."):
        print(f"acutance: warning: {message}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


if __name__ == "__main__":
    sys.exit(main())
