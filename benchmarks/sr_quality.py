"""Quality and speed of every registered upscaler on Set5, Set14 and BSD100 at x2/x3/x4.

Standard protocol (acutance.metrics.sr_protocol): modcrop, MATLAB-bicubic LR stored as 8 bit, Y-PSNR/SSIM
with `scale` border cropped. Also time per output megapixel (the model call only) and peak memory of the
call (tracemalloc). Bicubic always runs too: speed is reported as a ratio to it, from the same run.

Writes benchmarks/results/sr_quality.json and the package's measured table
(src/acutance/models/measured.json), which model descriptors and `acutance list` show.
Usage: python benchmarks/sr_quality.py [--models a,b] [--sets Set5,Set14,BSD100] [--scales 2,3,4]
"""

from __future__ import annotations

import argparse
import json
import sys

import common
import numpy as np
from tqdm import tqdm

import acutance
from acutance.io import list_images
from acutance.metrics.sr_protocol import evaluate_sr_image
from acutance.pipeline import enhance

MEASURED = common.ROOT / "src" / "acutance" / "models" / "measured.json"


def run_model(name: str, sets: list[str], scales: list[int], data) -> dict:
    model = acutance.load_model(name)
    quality: dict = {}
    seconds = megapixels = 0.0
    peak = 0
    for dataset in sets:
        images, _ = list_images(data / "sr" / dataset)
        for scale in scales:
            if not model.info.supports_scale(scale):
                continue
            scores = [
                evaluate_sr_image(lambda lr: enhance(lr, model, scale), path, scale)
                for path in tqdm(images, desc=f"{name} {dataset} x{scale}", leave=False, file=sys.stderr)
            ]
            quality.setdefault(dataset, {})[f"x{scale}"] = {
                "psnr": round(float(np.mean([s.psnr for s in scores])), 3),
                "ssim": round(float(np.mean([s.ssim for s in scores])), 4),
            }
            seconds += sum(s.seconds for s in scores)
            megapixels += sum(s.output_megapixels for s in scores)
            peak = max(peak, max(s.peak_bytes for s in scores))
    return {
        "quality": quality,
        "seconds_per_output_mp": round(seconds / megapixels, 4),
        "peak_memory_mb": round(peak / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated (default: every registered upscaler)")
    parser.add_argument("--sets", default="Set5,Set14,BSD100")
    parser.add_argument("--scales", default="2,3,4")
    args = parser.parse_args()
    data = common.require_shared_data()
    names = args.models.split(",") if args.models else [m.name for m in acutance.list_models("upscale")]
    if "bicubic" not in names:
        names.insert(0, "bicubic")  # the baseline of the same run
    sets, scales = args.sets.split(","), [int(s) for s in args.scales.split(",")]
    results = {name: run_model(name, sets, scales, data) for name in names}
    base = results["bicubic"]["seconds_per_output_mp"]
    for name, row in results.items():
        row["time_vs_bicubic"] = round(row["seconds_per_output_mp"] / base, 2)
        print(name, json.dumps(row))
    previous = common.RESULTS / "sr_quality.json"
    merged = json.loads(previous.read_text())["models"] if previous.exists() and args.models else {}
    merged.update(results)  # a run of some models keeps the other models' rows
    common.write_result("sr_quality", {"protocol": "acutance.metrics.sr_protocol", "models": merged})
    # Merge into the shipped table so models benchmarked in other runs keep their rows.
    table = json.loads(MEASURED.read_text()) if MEASURED.exists() else {"models": {}}
    table["models"].update(results)
    table["source"] = "benchmarks/sr_quality.py"
    MEASURED.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"updated {MEASURED.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
