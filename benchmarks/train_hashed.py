"""Train the shipped hashed-filter models (RAISR upscalers, BLADE restorers) on BSDS400 + T91.

Usage:
  python benchmarks/train_hashed.py raisr-x2 [raisr-x3 ...]       # writes src/acutance/weights/NAME.npz
  python benchmarks/train_hashed.py --variants --scale 2          # the variant comparison table (on BSD100)
Names: raisr-x{2,3,4} (preset quality), raisr-fast-x2 (preset fast), blade-denoise-{15,25,50},
blade-deblock-q{10,20,30,40}, blade-sharpen (undoes a Gaussian blur of sigma 1). Each model file records its training time and settings in ``meta``; the
quality numbers come from sr_quality.py / restore_quality.py. Settings were chosen on BSD100 (and a
held-out part of the training data), never on Set5.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # many small products: processes, not threads

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import common  # noqa: E402
import numpy as np  # noqa: E402

from acutance.io import list_images  # noqa: E402
from acutance.metrics.sr_protocol import evaluate_sr_image  # noqa: E402
from acutance.raisr.model import run, save_model  # noqa: E402
from acutance.raisr.presets import UPSCALE_PRESETS, restore_layers, upscale_layers  # noqa: E402
from acutance.raisr.train import TrainOptions, train_files  # noqa: E402

TRAIN_SETS = ("train/BSDS400", "train/T91_partial")
WEIGHTS = common.ROOT / "src" / "acutance" / "weights"


def training_paths(data, limit: int = 0) -> list:
    paths = []
    for folder in TRAIN_SETS:
        images, _ = list_images(data / folder)
        paths += sorted(images)
    return paths[:: max(1, len(paths) // limit)][:limit] if limit else paths


def options_for(name: str, workers: int) -> tuple[TrainOptions, dict]:
    if m := re.fullmatch(r"raisr-x([234])", name):
        scale = int(m[1])
        return TrainOptions(scale=scale, layers=upscale_layers("quality", scale), workers=workers), {"preset": "quality"}
    if m := re.fullmatch(r"raisr-fast-x([234])", name):
        scale = int(m[1])
        return TrainOptions(scale=scale, layers=upscale_layers("fast", scale), workers=workers), {"preset": "fast"}
    if m := re.fullmatch(r"blade-denoise-ms-(\d+)", name):
        layers = restore_layers("denoise", multiscale=True)
        return TrainOptions(task="denoise", scale=1, layers=layers, noise_sigma=float(m[1]), workers=workers), {}
    if m := re.fullmatch(r"blade-denoise-(\d+)", name):
        layers = restore_layers("denoise")
        return TrainOptions(task="denoise", scale=1, layers=layers, noise_sigma=float(m[1]), workers=workers), {}
    if m := re.fullmatch(r"blade-deblock-q(\d+)", name):
        layers = restore_layers("deblock")
        return TrainOptions(task="deblock", scale=1, layers=layers, jpeg_quality=int(m[1]), workers=workers), {}
    if m := re.fullmatch(r"blade-sharpen", name):
        layers = restore_layers("sharpen")
        return TrainOptions(task="sharpen", scale=1, layers=layers, blur_sigma=1.0, workers=workers), {}
    sys.exit(f"unknown model name {name!r}")


def bsd100(model, data, every: int = 1) -> float:
    images, _ = list_images(data / "sr" / "BSD100")
    scores = [evaluate_sr_image(lambda lr: run(model, lr), p, model.scale).psnr for p in sorted(images)[::every]]
    return round(float(np.mean(scores)), 3)


def variants(scale: int, data, workers: int, limit: int) -> None:
    """Train each upscale preset (and each prefix of the quality stack) and score on BSD100."""
    rows = []
    paths = training_paths(data, limit)
    for preset in UPSCALE_PRESETS:
        options = TrainOptions(scale=scale, layers=upscale_layers(preset, scale), workers=workers)
        start = time.perf_counter()
        model = train_files(paths, options, log=lambda *a: print(*a, file=sys.stderr))
        seconds = time.perf_counter() - start
        for n in range(1, len(model.layers) + 1):
            rows.append({"preset": preset, "layers": n, "bsd100": bsd100(model.truncated(n), data),
                         "training_seconds": round(seconds, 1)})
            print(rows[-1], flush=True)
    result = {"scale": scale, "training_images": len(paths), "rows": rows}
    common.write_result(f"raisr_variants_x{scale}", result)
    write_variants_markdown(result)


def write_variants_markdown(result: dict) -> None:
    lines = [f"## RAISR variants at x{result['scale']} (BSD100 Y-PSNR)", "",
             f"Written by `benchmarks/train_hashed.py --variants`: every preset trained on the same "
             f"{result['training_images']} training images; a stack is also scored after each of its layers.", "",
             "| preset | layers used | BSD100 x2 dB | training s (whole preset) |", "|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(f"| {row['preset']} | {row['layers']} | {row['bsd100']:.3f} | {row['training_seconds']} |")
    path = common.RESULTS / f"raisr_variants_x{result['scale']}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*")
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=0, help="training images (0: all)")
    args = parser.parse_args()
    data = common.require_shared_data()
    if args.variants:
        variants(args.scale, data, args.workers, args.limit)
        return
    for name in args.names:
        options, extra = options_for(name, args.workers)
        paths = training_paths(data, args.limit)
        print(f"== {name}: {len(paths)} images, {len(options.layers)} layers", file=sys.stderr, flush=True)
        meta = {"name": name, "method": "RAISR" if options.task == "upscale" else "BLADE",
                "training_data": list(TRAIN_SETS), "machine": common.machine()} | extra
        model = train_files(paths, options, meta=meta, log=lambda *a: print(*a, file=sys.stderr, flush=True))
        path = save_model(model, WEIGHTS / f"{name}.npz")
        print(f"{name}: trained in {model.meta['training_seconds']} s -> {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
