"""Inpainting: quality by mask-area bin, seams, and speed and memory at 2048x2048 and 3840x2160.

Quality: Kodak24 (500x500) and BSD100 centre crops (320x480 or 480x320: the images' sides cut to multiples of
16), each with one mask per area bin (0-10, 10-20, 20-30, 30-40, 40-50 %) from the seeded LaMa-style generator
(``acutance.inpaint.masks``, the seed from the image's name and the bin). For each method: PSNR, SSIM (the
MATLAB-exact SSIM map of ``acutance.metrics.ssim`` on luminance, averaged over the hole) and L1 (0-255)
inside the hole, and NIQE of the whole result (``acutance.metrics.registry.compute``).
Seam: the mean absolute step (0-255, channel mean) between 4-neighbour pixel pairs that straddle the mask's
border, for each method and for the ground truth; lower is smoother, the ground truth's is the natural level.
Speed and memory: a Kodak photo resized to 2048x2048 and 3840x2160 with a ~10 % mask (bin 9.5-10.5 %); each
method in its own process: one warm-up run, then the median of ``--repeats`` wall times, and the process's
peak RSS; reported with the ratio to Telea in the same run. The machine is shared: wall times are loaded ones.

Writes benchmarks/results/inpaint.json and inpaint.md.
Usage: python benchmarks/inpaint.py [--kodak N] [--bsd100 N] [--methods telea,ns,learned] [--repeats 2] [--no-speed] [--no-niqe]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import common
import numpy as np
from tqdm import tqdm

BINS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])) * 255.0


def scores(out: np.ndarray, truth: np.ndarray, hole: np.ndarray, niqe: bool) -> dict:
    from acutance.metrics.registry import compute
    from acutance.metrics.ssim import _ssim_maps  # the MATLAB-exact map; the public ssim() only gives its mean

    error = out[hole].astype(np.float64) - truth[hole]
    ssim_map, _ = _ssim_maps(_luma(out), _luma(truth))  # 'valid': (H-10) x (W-10)
    inner = hole[5:-5, 5:-5]
    row = {
        "psnr": 10 * np.log10(1.0 / max(np.mean(error**2), 1e-12)),
        "ssim": float(ssim_map[inner].mean()) if inner.any() else float("nan"),
        "l1": float(np.mean(np.abs(error)) * 255),
        "seam": seam(out, hole),
    }
    if niqe:
        row["niqe"] = compute("niqe", out)
    return row


def seam(rgb: np.ndarray, hole: np.ndarray) -> float:
    """Mean |step| (0-255) across the mask border: 4-neighbour pairs with one pixel in the hole, one outside."""
    steps = []
    for axis in (0, 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis], b[axis] = slice(1, None), slice(None, -1)
        cross = hole[tuple(a)] != hole[tuple(b)]
        if cross.any():
            steps.append(np.abs(rgb[tuple(a)] - rgb[tuple(b)]).mean(axis=2)[cross])
    return float(np.concatenate(steps).mean() * 255) if steps else float("nan")


def _images(data: Path, kodak: int | None, bsd100: int | None) -> dict[str, list[tuple[str, np.ndarray]]]:
    from acutance.io import list_images, read_image

    sets = {}
    for label, folder, limit in (("Kodak24", data / "restore/Kodak24", kodak), ("BSD100", data / "sr/BSD100", bsd100)):
        paths = sorted(list_images(folder)[0])[:limit]
        images = []
        for path in paths:
            rgb = read_image(path).rgb
            h, w = rgb.shape[0] // 16 * 16, rgb.shape[1] // 16 * 16
            y, x = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
            images.append((path.name, np.ascontiguousarray(rgb[y : y + h, x : x + w])))
        sets[label] = images
    return sets


class Cache:
    """Per-case rows of earlier runs (JSON lines), keyed by set, image, bin, method and, for the learned method,
    the model file's hash: the classical rows can be computed while the model trains. ``None``: no cache."""

    def __init__(self, path: Path | None, model_hash: str) -> None:
        self.path, self.model_hash, self.rows = path, model_hash, {}
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                self.rows[entry["key"]] = entry["row"]

    def key(self, *parts: str) -> str:
        return "|".join(parts + ((self.model_hash,) if parts[-1] == "learned" else ()))

    def get(self, key: str) -> dict | None:
        return self.rows.get(key)

    def put(self, key: str, row: dict) -> None:
        self.rows[key] = row
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(json.dumps({"key": key, "row": row}) + "\n")


