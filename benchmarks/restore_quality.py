"""BLADE restorers against the unprocessed input and OpenCV's non-local means, in the same run.

Denoise: Kodak24 and McMaster with Gaussian noise sigma 15/25/50 (seeded, added to the 8-bit image, clipped
and rounded to 8 bits, as a camera would store it), RGB PSNR. OpenCV's fastNlMeansDenoisingColored gets its
filter strength h chosen per sigma on training images (BSDS400), not on the test sets.
Deblock: classic5 (grayscale) compressed by OpenCV's JPEG encoder at quality 10/20/30/40, PSNR of the gray
image. Times are per megapixel of input, median over the images, with bicubic x1 (a copy) excluded.

Usage: python benchmarks/restore_quality.py [--quick]
Writes benchmarks/results/restore_quality.json and restore_quality.md.
"""

from __future__ import annotations

import argparse
import time

import common
import cv2
import numpy as np

from acutance.color import rgb_to_gray
from acutance.contract import to_float, to_uint
from acutance.io import list_images, read_image
from acutance.metrics.registry import compute
from acutance.models.registry import REGISTRY, load_model
from acutance.raisr.train import TrainOptions, image_seed, make_pair

SIGMAS = (15, 25, 50)
QUALITIES = (10, 20, 30, 40)
NLM_H = (5, 8, 11, 14, 18, 22, 28)


def nlm(noisy: np.ndarray, h: float) -> np.ndarray:
    bgr = to_uint(noisy[:, :, ::-1], 8)
    return to_float(cv2.fastNlMeansDenoisingColored(bgr, None, h, h, 7, 21)[:, :, ::-1].copy())


def noisy_copy(clean: np.ndarray, sigma: float, name: str) -> np.ndarray:
    options = TrainOptions(task="denoise", scale=1, noise_sigma=sigma)
    return make_pair(clean, options, image_seed(12345, name))[0]  # a seed the training never used


def choose_nlm_h(data, sigma: float) -> float:
    images, _ = list_images(data / "train" / "BSDS400")
    picks = sorted(images)[::100][:4]
    best = None
    for h in NLM_H:
        scores = []
        for path in picks:
            clean = read_image(path).rgb
            scores.append(compute("psnr", nlm(noisy_copy(clean, sigma, path.name), h), clean))
        if best is None or np.mean(scores) > best[1]:
            best = (h, float(np.mean(scores)))
    return best[0]


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def denoise(data, quick: bool) -> list[dict]:
    rows = []
    for sigma in SIGMAS:
        h = choose_nlm_h(data, sigma)
        model = load_model(f"blade-denoise-{sigma}")
        multiscale = load_model(f"blade-denoise-ms-{sigma}") if f"blade-denoise-ms-{sigma}" in REGISTRY else None
        for dataset in ("Kodak24", "McMaster"):
            images, _ = list_images(data / "restore" / dataset)
            images = sorted(images)[:: 4 if quick else 1]
            scores = {"input": [], "nlm": [], "blade": [], **({"blade_ms": []} if multiscale else {})}
            times = {"nlm": [], "blade": [], **({"blade_ms": []} if multiscale else {})}
            for path in images:
                clean = read_image(path).rgb
                noisy = noisy_copy(clean, sigma, path.name)
                mp = clean.shape[0] * clean.shape[1] / 1e6
                scores["input"].append(compute("psnr", noisy, clean))
                out, t = timed(nlm, noisy, h)
                scores["nlm"].append(compute("psnr", out, clean))
                times["nlm"].append(t / mp)
                out, t = timed(model, noisy, 1.0)
                scores["blade"].append(compute("psnr", np.clip(out, 0, 1), clean))
                times["blade"].append(t / mp)
                if multiscale:
                    out, t = timed(multiscale, noisy, 1.0)
                    scores["blade_ms"].append(compute("psnr", np.clip(out, 0, 1), clean))
                    times["blade_ms"].append(t / mp)
            rows.append({
                "dataset": dataset, "sigma": sigma, "images": len(images), "nlm_h": h,
                **{f"psnr_{k}": round(float(np.mean(v)), 3) for k, v in scores.items()},
                **{f"s_per_mp_{k}": round(float(np.median(v)), 4) for k, v in times.items()},
            })
            print(rows[-1], flush=True)
    return rows


def deblock(data) -> list[dict]:
    rows = []
    images, _ = list_images(data / "restore" / "classic5")
    for quality in QUALITIES:
        model = load_model(f"blade-deblock-q{quality}")
        scores = {"input": [], "blade": []}
        times = []
        for path in sorted(images):
            gray = read_image(path).rgb[:, :, 0]
            ok, encoded = cv2.imencode(".jpg", to_uint(gray, 8), [cv2.IMWRITE_JPEG_QUALITY, quality])
            jpeg = to_float(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE))
            as_rgb = lambda a: np.repeat(np.asarray(a, np.float32)[:, :, None], 3, axis=2)  # noqa: E731
            scores["input"].append(compute("psnr", as_rgb(jpeg), as_rgb(gray)))
            rgb = np.repeat(jpeg[:, :, None], 3, axis=2)
            out, t = timed(model, rgb, 1.0)
            scores["blade"].append(compute("psnr", as_rgb(np.clip(rgb_to_gray(out), 0, 1)), as_rgb(gray)))
            times.append(t / (gray.size / 1e6))
        rows.append({
            "dataset": "classic5", "quality": quality, "images": len(images),
            **{f"psnr_{k}": round(float(np.mean(v)), 3) for k, v in scores.items()},
            "s_per_mp_blade": round(float(np.median(times)), 4),
        })
        print(rows[-1], flush=True)
    return rows


