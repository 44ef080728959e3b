"""The shipped deep models: size, speed through onnxruntime, and no-reference quality on real photos.

1. Parameters and time for a 256x256 input (the whole image, no tiling) through onnxruntime, median of
   --repeats runs, next to OpenCV INTER_CUBIC and MATLAB bicubic of the same input in the same run.
2. NIQE (acutance.metrics.niqe, our pristine model) of x4 outputs on ../shared/data/real/RealSRSet: bicubic,
   compact-x4, real-x4 at --detail 0 / 0.5 / 1 (lower is better).
3. A gallery PNG: input | bicubic | compact-x4 | real-x4 crops (docs/real_x4_gallery.png).
Quality on the SR test sets is benchmarks/sr_quality.py --models compact-x2,compact-x4,real-x4.
Usage: python benchmarks/deep_models.py [--repeats 7] [--no-gallery]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import common
import cv2
import numpy as np
from tqdm import tqdm

import acutance
from acutance.io import list_images, read_image, write_image
from acutance.pipeline import enhance

MODELS = ("compact-x2", "compact-x4", "real-x4")


def parameter_count(name: str) -> int:
    from importlib import resources

    from acutance.deep.runtime import read_initializers

    with resources.as_file(resources.files("acutance").joinpath("weights", f"{name}.onnx")) as path:
        return int(sum(array.size for array in read_initializers(path).values()))


def median_seconds(function, repeats: int) -> float:
    function()  # warm-up (session initialisation, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed(repeats: int) -> dict:
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((256, 256, 3), dtype=np.float32), (0, 0), 1.5)
    rows = {}
    for name in MODELS:
        model = acutance.load_model(name)
        scale = model.info.scales[0]
        seconds = median_seconds(lambda: enhance(image, model, scale, tile=0), repeats)
        cubic = median_seconds(lambda: cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC), repeats)
        bicubic = acutance.load_model("bicubic")
        matlab = median_seconds(lambda: enhance(image, bicubic, scale), repeats)
        rows[name] = {
            "parameters": parameter_count(name),
            "ms_256": round(1000 * seconds, 1),
            "opencv_cubic_ms_256": round(1000 * cubic, 2),
            "matlab_bicubic_ms_256": round(1000 * matlab, 1),
            "vs_matlab_bicubic": round(seconds / matlab, 1),
        }
    return rows


def niqe_table(data) -> dict:
    from acutance.metrics.registry import compute

    images, _ = list_images(data / "real" / "RealSRSet")
    variants = {
        "bicubic": (acutance.load_model("bicubic"), {}),
        "compact-x4": (acutance.load_model("compact-x4"), {}),
        "real-x4 detail 0": (acutance.load_model("real-x4", detail=0.0), {}),
        "real-x4 detail 0.5": (acutance.load_model("real-x4", detail=0.5), {}),
        "real-x4": (acutance.load_model("real-x4"), {}),
    }
    scores: dict[str, list[float]] = {name: [] for name in variants}
    for path in tqdm(images, desc="RealSRSet", file=sys.stderr):
        rgb = read_image(path).rgb
        for name, (model, _) in variants.items():
            scores[name].append(compute("niqe", enhance(rgb, model, 4)))
    table = {name: round(float(np.mean(values)), 3) for name, values in scores.items()}
    wins = sum(r < b for r, b in zip(scores["real-x4"], scores["bicubic"]))
    return {"images": len(images), "mean_niqe": table, "real_x4_better_than_bicubic_on": f"{wins}/{len(images)}"}


def gallery(data, path) -> None:
    picks = [("oldphoto2.png", 0.3, 0.35), ("Lincoln.png", 0.35, 0.3), ("comic1.png", 0.4, 0.4), ("dog.png", 0.35, 0.3)]
    models = [acutance.load_model(n) for n in ("bicubic", "compact-x4", "real-x4")]
    rows = []
    folder = data / "real" / "RealSRSet"
    for name, fy, fx in picks:
        if not (folder / name).is_file():
            continue
        rgb = read_image(folder / name).rgb
        h, w = rgb.shape[:2]
        size = min(64, h, w)
        y, x = int((h - size) * fy), int((w - size) * fx)
        crop = rgb[y : y + size, x : x + size]
        tiles = [cv2.resize(crop, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)]
        tiles += [np.clip(enhance(crop, m, 4), 0, 1) for m in models]
        gap = np.ones((tiles[0].shape[0], 4, 3), np.float32)
        rows.append(np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], axis=1))
    hgap = np.ones((4, rows[0].shape[1], 3), np.float32)
    write_image(path, np.concatenate(sum(([r, hgap] for r in rows), [])[:-1], axis=0), overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-gallery", action="store_true")
    args = parser.parse_args()
    data = common.require_shared_data()
    result = {"speed_256": speed(args.repeats), "niqe_realsrset": niqe_table(data)}
    if not args.no_gallery:
        gallery(data, common.ROOT / "docs" / "real_x4_gallery.png")
        result["gallery"] = "docs/real_x4_gallery.png (columns: input (nearest x4) | bicubic | compact-x4 | real-x4)"
    print(json.dumps(result, indent=2))
    common.write_result("deep_models", result)
    lines = [
        "# Deep models: size, speed, no-reference quality",
        "",
        "`python benchmarks/deep_models.py` (onnxruntime, all cores of this machine; times are medians).",
        "",
        "| model | parameters | 256x256 input (ms) | MATLAB bicubic same input (ms) | ratio | OpenCV cubic (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result["speed_256"].items():
        lines.append(
            f"| {name} | {row['parameters']:,} | {row['ms_256']} | {row['matlab_bicubic_ms_256']} | "
            f"{row['vs_matlab_bicubic']}x | {row['opencv_cubic_ms_256']} |"
        )
    niqe = result["niqe_realsrset"]
    lines += ["", f"NIQE (lower is better) of x4 outputs on RealSRSet ({niqe['images']} real photos, no ground truth):", ""]
    lines += ["| output | mean NIQE |", "|---|---|"] + [f"| {k} | {v} |" for k, v in niqe["mean_niqe"].items()]
    lines += ["", f"real-x4 scores better than bicubic on {niqe['real_x4_better_than_bicubic_on']} images."]
    (common.RESULTS / "deep_models.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