def quality(sets: dict, methods: list[str], niqe: bool, cache: Cache) -> dict:
    from acutance.inpaint import choose_method, inpaint
    from acutance.inpaint.masks import area_bin_name, generate_mask
    from acutance.train.data import image_seed

    result = {}
    for label, images in sets.items():
        rows: dict = {}
        for name, rgb in tqdm(images, desc=label, leave=False, file=sys.stderr):
            for index, area in enumerate(BINS):
                hole = generate_mask(*rgb.shape[:2], image_seed(index, name), area)
                key = area_bin_name(area)
                cell = rows.setdefault(key, {})
                cell.setdefault("ground truth", []).append({"seam": seam(rgb, hole), "area": float(hole.mean())})
                for method in methods:
                    if method == "auto":  # the same numbers as the method auto picks (computed just before)
                        cell.setdefault("auto", []).append(cell[choose_method(hole)][-1] | {"picked": choose_method(hole)})
                        continue
                    ident = cache.key(label, name, key, str(niqe), method)
                    row = cache.get(ident)
                    if row is None:
                        start = time.perf_counter()
                        out = inpaint(rgb, hole.astype(np.float32), method)
                        seconds = time.perf_counter() - start
                        row = scores(out, rgb, hole, niqe) | {"seconds": seconds}
                        cache.put(ident, row)
                    cell.setdefault(method, []).append(row)
        result[label] = {"images": len(images)} | {
            key: {method: _mean_row(values)
                  for method, values in cell.items()}
            for key, cell in rows.items()
        }  # fmt: skip
    return result


def _mean_row(values: list[dict]) -> dict:
    row = {metric: round(float(np.nanmean([r[metric] for r in values])), 4) for metric in values[0] if metric != "picked"}
    if "picked" in values[0]:
        row["learned_share"] = round(float(np.mean([r["picked"] == "learned" for r in values])), 3)
    return row


SPEED_PROBE = r"""
import json, sys, time
import cv2, numpy as np
sys.path.insert(0, sys.argv[5])
from acutance.inpaint import inpaint
from acutance.inpaint.masks import generate_mask
from acutance.io import read_image
width, height, method, repeats = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rgb = cv2.resize(read_image(sys.argv[6]).rgb, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)
hole = generate_mask(height, width, 7, (0.095, 0.105)).astype(np.float32)
times = []
for _ in range(repeats + 1):
    start = time.perf_counter()
    inpaint(rgb, hole, method)
    times.append(time.perf_counter() - start)
print(json.dumps({"warm_up_s": times[0], "median_s": float(np.median(times[1:])), "area": float(hole.mean()),
                  "peak_rss_mb": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024}))
"""


def speed(methods: list[str], repeats: int, photo: Path) -> dict:
    out = {}
    for width, height in ((2048, 2048), (3840, 2160)):
        size = f"{width}x{height}"
        rows = {}
        for method in methods:
            done = subprocess.run([sys.executable, "-c", SPEED_PROBE, str(width), str(height), method, str(repeats),
                                   str(common.ROOT / "src"), str(photo)], capture_output=True, text=True, check=True)  # fmt: skip
            rows[method] = {k: round(v, 3) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}
        if "telea" in rows:
            for row in rows.values():
                row["time_vs_telea"] = round(row["median_s"] / rows["telea"]["median_s"], 3)
                row["rss_vs_telea"] = round(row["peak_rss_mb"] / rows["telea"]["peak_rss_mb"], 3)
        out[size] = rows
    return out


def acceptance(result: dict) -> list[str]:
    lines = []
    for label, table in result["quality"].items():
        for key in ("20-30%", "30-40%"):
            if "learned" in table[key] and "telea" in table[key]:
                ours, telea = table[key]["learned"], table[key]["telea"]
                dp, ds = ours["psnr"] - telea["psnr"], ours["ssim"] - telea["ssim"]
                ok = dp >= 1.0 and ds >= 0.02
                lines.append(f"{label} {key}: learned - Telea = {dp:+.2f} dB, {ds:+.4f} SSIM "
                             f"(floor +1.0 dB, +0.02): {'met' if ok else 'MISSED'}")  # fmt: skip
        first = table.get("0-10%", {})
        if "learned" in first and "telea" in first:
            dp, ds = first["learned"]["psnr"] - first["telea"]["psnr"], first["learned"]["ssim"] - first["telea"]["ssim"]
            lines.append(f"{label} 0-10%: learned - Telea = {dp:+.2f} dB, {ds:+.4f} SSIM (not worse): "
                         f"{'met' if dp >= 0 and ds >= 0 else 'MISSED'}")  # fmt: skip
        seams = [(table[k]["learned"]["seam"], table[k]["telea"]["seam"]) for k in table if k != "images"
                 and "learned" in table[k] and "telea" in table[k]]  # fmt: skip
        if seams:
            ours, telea = np.mean([s[0] for s in seams]), np.mean([s[1] for s in seams])
            lines.append(f"{label} seam (mean over bins): learned {ours:.2f}, Telea {telea:.2f}: "
                         f"{'met' if ours <= telea else 'MISSED'}")  # fmt: skip
    for size, limit in (("2048x2048", 2.0), ("3840x2160", 6.0)):
        row = result.get("speed", {}).get(size, {}).get("learned")
        if row:
            ok = row["median_s"] <= limit and row["peak_rss_mb"] <= 1536
            lines.append(f"{size}, 10 % mask: learned {row['median_s']:.2f} s ({row.get('time_vs_telea', '?')}x Telea), "
                         f"peak RSS {row['peak_rss_mb']:.0f} MB (<= {limit} s, <= 1536 MB): {'met' if ok else 'MISSED'}")  # fmt: skip
    return lines


