"""``acutance list``: the registered models with their descriptors and measured figures."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list", help="list the registered models", description=__doc__)
    parser.add_argument("--task", help="only models of this task (upscale, denoise, deblock, sharpen, face, quality, style, inpaint, pre-encode)")
    parser.add_argument("--json", action="store_true", help="print the descriptors as JSON")
    parser.set_defaults(func=run)


def _scales(scales: tuple[int, ...] | None) -> str:
    return "any" if scales is None else ",".join(f"x{s}" for s in scales)


def _headline(measured: dict) -> str:
    """The figure a user compares first: Set5 Y-PSNR at the model's largest benchmarked scale, and speed."""
    quality = measured.get("quality", {}).get("Set5", {})
    speed = measured.get("seconds_per_output_mp")
    parts = []
    if quality:
        scale = max(quality, key=lambda s: int(s.lstrip("x")))
        parts.append(f"Set5 {scale} {quality[scale]['psnr']:.2f} dB")
    if speed:
        parts.append(f"{speed:.3f} s/MP")
    return ", ".join(parts) or "-"


def run(args: argparse.Namespace) -> int:
    from acutance.models.registry import list_models

    models = list_models(args.task)  # each model's facts are read from its file's header here
    if args.json:
        print(json.dumps([m.to_dict() | {"measured": m.measured()} for m in models], indent=2))
        return 0
    rows = [(m.name, m.task, _scales(m.scales), _headline(m.measured()), m.summary) for m in models]
    header = ("model", "task", "scales", "measured", "summary")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    for row in [header] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    return 0
