"""``acutance export``: convert a torch checkpoint (.pth / .pt / .safetensors) to a self-describing ONNX file."""

from __future__ import annotations

import argparse
from pathlib import Path

from acutance.errors import OptionError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="convert a deep-model checkpoint to ONNX",
        description=(
            "Read MODEL_FILE safely (safetensors, or a torch checkpoint: pickled code is never run, a whole-module "
            "pickle is read by a restricted unpickler that only takes its tensors), "
            "detect its architecture (RRDBNet / ESRGAN, SRVGGNetCompact, SwinIR) and hyper-parameters, and write "
            "an ONNX file that runs without torch ('acutance upscale IN --model OUT.onnx'). The ONNX output is "
            "checked against torch on a random input. Needs the 'train' extra (torch, onnx)."
        ),
    )
    parser.add_argument("model_file", metavar="MODEL_FILE", type=Path, help="checkpoint: .pth, .pt or .safetensors")
    parser.add_argument("-o", "--output", type=Path, help="ONNX file to write (default: MODEL_FILE with .onnx)")
    parser.add_argument("--name", help="model name stored in the file (default: MODEL_FILE's stem)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.deep.checkpoint import SUFFIXES, load_checkpoint
    from acutance.deep.export import checkpoint_meta, max_abs_diff, onnx_bytes
    from acutance.io import atomic_write_bytes, check_writable_output

    source: Path = args.model_file
    if source.suffix.lower() not in SUFFIXES:
        raise OptionError(f"{source}: expected a checkpoint ({', '.join(SUFFIXES)}), got {source.suffix or 'no extension'!r}")
    target = args.output or source.with_suffix(".onnx")
    if target.suffix.lower() != ".onnx":
        raise OptionError(f"-o {target}: the output must be an .onnx file")
    check_writable_output(target, overwrite=args.overwrite)  # fail before the slow part
    loaded = load_checkpoint(source)
    description = loaded.description
    data = onnx_bytes(loaded.module, description.scale, checkpoint_meta(description, source, args.name))
    diff = max_abs_diff(loaded.module, data)
    if not diff < 1e-3:
        from acutance.errors import ModelError

        raise ModelError(f"{source}: the ONNX export differs from torch by {diff:.3g} (max abs); not written")
    atomic_write_bytes(target, data, overwrite=args.overwrite)
    print(f"{description.summary()}; ONNX vs torch max abs diff {diff:.2g}")
    print(target)
    return 0