def markdown(result: dict) -> str:
    lines = ["# Inpainting", "",
             "Inside the hole: PSNR (dB), SSIM (luminance), L1 (0-255); NIQE of the whole image (lower is better); "
             "seam: mean step across the mask border (0-255; the ground truth's for reference); auto: the rows of the "
             "method it picked (telea for masks at most 12 px thick), `learned_share` how often that was learned. "
             "Made by `benchmarks/inpaint.py`.", ""]  # fmt: skip
    for label, table in result["quality"].items():
        lines += [f"## {label} ({table['images']} images)", "",
                  "| bin | method | PSNR | SSIM | L1 | NIQE | seam | s |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for key, cell in table.items():
            if key == "images":
                continue
            for method, row in cell.items():
                if method == "ground truth":
                    lines.append(f"| {key} | ground truth | | | | | {row['seam']:.2f} | |")
                    continue
                niqe = f"{row['niqe']:.3f}" if "niqe" in row else "-"
                lines.append(f"| {key} | {method} | {row['psnr']:.2f} | {row['ssim']:.4f} | {row['l1']:.2f} | {niqe} "
                             f"| {row['seam']:.2f} | {row['seconds']:.2f} |")  # fmt: skip
        lines.append("")
    if result.get("speed"):
        lines += ["## Speed and peak memory (10 % mask; median wall s on the shared, loaded 2-core machine)", "",
                  "| size | method | s | x Telea | peak RSS MB | x Telea |", "|---|---|---|---|---|---|"]  # fmt: skip
        for size, rows in result["speed"].items():
            for method, row in rows.items():
                lines.append(f"| {size} | {method} | {row['median_s']:.2f} | {row.get('time_vs_telea', '-')} "
                             f"| {row['peak_rss_mb']:.0f} | {row.get('rss_vs_telea', '-')} |")  # fmt: skip
        lines.append("")
    lines += ["## Acceptance (issue 18)", ""] + [f"- {line}" for line in result["acceptance"]]
    lines += ["", "Model: " + json.dumps(result["model"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=int, default=24, help="use the first N Kodak24 images (sorted)")
    parser.add_argument("--bsd100", type=int, default=100, help="use the first N BSD100 images (sorted)")
    parser.add_argument("--methods", default="telea,ns,learned,auto", help="auto needs telea and learned before it")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--only-speed", action="store_true", help="only the speed rows (merged into the stored results)")
    parser.add_argument("--no-niqe", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/acutance-inpaint-bench.jsonl"),
                        help="per-case results of earlier runs to reuse (JSON lines; the learned rows by model hash)")
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args()
    data = common.require_shared_data()
    from acutance.inpaint.runtime import default_model, load_model

    methods = args.methods.split(",")
    model = {"file": str(default_model().relative_to(common.ROOT))} | {
        k: v for k, v in load_model(str(default_model()))[1].items() if k in ("params", "steps", "best", "train_seconds")}
    import hashlib

    model["sha256"] = hashlib.sha256(default_model().read_bytes()).hexdigest()[:16]
    # the learned rows are reused only for the same weights and the same run-time code (the border blend, ...)
    code = hashlib.sha256(b"".join((common.ROOT / "src/acutance/inpaint" / f).read_bytes()
                                   for f in ("runtime.py", "api.py", "classical.py"))).hexdigest()[:16]  # fmt: skip
    cache = Cache(None if args.no_cache else args.cache, model["sha256"] + code)
    if args.only_speed:
        result = common.read_result("inpaint")
        if result.get("model", {}).get("sha256") != model["sha256"]:
            sys.exit("the stored inpainting results are of another model: run the whole benchmark")
    else:
        result = {"model": model, "quality": quality(_images(data, args.kodak, args.bsd100), methods, not args.no_niqe, cache)}
    if not args.no_speed:
        result["speed"] = speed([m for m in methods if m != "auto"], args.repeats, data / "restore/Kodak24/kodim03.png")
    result["acceptance"] = acceptance(result)
    path = common.write_result("inpaint", result)
    path.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
