"""edge-SR (eSR-MAX / TM / TR / CNN) at x2: quality and speed of every trained variant, against bicubic.

Variants: every ``src/acutance/weights/esr-*.npz`` (the registered ones are named like their registry
entry, the others by their spec, e.g. ``esr-tr-c4-k7-x2``). Quality: the standard protocol
(acutance.metrics.sr_protocol: MATLAB bicubic LR, Y-PSNR/SSIM, 2-pixel border) on Set5, Set14, BSD100.
Speed: ms per 1080p output frame, i.e. a 960x540 RGB input (a smooth random image at 8-bit levels) upscaled
x2 to 1920x1080 RGB through the whole enhancer (YCbCr, network on Y, MATLAB bicubic chroma, back to RGB);
median of --repeats calls after one warm-up call, wall clock and process CPU time, OpenCV INTER_CUBIC and
MATLAB-exact bicubic (acutance.resize.imresize) on the same RGB frame timed in the same run; the luma network
alone (filters + combine, the part edge-SR is about) is timed too, for both back ends.

Writes benchmarks/results/edge_sr.json and edge_sr.md.
Usage: python benchmarks/edge_sr.py [--sets Set5,Set14,BSD100] [--repeats 7] [--skip-quality] [--markdown-only]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import common
import numpy as np
from tqdm import tqdm

REGISTERED = ("esr-max-c4-k5-x2", "esr-max-c8-k7-x2")  # weights files that are registry entries


def quality(name, fn, scale, sets, data) -> dict:
    from acutance.io import list_images
    from acutance.metrics.sr_protocol import evaluate_sr_image

    out = {}
    for dataset in sets:
        images, _ = list_images(data / "sr" / dataset)
        scores = [
            evaluate_sr_image(fn, path, scale)
            for path in tqdm(images, desc=f"{name} {dataset} x{scale}", leave=False, file=sys.stderr)
        ]
        out[dataset] = {
            "psnr": round(float(np.mean([s.psnr for s in scores])), 3),
            "ssim": round(float(np.mean([s.ssim for s in scores])), 4),
        }
    return out


def frame(height: int = 540, width: int = 960) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 1.5)
    image = (image - image.min()) / (image.max() - image.min())
    return np.round(image * 255).astype(np.float32) / 255


def median_time(fn, repeats: int) -> tuple[float, float]:
    """(median wall seconds, median process CPU seconds) of ``repeats`` calls after a warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.median(cpus))


def variants() -> dict:
    from acutance.edgesr.runtime import load_model_file

    folder = common.ROOT / "src" / "acutance" / "weights"
    return {path.stem: load_model_file(path) for path in sorted(folder.glob("esr-*.npz"))}


def pareto(rows: dict, quality_key: str, speed_key: str) -> list[str]:
    """Names not beaten by another row on both quality (higher) and time (lower)."""
    front = []
    for name, row in rows.items():
        q, t = row[quality_key], row[speed_key]
        if not any(o[quality_key] >= q and o[speed_key] <= t and (o[quality_key], o[speed_key]) != (q, t)
                   for other, o in rows.items() if other != name):  # fmt: skip
            front.append(name)
    return front