def sharpen(data) -> list[dict]:
    """Kodak24 blurred by a Gaussian of sigma 1 (what blade-sharpen was trained to undo), RGB PSNR."""
    from acutance.filters import contrast_adaptive_sharpen, unsharp_mask

    images, _ = list_images(data / "restore" / "Kodak24")
    model = load_model("blade-sharpen")
    methods = {
        "usm": lambda x: unsharp_mask(x, amount=1.0, radius=1.0),
        "cas": lambda x: contrast_adaptive_sharpen(x, 1.0),
        "blade": lambda x: model(x, 1.0),
    }
    scores = {"input": [], **{name: [] for name in methods}}
    times = {name: [] for name in methods}
    for path in sorted(images):
        clean = read_image(path).rgb
        blurred = cv2.GaussianBlur(clean, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)
        blurred = to_float(to_uint(np.clip(blurred, 0, 1), 8))
        scores["input"].append(compute("psnr", blurred, clean))
        for name, fn in methods.items():
            out, t = timed(fn, blurred)
            scores[name].append(compute("psnr", np.clip(out, 0, 1), clean))
            times[name].append(t / (clean.shape[0] * clean.shape[1] / 1e6))
    row = {"dataset": "Kodak24", "blur_sigma": 1.0, "images": len(images),
           **{f"psnr_{k}": round(float(np.mean(v)), 3) for k, v in scores.items()},
           **{f"s_per_mp_{k}": round(float(np.median(v)), 4) for k, v in times.items()}}
    print(row, flush=True)
    return [row]


def markdown(result: dict) -> str:
    lines = ["## BLADE restoration (hashed filters) vs input and OpenCV non-local means", "",
             "Written by `benchmarks/restore_quality.py`. RGB PSNR (dB) for denoising, gray PSNR for classic5; "
             "time in seconds per input megapixel (median).", "",
             "| set | sigma | noisy input | NLM (h) | BLADE | NLM s/MP | BLADE s/MP | BLADE speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["denoise"]:
        lines.append(
            f"| {r['dataset']} | {r['sigma']} | {r['psnr_input']:.2f} | {r['psnr_nlm']:.2f} ({r['nlm_h']}) "
            f"| **{r['psnr_blade']:.2f}** | {r['s_per_mp_nlm']:.3f} | {r['s_per_mp_blade']:.3f} "
            f"| {r['s_per_mp_nlm'] / r['s_per_mp_blade']:.1f}x |"
        )
    multiscale = [r for r in result["denoise"] if "psnr_blade_ms" in r]
    if multiscale:
        lines += ["", "Multiscale BLADE (`blade-denoise-ms-50`: the same steps at half size first):", "",
                  "| set | sigma | BLADE | BLADE multiscale | its s/MP |", "|---|---|---|---|---|"]
        for r in multiscale:
            lines.append(f"| {r['dataset']} | {r['sigma']} | {r['psnr_blade']:.2f} | **{r['psnr_blade_ms']:.2f}** "
                         f"| {r['s_per_mp_blade_ms']:.3f} |")
    lines += ["", "| set | JPEG quality | JPEG input | BLADE deblock | BLADE s/MP |", "|---|---|---|---|---|"]
    for r in result["deblock"]:
        lines.append(f"| classic5 | {r['quality']} | {r['psnr_input']:.2f} | **{r['psnr_blade']:.2f}** "
                     f"| {r['s_per_mp_blade']:.3f} |")
    if result.get("sharpen"):
        lines += ["", "| set | blur sigma | blurred input | USM (amount 1, radius 1) | CAS (sharpness 1) | BLADE sharpen "
                  "| BLADE s/MP |", "|---|---|---|---|---|---|---|"]
        for r in result["sharpen"]:
            lines.append(f"| {r['dataset']} | {r['blur_sigma']} | {r['psnr_input']:.2f} | {r['psnr_usm']:.2f} "
                         f"| {r['psnr_cas']:.2f} | **{r['psnr_blade']:.2f}** | {r['s_per_mp_blade']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every 4th denoising image")
    parser.add_argument("--only", choices=("denoise", "deblock", "sharpen"))
    args = parser.parse_args()
    data = common.require_shared_data()
    cv2.setNumThreads(2)
    previous = common.RESULTS / "restore_quality.json"
    result = {"denoise": [], "deblock": [], "sharpen": []}
    if args.only and previous.exists():  # rerunning one part keeps the other's numbers
        import json

        result.update({k: v for k, v in json.loads(previous.read_text()).items() if k in result})
    if args.only in (None, "denoise"):
        result["denoise"] = denoise(data, args.quick)
    if args.only in (None, "deblock"):
        result["deblock"] = deblock(data)
    if args.only in (None, "sharpen"):
        result["sharpen"] = sharpen(data)
    common.write_result("restore_quality", result)
    (common.RESULTS / "restore_quality.md").write_text(markdown(result), encoding="utf-8")


if __name__ == "__main__":
    main()
