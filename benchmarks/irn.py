"""Invertible rescaling (IRN-style x2): round trip, LR as a thumbnail, JPEG on the LR, speed.

For each pair (the shipped ``irn-x2``, and ``--plain`` for the model trained without the JPEG simulation):
- round trip under the SR protocol (acutance.metrics.sr_protocol: HR modcropped, 8-bit output, Y-PSNR/SSIM,
  2-pixel border): HR -> the pair's downscaler -> LR rounded to 8 bits (a PNG) -> its upscaler (z = 0);
- the LR against the MATLAB bicubic downscale of the same HR (``make_lr``): Y-PSNR, no border crop;
- the LR saved as JPEG quality 90 and 75 (OpenCV, 4:2:0) before upscaling;
- baselines on the protocol's bicubic LR: bicubic up, and our best x2 SR model (``compact-x2``);
- speed: median wall time of a 512x512 round trip (downscale + upscale, onnxruntime, all cores).
BSD100 is limited to its first ``--bsd100`` images (sorted) on a loaded 2-core machine; the JSON says how many.

Writes benchmarks/results/irn.json and irn.md.
Usage: python benchmarks/irn.py [--plain PATH.onnx] [--sets Set5,Set14,BSD100] [--bsd100 N]
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


def evaluate(pairs: dict, sets: list[str], data: Path, bsd100: int) -> dict:
    from acutance.io import list_images, read_image
    from acutance.metrics import psnr
    from acutance.metrics.sr_protocol import make_lr, modcrop, quantise, score_sr
    from acutance.models.registry import load_model

    compact, bicubic = load_model("compact-x2"), load_model("bicubic")
    out = {}
    for dataset in sets:
        images, _ = list_images(data / "sr" / dataset)
        images = sorted(images)[:bsd100] if dataset == "BSD100" else sorted(images)
        rows: dict[str, list] = {}
        for path in tqdm(images, desc=dataset, leave=False, file=sys.stderr):
            image = read_image(path)
            gray = image.meta.grayscale
            hr = modcrop(image.rgb, 2)
            plain_lr = make_lr(hr, 2)
            for name, model in (("bicubic", bicubic), ("compact-x2", compact)):
                rows.setdefault(f"{name} on bicubic LR", []).append(score_sr(hr, model(plain_lr, 2), 2, single_channel=gray))
            for label, (down, up) in pairs.items():
                lr = quantise(down(hr))
                rows.setdefault(f"{label} LR vs bicubic", []).append((psnr(plain_lr, lr, y_channel=True), float("nan")))
                rows.setdefault(f"{label} round trip", []).append(score_sr(hr, up(lr, 2), 2, single_channel=gray))
                for quality in (90, 75):
                    rows.setdefault(f"{label} JPEG Q{quality}", []).append(
                        score_sr(hr, up(_jpeg(lr, quality), 2), 2, single_channel=gray))
        out[dataset] = {"images": len(images)} | {
            key: {"psnr": round(float(np.mean([v[0] for v in vals])), 3),
                  "ssim": None if np.isnan(vals[0][1]) else round(float(np.mean([v[1] for v in vals])), 4)}
            for key, vals in rows.items()
        }
    return out


def speed(pairs: dict, repeats: int) -> dict:
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
            up(down(hr), 2)
            times.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        out[f"{label} round trip 512x512"] = round(float(np.median(times[1:])), 3)
        out[f"{label} round trip 512x512, process CPU s (all threads)"] = round(float(np.median(cpus[1:])), 3)
    compact = load_model("compact-x2")
    lr = hr[::2, ::2].copy()
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        compact(lr, 2)
        times.append(time.perf_counter() - start)
    out["compact-x2 upscale 256x256 -> 512x512"] = round(float(np.median(times[1:])), 3)
    return out


def markdown(result: dict) -> str:
    lines = ["# Invertible rescaling (IRN-style x2)", "",
             "Y-PSNR (dB) / SSIM, 2-pixel border, 8-bit LR and output. `LR vs bicubic`: Y-PSNR of the IRN LR "
             "against MATLAB bicubic. Made by `benchmarks/irn.py`.", ""]  # fmt: skip
    for dataset, rows in result["quality"].items():
        lines += [f"## {dataset} ({rows['images']} images)", "", "| | PSNR | SSIM |", "|---|---|---|"]
        lines += [f"| {key} | {v['psnr']:.2f} | {'-' if v['ssim'] is None else format(v['ssim'], '.4f')} |"
                  for key, v in rows.items() if key != "images"]
        lines.append("")
    lines += ["## Speed (median; wall s on the shared, loaded machine, and the process's CPU s over all threads)", ""]
    lines += [f"- {key}: {value}" for key, value in result["speed"].items()]
    lines += ["", "Models: " + json.dumps(result["models"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robust", type=Path, default=common.ROOT / "src/acutance/weights/irn-x2.onnx")
    parser.add_argument("--plain", type=Path, default=common.ROOT / "src/acutance/weights/irn-x2-plain.onnx")
    parser.add_argument("--sets", default="Set5,Set14,BSD100")
    parser.add_argument("--bsd100", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = common.require_shared_data()
    pairs = {"irn-x2 (robust)": _pair(args.robust)}
    if args.plain.is_file():
        pairs["irn-x2-plain"] = _pair(args.plain)
    result = {
        "models": {label: str(path.relative_to(common.ROOT)) if path.is_relative_to(common.ROOT) else str(path)
                   for label, path in (("irn-x2 (robust)", args.robust), ("irn-x2-plain", args.plain)) if path.is_file()},
        "quality": evaluate(pairs, args.sets.split(","), data, args.bsd100),
        "speed": speed(pairs, args.repeats),
    }  # fmt: skip
    path = common.write_result("irn", result)
    path.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
