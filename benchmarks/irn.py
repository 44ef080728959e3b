"""Invertible rescaling (IRN-style x2 and x4): round trip, LR as a thumbnail, JPEG on the LR, speed.

For each scale and each shipped pair of it (``irn-xS`` and ``irn-xS-plain`` where they exist: ``irn-x2`` is
the robust pair, trained with JPEG on the LR, ``irn-x2-plain`` without; ``irn-x4`` is plain), or the
``--model`` files given instead:
- round trip under the SR protocol (acutance.metrics.sr_protocol: HR modcropped, 8-bit output, Y-PSNR/SSIM,
  scale-pixel border): HR -> the pair's downscaler -> LR rounded to 8 bits (a PNG) -> its upscaler (z = 0);
- the LR against the MATLAB bicubic downscale of the same HR (``make_lr``): Y-PSNR, no border crop;
- the LR saved as JPEG quality 90 and 75 (OpenCV, 4:2:0) before upscaling;
- baselines on the protocol's bicubic LR: bicubic up, and our best SR model of the scale (``compact-xS``, the
  best x2 and x4 of benchmarks/results/sr_quality.md);
- speed: median wall time of a 512x512 round trip (downscale + upscale, onnxruntime, all cores), and the
  process's CPU seconds (all threads), which a loaded machine does not inflate as much.
BSD100 is limited to its first ``--bsd100`` images (sorted) on a loaded 2-core machine; the JSON says how many.

Writes benchmarks/results/irn.json and irn.md (a run of some scales keeps the others' results).
Usage: python benchmarks/irn.py [--scales 2,4] [--model PATH.onnx ...] [--sets Set5,Set14,BSD100] [--bsd100 N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import common
import numpy as np
from tqdm import tqdm


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    from acutance.contract import to_uint

    ok, data = cv2.imencode(".jpg", to_uint(np.ascontiguousarray(rgb[:, :, ::-1]), 8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / np.float32(255)


def _pair(path: Path):
    from acutance.models.registry import load_model_file
    from acutance.rescale.runtime import down_path, open_downscaler

    return open_downscaler(down_path(path)), load_model_file(path)


def evaluate(pairs: dict, scale: int, sets: list[str], data: Path, bsd100: int) -> dict:
    from acutance.io import list_images, read_image
    from acutance.metrics.registry import compute
    from acutance.metrics.sr_protocol import make_lr, modcrop, quantise, score_sr
    from acutance.models.registry import load_model

    s, best = scale, f"compact-x{scale}"
    compact, bicubic = load_model(best), load_model("bicubic")
    out = {}
    for dataset in sets:
        images, _ = list_images(data / "sr" / dataset)
        images = sorted(images)[:bsd100] if dataset == "BSD100" else sorted(images)
        rows: dict[str, list] = {}
        for path in tqdm(images, desc=dataset, leave=False, file=sys.stderr):
            image = read_image(path)
            gray = image.meta.grayscale
            hr = modcrop(image.rgb, s)
            plain_lr = make_lr(hr, s)
            for name, model in (("bicubic", bicubic), (best, compact)):
                rows.setdefault(f"{name} on bicubic LR", []).append(score_sr(hr, model(plain_lr, s), s, single_channel=gray))
            for label, (down, up) in pairs.items():
                lr = quantise(down(hr))
                rows.setdefault(f"{label} LR vs bicubic", []).append((compute("psnr", plain_lr, lr, y_channel=True), float("nan")))
                rows.setdefault(f"{label} round trip", []).append(score_sr(hr, up(lr, s), s, single_channel=gray))
                for quality in (90, 75):
                    rows.setdefault(f"{label} JPEG Q{quality}", []).append(
                        score_sr(hr, up(_jpeg(lr, quality), s), s, single_channel=gray))
        out[dataset] = {"images": len(images)} | {
            key: {"psnr": round(float(np.mean([v[0] for v in vals])), 3),
                  "ssim": None if np.isnan(vals[0][1]) else round(float(np.mean([v[1] for v in vals])), 4)}
            for key, vals in rows.items()
        }
    return out


def speed(pairs: dict, scale: int, repeats: int) -> dict:
    from acutance.models.registry import load_model

    rng = np.random.default_rng(0)
    import cv2

    hr = cv2.GaussianBlur(rng.random((512, 512, 3)).astype(np.float32), (0, 0), 1.5)
    hr = np.round((hr - hr.min()) / (hr.max() - hr.min()) * 255).astype(np.float32) / 255
    out = {}
    for label, (down, up) in pairs.items():
        times, cpus = [], []
        for _ in range(repeats + 1):
            start, cpu = time.perf_counter(), time.process_time()
            up(down(hr), scale)
            times.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        out[f"{label} round trip 512x512"] = round(float(np.median(times[1:])), 3)
        out[f"{label} round trip 512x512, process CPU s (all threads)"] = round(float(np.median(cpus[1:])), 3)
    compact = load_model(f"compact-x{scale}")
    lr = hr[::scale, ::scale].copy()
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        compact(lr, scale)
        times.append(time.perf_counter() - start)
    out[f"compact-x{scale} upscale {512 // scale}x{512 // scale} -> 512x512"] = round(float(np.median(times[1:])), 3)
    return out


def markdown(result: dict) -> str:
    lines = ["# Invertible rescaling (IRN-style x2 and x4)", "",
             "Y-PSNR (dB) / SSIM, scale-pixel border, 8-bit LR and output. `LR vs bicubic`: Y-PSNR of the IRN LR "
             "against MATLAB bicubic. `JPEG Qn`: the LR saved as JPEG (OpenCV, 4:2:0) before upscaling. "
             "Made by `benchmarks/irn.py`.", ""]  # fmt: skip
    for scale, part in result["scales"].items():
        for dataset, rows in part["quality"].items():
            lines += [f"## {scale}: {dataset} ({rows['images']} images)", "", "| | PSNR | SSIM |", "|---|---|---|"]
            lines += [f"| {key} | {v['psnr']:.2f} | {'-' if v['ssim'] is None else format(v['ssim'], '.4f')} |"
                      for key, v in rows.items() if key != "images"]
            lines.append("")
        lines += [f"## {scale}: speed (median; wall s on the shared, loaded machine, and the process's CPU s over "
                  "all threads)", ""]  # fmt: skip
        lines += [f"- {key}: {value}" for key, value in part["speed"].items()]
        lines += ["", "Models: " + json.dumps(part["models"]), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="2,4")
    parser.add_argument("--model", type=Path, action="append", help="an IRN upscaler file (NAME.onnx beside "
                        "NAME.down.onnx) to measure instead of the shipped pairs of its scale (repeatable)")
    parser.add_argument("--sets", default="Set5,Set14,BSD100")
    parser.add_argument("--bsd100", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = common.require_shared_data()
    weights = common.ROOT / "src/acutance/weights"
    previous = common.RESULTS / "irn.json"
    scales = json.loads(previous.read_text()).get("scales", {}) if previous.is_file() else {}
    for scale in (int(v) for v in args.scales.split(",")):
        paths = [p for p in args.model or () if _pair(p)[0].scale == scale] if args.model else \
            [p for p in (weights / f"irn-x{scale}.onnx", weights / f"irn-x{scale}-plain.onnx") if p.is_file()]
        if not paths:
            print(f"x{scale}: no IRN pair, skipped", file=sys.stderr)
            continue
        pairs = {p.name.removesuffix(".onnx"): _pair(p) for p in paths}
        scales[f"x{scale}"] = {
            "models": {p.name.removesuffix(".onnx"): str(p.relative_to(common.ROOT)) if p.is_relative_to(common.ROOT) else str(p)
                       for p in paths},
            "quality": evaluate(pairs, scale, args.sets.split(","), data, args.bsd100),
            "speed": speed(pairs, scale, args.repeats),
        }  # fmt: skip
    result = {"scales": dict(sorted(scales.items()))}
    path = common.write_result("irn", result)
    path.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
