"""Anti-aliasing on held-out content: aa-x1 against FXAA-style AA and a Gaussian blur of matched softness.

Held-out sets (nothing here is in training):
- rendered scenes with the "test" fonts and shapes (``render.SHAPES["test"]``, other fonts than training's):
  aliased = point-sampled, reference = 9x9 supersampled (box filter);
- anime frames from ``../shared/data/anime`` shrunk 3x by nearest neighbour (the centre pixel), reference =
  the area (pre-filtered) shrink. Training used photos and line art from ``train/`` only.

Scores: PSNR (RGB) and SSIM (mean over RGB, Wang's) against the reference; edge sharpness as the mean
10-90% edge width on slanted edges at 11 angles (``measure``), with the reference's beside it. The blur's
sigma is the one recorded in the model (matched edge width, measured by the training run); "blur (best
PSNR)" adds the sigma that scores best on *training* scenes, a stronger baseline.

Speed: a 1920x1080 frame (an anime frame shrunk 3x by nearest neighbour and enlarged back by nearest: the
jaggies of a fast upscaler), numba and OpenCV at 2 threads, calls alternating with Anime4K's push kernel
(``acutance.filters.anime4k_push``, one pass) so that load from the shared machine hits both; wall and
process CPU time (all threads) per call, medians. Goal: 20 ms per frame on 2 cores.

Usage: python benchmarks/antialias.py [--repeats N] [--scenes N] [--gallery]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import common
import cv2
import numba
import numpy as np

from acutance.antialias import classical, measure, render
from acutance.antialias.api import matched_sigma
from acutance.metrics.registry import compute
from acutance.models.registry import load_model

THREADS = 2
GOAL_MS = 20.0
ANIME = ("Anime4K/screenshot_Fate_1080p.jpg", "Anime4K/screenshot_Maxed_1080p.jpg", "Anime4K/screenshot_Quin_1080p.jpg",
         "Anime4K/screenshot_Slime_1080p.jpg", "Anime4K/Bird_HR.png", "Anime4K/knnw_crop_HR.png",
         "waifu2x/miku_CC_BY-NC.jpg", "RealCUGAN/mask_ori.png", "APISR_lr_inputs/naruto.jpg")
SPEED_FRAME = "Anime4K/screenshot_Fate_1080p.jpg"


def held_out_scenes(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [render.render_scene(900_000 + i, 256, 256, "test") for i in range(n)]


def anime_pairs(data) -> list[tuple[str, np.ndarray, np.ndarray]]:
    from acutance.io import read_image

    out = []
    for name in ANIME:
        path = data / "anime" / name
        if path.is_file():
            aliased, reference = render.downscale_pair(read_image(path).rgb, 3)
            out.append((name, aliased, reference))
    return out


def best_blur_sigma() -> float:
    """The blur sigma with the best mean PSNR on *training* scenes (a grid), for the stronger baseline."""
    scenes = [render.render_scene(i, 160, 160, "train") for i in range(12)]
    grid = np.round(np.arange(0.3, 1.21, 0.05), 3)
    scores = [np.mean([compute("psnr", classical.gaussian(a, s), r) for a, r in scenes]) for s in grid]
    return float(grid[int(np.argmax(scores))])


def score(methods: dict, pairs) -> dict:
    table = {}
    for name, method in methods.items():
        p, s = [], []
        for aliased, reference in pairs:
            out = np.clip(method(aliased), 0.0, 1.0)
            p.append(compute("psnr", out, reference))
            s.append(compute("ssim", reference, out))
        table[name] = {"psnr": round(float(np.mean(p)), 3), "ssim": round(float(np.mean(s)), 4)}
    return table


def timed(cases: dict, repeats: int) -> dict:
    for fn in cases.values():
        fn()  # compile or load the kernels, page faults
    wall = {name: [] for name in cases}
    cpu = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():  # alternating: load on the machine hits every case alike
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: {"wall_ms": round(statistics.median(wall[name]) * 1e3, 2),
                   "best_wall_ms": round(min(wall[name]) * 1e3, 2),
                   "cpu_ms": round(statistics.median(cpu[name]) * 1e3, 2)} for name in cases}


def gallery(model, sigma: float, crops, path) -> None:
    """Crops ((aliased, reference), (y, x, size)), enlarged 4x by nearest neighbour: aliased | FXAA | blur |
    aa-x1 | reference, one row each."""
    rows = []
    for (aliased, reference), (y, x, size) in crops:
        crop = lambda image: image[y : y + size, x : x + size]  # noqa: E731
        tiles = [aliased, classical.fxaa(aliased), classical.gaussian(aliased, sigma),
                 np.clip(model(aliased, 1.0), 0, 1), reference]
        big = [cv2.resize(crop(t), (size * 4, size * 4), interpolation=cv2.INTER_NEAREST) for t in tiles]
        rows.append(np.hstack([np.pad(b, ((2, 2), (2, 2), (0, 0)), constant_values=1.0) for b in big]))
    image = np.vstack(rows)
    header = np.full((28, image.shape[1], 3), 255, np.uint8)
    for i, label in enumerate(("aliased input", "FXAA-style", f"blur s={sigma:g}", "aa-x1", "AA reference")):
        cv2.putText(header, label, (i * (image.shape[1] // 5) + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                    cv2.LINE_AA)
    out = np.vstack([header, (np.clip(image, 0, 1) * 255).round().astype(np.uint8)])
    cv2.imwrite(str(path), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--gallery", action="store_true", help="also write docs/antialias_gallery.png")
    args = parser.parse_args()
    data = common.require_shared_data()
    numba.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    model = load_model("aa-x1")
    sigma, best = matched_sigma(), best_blur_sigma()
    methods = {
        "aliased input": lambda rgb: rgb,
        "FXAA-style": classical.fxaa,
        f"blur, matched (sigma {sigma:g})": lambda rgb: classical.gaussian(rgb, sigma),
        f"blur, best PSNR on training scenes (sigma {best:g})": lambda rgb: classical.gaussian(rgb, best),
        "aa-x1": lambda rgb: model(rgb, 1.0),
    }
    scenes = held_out_scenes(args.scenes)
    anime = anime_pairs(data)
    quality = {"scenes": score(methods, scenes), "anime": score(methods, [(a, r) for _, a, r in anime])}
    charts = measure.edge_charts()
    widths = {"AA reference": round(measure.mean_edge_width(None, charts), 3)}
    per_angle = {"AA reference": [round(measure.edge_width(c.reference, c.distance), 3) for c in charts]}
    for name, method in methods.items():
        widths[name] = round(measure.mean_edge_width(method, charts), 3)
        per_angle[name] = [round(measure.edge_width(np.clip(method(c.aliased), 0, 1), c.distance), 3) for c in charts]

    from acutance.filters import anime4k_push
    from acutance.io import read_image

    small, _ = render.downscale_pair(read_image(data / "anime" / SPEED_FRAME).rgb, 3)
    frame = np.ascontiguousarray(cv2.resize(small, (1920, 1080), interpolation=cv2.INTER_NEAREST))
    speed = timed({
        "aa-x1": lambda: model(frame, 1.0),
        "FXAA-style": lambda: classical.fxaa(frame),
        "Anime4K push (1 pass)": lambda: anime4k_push(frame),
        f"blur (sigma {sigma:g})": lambda: classical.gaussian(frame, sigma),
    }, args.repeats)  # fmt: skip
    a4k = speed["Anime4K push (1 pass)"]
    for row in speed.values():
        row["wall_vs_anime4k"] = round(row["wall_ms"] / a4k["wall_ms"], 2)
        row["cpu_vs_anime4k"] = round(row["cpu_ms"] / a4k["cpu_ms"], 2)
    touched = float(np.mean(model.model.skip <= edge_steps(frame, model.model.radius)))
    load = os.getloadavg()
    payload = {
        "threads": THREADS, "repeats": args.repeats, "load_average": [round(v, 2) for v in load],
        "scenes": args.scenes, "anime_frames": [name for name, _, _ in anime],
        "blur_sigma_matched": sigma, "blur_sigma_best_psnr": best,
        "quality": quality, "edge_width": widths, "edge_width_per_angle": per_angle,
        "edge_angles": list(measure.EDGE_ANGLES), "speed_1080p": speed, "speed_pixels_filtered": round(touched, 4),
        "goal_ms": GOAL_MS,
    }
    common.write_result("antialias", payload)
    write_markdown(payload)
    if args.gallery:
        _, aliased, reference = anime[0]
        crops = [(scenes[0], (40, 40, 64)), ((aliased, reference), (150, 250, 64))]
        gallery(model, sigma, crops, common.ROOT / "docs" / "antialias_gallery.png")
    print((common.RESULTS / "antialias.md").read_text())


def edge_steps(frame: np.ndarray, radius: int) -> np.ndarray:
    """Each pixel's largest luma step to a 4-neighbour: aa-x1 filters where it reaches the model's skip."""
    from acutance.antialias import kernels
    from acutance.antialias.model import LUMA

    return kernels.tensor_sums(frame, LUMA, radius)[1]


def write_markdown(p: dict) -> None:
    m = common.machine()
    names = list(p["quality"]["scenes"])
    lines = [
        "## Anti-aliasing: aa-x1 against FXAA-style AA and a matched blur (held-out content)",
        "",
        f"Measured {m['date']} on {m['cpus']} CPUs (numba / OpenCV at {p['threads']} threads), load average "
        f"{p['load_average'][0]} (the machine is shared: compare the ratios). Source: `benchmarks/antialias.py`.",
        f"Held out: {p['scenes']} rendered 256x256 scenes with other fonts and shapes than training; "
        f"{len(p['anime_frames'])} anime frames shrunk 3x by nearest neighbour (reference: area shrink).",
        "",
        "| method | scenes PSNR | scenes SSIM | anime PSNR | anime SSIM | 10-90% edge width (px) |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        s, a = p["quality"]["scenes"][name], p["quality"]["anime"][name]
        lines.append(f"| {name} | {s['psnr']:.2f} | {s['ssim']:.4f} | {a['psnr']:.2f} | {a['ssim']:.4f} | "
                     f"{p['edge_width'][name]:.3f} |")
    lines.append(f"| *AA reference* | | | | | {p['edge_width']['AA reference']:.3f} |")
    lines += ["", f"Speed on a 1920x1080 frame (median of {p['repeats']} alternating calls; aa-x1 filtered "
              f"{100 * p['speed_pixels_filtered']:.1f}% of its pixels, copied the rest). Goal: {p['goal_ms']:g} ms.", "",
              "| case | wall ms (median / best) | CPU ms, all threads | wall vs Anime4K | CPU vs Anime4K |", "|---|---|---|---|---|"]
    for name, row in p["speed_1080p"].items():
        lines.append(f"| {name} | {row['wall_ms']} / {row['best_wall_ms']} | {row['cpu_ms']} | {row['wall_vs_anime4k']}x | "
                     f"{row['cpu_vs_anime4k']}x |")
    (common.RESULTS / "antialias.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