def add_pareto(payload: dict, sets: list[str]) -> None:
    """Variants on the BSD100-PSNR / CPU-ms front (CPU time: wall time depends on the other jobs sharing the cores)."""
    rows, timing = payload["quality"], payload["timing_1080p"]
    ranked = {
        name: {"psnr": row["x2"]["BSD100"]["psnr"], "ms": timing[name]["cpu_ms"]}
        for name, row in rows.items()
        if name != "bicubic" and "x2" in row and "BSD100" in sets
    }
    payload["pareto_bsd100_cpu"] = pareto(ranked, "psnr", "ms") if ranked else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="Set5,Set14,BSD100")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--markdown-only", action="store_true", help="rewrite edge_sr.md from edge_sr.json")
    args = parser.parse_args()
    if args.markdown_only:
        import json

        payload = json.loads((common.RESULTS / "edge_sr.json").read_text())
        sets = list(payload["quality"]["bicubic"]["x2"])
        payload.pop("pareto_bsd100", None)
        add_pareto(payload, sets)
        (common.RESULTS / "edge_sr.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        (common.RESULTS / "edge_sr.md").write_text(markdown(payload, sets), encoding="utf-8")
        return
    data = common.require_shared_data()
    sets = args.sets.split(",")

    import cv2

    from acutance.edgesr.runtime import EsrRunner
    from acutance.resize import imresize

    models = variants()
    runners = {name: EsrRunner(model, "onnxruntime") for name, model in models.items()}
    rows: dict = {}
    if not args.skip_quality:
        rows["bicubic"] = {"params": 0, "x2": quality("bicubic", lambda lr: imresize(lr, 2), 2, sets, data)}
    for name, model in models.items():
        rows[name] = {
            "spec": model.spec.name,
            "kind": model.spec.kind,
            "params": model.spec.params,
            "registered": name in REGISTERED,
            "train_seconds": model.meta.get("train_seconds"),
            "held_out_psnr": (model.meta.get("history") or [{}])[-1].get("best_val_psnr"),
        }
        if not args.skip_quality:
            rows[name]["x2"] = quality(name, runners[name].upscale, 2, sets, data)

    image = frame()
    luma = np.ascontiguousarray(image[:, :, 1])
    load_before = os.getloadavg()[0]
    speed = {
        "opencv_bicubic": median_time(
            lambda: cv2.resize(image, (1920, 1080), interpolation=cv2.INTER_CUBIC), args.repeats
        ),
        "matlab_bicubic": median_time(lambda: imresize(image, 2), args.repeats),
    }
    for name, model in models.items():
        speed[name] = median_time(lambda r=runners[name]: r.upscale(image), args.repeats)
        speed[f"{name} luma onnxruntime"] = median_time(lambda r=runners[name]: r.luma(luma), args.repeats)
        opencv = EsrRunner(model, "opencv")
        speed[f"{name} luma opencv"] = median_time(lambda r=opencv: r.luma(luma), args.repeats)
        print(name, {k: round(v[0] * 1000, 1) for k, v in speed.items() if k.startswith(name)}, flush=True)
    load_after = os.getloadavg()[0]
    base = speed["opencv_bicubic"][0]
    timing = {
        key: {"wall_ms": round(w * 1000, 1), "cpu_ms": round(c * 1000, 1), "ratio_to_opencv_bicubic": round(w / base, 2)}
        for key, (w, c) in speed.items()
    }
    for name in models:
        rows[name]["ms_1080p"] = timing[name]["wall_ms"]
    payload = {
        "scale": 2,
        "quality": rows,
        "timing_1080p": timing,
        "timing_method": (
            f"960x540 RGB float32 input -> 1920x1080 output; median of {args.repeats} calls after one warm-up; "
            "wall clock (time.perf_counter) and process CPU time (time.process_time)"
        ),
        "threads": {"cpus": os.cpu_count(), "opencv": cv2.getNumThreads()},
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }
    add_pareto(payload, sets)
    common.write_result("edge_sr", payload)
    (common.RESULTS / "edge_sr.md").write_text(markdown(payload, sets), encoding="utf-8")
    print("wrote benchmarks/results/edge_sr.json and edge_sr.md")


def markdown(p: dict, sets: list[str]) -> str:
    t = p["timing_1080p"]
    cv, ml = t["opencv_bicubic"], t["matlab_bicubic"]
    lines = [
        "## edge-SR x2: quality and speed per 1080p frame",
        "",
        (
            "Quality: Y-PSNR (dB) / SSIM under the standard protocol (MATLAB bicubic LR, 2-pixel border). "
            "Speed: whole enhancer (YCbCr, network on Y with onnxruntime convolutions + numba max/softmax, MATLAB "
            f"bicubic chroma, back to RGB): {p['timing_method']}. "
            f"Same run (RGB, wall / CPU ms): OpenCV INTER_CUBIC {cv['wall_ms']} / {cv['cpu_ms']}, MATLAB-exact bicubic "
            f"{ml['wall_ms']} / {ml['cpu_ms']}. "
            f"Shared 2-core machine ({p['threads']['cpus']} CPUs, OpenCV {p['threads']['opencv']} threads, "
            f"onnxruntime one thread per core), load average {p['load_average'][0]} before, "
            f"{p['load_average'][1]} after the timing (other jobs share the cores: wall times are inflated; "
            "process CPU time, both threads summed, is the work itself)."
        ),
        "",
        "| model | params | " + " | ".join(sets) + " | ms / 1080p frame: wall (x OpenCV bicubic), CPU | luma net only, wall ms: onnxruntime / OpenCV |",
        "|---|---|" + "---|" * len(sets) + "---|---|",
    ]
    for name, row in p["quality"].items():
        cells = " | ".join(f"{row['x2'][s]['psnr']:.2f} / {row['x2'][s]['ssim']:.4f}" for s in sets) if "x2" in row else " | ".join("-" for _ in sets)
        if name == "bicubic":
            lines.append(f"| bicubic (MATLAB) | 0 | {cells} | {ml['wall_ms']} ({ml['ratio_to_opencv_bicubic']}x), {ml['cpu_ms']} | - |")
            continue
        label = f"**{name}**" if row["registered"] else name
        if row["spec"] != name:
            label += f" ({row['spec']})"
        whole = t[name]
        net = f"{t[name + ' luma onnxruntime']['wall_ms']} / {t[name + ' luma opencv']['wall_ms']}"
        speed = f"{whole['wall_ms']} ({whole['ratio_to_opencv_bicubic']}x), {whole['cpu_ms']}"
        lines.append(f"| {label} | {row['params']} | {cells} | {speed} | {net} |")
    if p.get("pareto_bsd100_cpu"):
        front = ", ".join(p["pareto_bsd100_cpu"])
        lines += [
            "",
            (
                f"Pareto front on BSD100 PSNR vs CPU ms per frame: {front}. Bold: registered models (chosen "
                "on that front, not on Set5)."
            ),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
