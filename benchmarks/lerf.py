"""LeRF-style arbitrary-scale resampler (``lerf``): quality against MATLAB bicubic at integer and non-integer
scales in the same run, and speed at x4.

Quality: Y-PSNR / SSIM under the standard protocol (acutance.metrics.sr_protocol). Integer scales (x2, x3, x4)
exactly as every SR paper: modcrop, LR = MATLAB bicubic 1/s, 8 bit, ``s`` border pixels cropped.
Non-integer scales s = p/q (x2.5 = 5/2, x1.7 = 17/10): HR modcropped to a multiple of p on each side, so the
LR size HR * q / p is an integer and the HR/LR ratio is exactly s; LR = MATLAB ``imresize(HR, [h w])``
(bicubic, antialiased), 8 bit; the SR output is asked for the HR size (lerf ``size=``, bicubic
``imresize(LR, [H W])``); ``ceil(s)`` border pixels cropped.

Speed: best of --repeats calls on a 256x256 input at x4 (smooth random image, 8-bit levels), lerf against
MATLAB-exact bicubic (``acutance.resize.imresize``) and OpenCV INTER_CUBIC, wall and process CPU time.

Writes benchmarks/results/lerf.json and lerf.md.
Usage: python benchmarks/lerf.py [--sets Set5,Set14,BSD100] [--scales 2,3,4,2.5,1.7] [--repeats 5]
       [--model PATH.npz]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from fractions import Fraction

import common
import numpy as np
from tqdm import tqdm

PUBLISHED = {"LeRF-G (paper) Set5": {"x2": 35.71, "x3": 32.02, "x4": 30.15}}


def pair(path, scale: float):
    """(hr, lr, border) under the protocol above."""
    from acutance.io import read_image
    from acutance.metrics.sr_protocol import make_lr, modcrop, quantise
    from acutance.resize import imresize

    image = read_image(path)
    if float(scale).is_integer():
        s = int(scale)
        hr = modcrop(image.rgb, s)
        return hr, make_lr(hr, s), s, image.meta.grayscale
    frac = Fraction(scale).limit_denominator(100)
    hr = modcrop(image.rgb, frac.numerator)
    size = (
        hr.shape[0] * frac.denominator // frac.numerator,
        hr.shape[1] * frac.denominator // frac.numerator,
    )
    return hr, quantise(imresize(hr, size=size)), math.ceil(scale), image.meta.grayscale


def quality(fns: dict, scales, sets, data) -> dict:
    """{method: {xS: {set: {psnr, ssim}}}}; every method sees the same LR images."""
    from acutance.io import list_images
    from acutance.metrics.sr_protocol import score_sr

    out = {name: {} for name in fns}
    for scale in scales:
        key = f"x{scale:g}"
        for dataset in sets:
            images, _ = list_images(data / "sr" / dataset)
            scores = {name: [] for name in fns}
            for path in tqdm(
                images, desc=f"{dataset} {key}", leave=False, file=sys.stderr
            ):
                hr, lr, border, gray = pair(path, scale)
                for name, fn in fns.items():
                    sr = fn(lr, hr.shape[:2])
                    if sr.shape != hr.shape:
                        raise ValueError(
                            f"{name} {path.name}: {sr.shape} != {hr.shape}"
                        )
                    scores[name].append(score_sr(hr, sr, border, single_channel=gray))
            for name in fns:
                out[name].setdefault(key, {})[dataset] = {
                    "psnr": round(float(np.mean([s[0] for s in scores[name]])), 3),
                    "ssim": round(float(np.mean([s[1] for s in scores[name]])), 4),
                }
            print(
                key, dataset, {n: out[n][key][dataset]["psnr"] for n in fns}, flush=True
            )
    return out


def test_image(height: int, width: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(
        rng.random((height, width, 3)).astype(np.float32), (0, 0), 1.5
    )
    image = (image - image.min()) / (image.max() - image.min())
    return np.round(image * 255).astype(np.float32) / 255


def best_time(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up: numba compiles (cached on disk)
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="Set5,Set14,BSD100")
    parser.add_argument("--scales", default="2,3,4,2.5,1.7")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", help="a LeRF model file (default: the shipped lerf)")
    parser.add_argument(
        "--name",
        default="lerf",
        help="results file name (benchmarks/results/NAME.json)",
    )
    args = parser.parse_args()
    data = common.require_shared_data()

    import cv2

    from acutance.lut import lerf
    from acutance.models.weights import weight_path
    from acutance.resize import imresize

    path = args.model or str(weight_path("lerf"))
    model = lerf.load_model_file(path)
    fns = {
        "bicubic": lambda lr, size: imresize(lr, size=size),
        "lerf": lambda lr, size: lerf.upscale(model, lr, size=size),
    }
    scales = [float(s) for s in args.scales.split(",")]
    rows = quality(fns, scales, args.sets.split(","), data)

    load_before = os.getloadavg()[0]
    image = test_image(256, 256)
    entry = {
        "opencv_bicubic": best_time(
            lambda: cv2.resize(image, (1024, 1024), interpolation=cv2.INTER_CUBIC),
            args.repeats,
        ),
        "matlab_bicubic": best_time(lambda: imresize(image, 4), args.repeats),
        "lerf": best_time(lambda: lerf.upscale(model, image, 4), args.repeats),
    }
    speed = {
        name: {"wall_ms": round(v[0] * 1000, 2), "cpu_ms": round(v[1] * 1000, 2)}
        for name, v in entry.items()
    }
    speed["lerf_over_matlab_bicubic_wall"] = round(
        entry["lerf"][0] / entry["matlab_bicubic"][0], 2
    )
    speed["lerf_over_opencv_bicubic_wall"] = round(
        entry["lerf"][0] / entry["opencv_bicubic"][0], 2
    )
    load_after = os.getloadavg()[0]
    payload = {
        "model": os.path.basename(path),
        "model_meta": {
            k: model.meta.get(k) for k in ("steps", "train_seconds", "method")
        },
        "tables_mb": round(model.nbytes / 1e6, 3),
        "file_mb": round(os.path.getsize(path) / 1e6, 3),
        "quality": rows,
        "published": PUBLISHED,
        "speed_256_x4": speed,
        "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }
    common.write_result(args.name, payload)
    (common.RESULTS / f"{args.name}.md").write_text(markdown(payload), encoding="utf-8")
    print(f"wrote benchmarks/results/{args.name}.json and {args.name}.md")


def markdown(p: dict) -> str:
    q = p["quality"]
    scales = list(q["lerf"])
    sets = list(q["lerf"][scales[0]])
    lines = [
        "## lerf: LeRF-style arbitrary-scale resampler",
        "",
        (
            f"Model `{p['model']}` ({p['file_mb']} MB file, {p['tables_mb']} MB of tables in memory; "
            f"{p['model_meta'].get('steps')} training steps). Y-PSNR (dB) / SSIM; integer scales under the standard "
            "protocol, non-integer scales s = p/q with the HR modcropped to a multiple of p, LR = MATLAB bicubic to "
            "exactly HR/s, ceil(s) border pixels cropped (`benchmarks/lerf.py`). Bicubic and lerf see the same LR."
        ),
        "",
        "| set | scale | bicubic | lerf | gain |",
        "|---|---|---|---|---|",
    ]
    for dataset in sets:
        for key in scales:
            b, m = q["bicubic"][key][dataset], q["lerf"][key][dataset]
            lines.append(
                f"| {dataset} | {key} | {b['psnr']:.2f} / {b['ssim']:.4f} | {m['psnr']:.2f} / {m['ssim']:.4f} "
                f"| {m['psnr'] - b['psnr']:+.2f} |"
            )
    pub = ", ".join(
        f"{k} {v}" for k, v in p["published"]["LeRF-G (paper) Set5"].items()
    )
    lines += ["", f"Published LeRF-G Set5 (for reference, not re-run): {pub}.", ""]
    sp = p["speed_256_x4"]
    lines += [
        (
            f"Speed, 256x256 input at x4, best of several calls, {p['threads']} threads, shared 2-core machine "
            f"(load average {p['load_average'][0]} before, {p['load_average'][1]} after):"
        ),
        "",
        "| method | wall ms | CPU ms |",
        "|---|---|---|",
    ]
    for name in ("opencv_bicubic", "matlab_bicubic", "lerf"):
        lines.append(
            f"| {name} | {sp[name]['wall_ms']:.1f} | {sp[name]['cpu_ms']:.1f} |"
        )
    lines += [
        "",
        (
            f"lerf / MATLAB bicubic (wall): {sp['lerf_over_matlab_bicubic_wall']}x; "
            f"lerf / OpenCV bicubic: {sp['lerf_over_opencv_bicubic_wall']}x."
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
