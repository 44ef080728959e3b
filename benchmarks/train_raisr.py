"""Train a RAISR model (upscale-then-filter on Y) on BSDS400 + T91 and score it under the SR protocol.

Usage: python benchmarks/train_raisr.py --scale 2 -o src/acutance/weights/raisr-x2.npz
Prints Y-PSNR/SSIM on Set5/Set14/BSD100 (settings are chosen on BSD100, never on Set5) and the time per
output megapixel of RAISR and MATLAB bicubic (``imresize``) on a 1080p output, in the same run; the numbers
are written into the model file's ``meta``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # many small 121x121 products: processes, not threads

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import common  # noqa: E402
import numpy as np  # noqa: E402

from acutance.io import list_images  # noqa: E402
from acutance.metrics.sr_protocol import evaluate_sr_image  # noqa: E402
from acutance.raisr.runtime import save_model, upscale  # noqa: E402
from acutance.raisr.train import TrainOptions, train_files  # noqa: E402
from acutance.resize import imresize  # noqa: E402

TRAIN_SETS = ("train/BSDS400", "train/T91_partial")


def evaluate(model, data, sets) -> dict:
    results = {}
    for dataset in sets:
        images, _ = list_images(data / "sr" / dataset)
        scores = [evaluate_sr_image(lambda lr: upscale(model, lr), p, model.scale) for p in images]
        results[dataset] = {
            "psnr": round(float(np.mean([s.psnr for s in scores])), 3),
            "ssim": round(float(np.mean([s.ssim for s in scores])), 4),
        }
        print(f"{dataset:7s} x{model.scale}: {results[dataset]['psnr']:.3f} dB  SSIM {results[dataset]['ssim']:.4f}")
    return results


def speed_1080p(model, repeats: int = 3) -> dict:
    scale = model.scale
    rng = np.random.default_rng(0)
    lr = rng.random((1080 // scale, 1920 // scale, 3), dtype=np.float32)
    best = {}
    for name, fn in (("bicubic", lambda: imresize(lr, scale)), ("raisr", lambda: upscale(model, lr))):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - start)
        best[name] = min(times) / (out.shape[0] * out.shape[1] / 1e6)
    print(
        f"1080p output ({out.shape[1]}x{out.shape[0]}): raisr {best['raisr']:.3f} s/MP, "
        f"bicubic {best['bicubic']:.3f} s/MP ({best['raisr'] / best['bicubic']:.1f}x)"
    )
    return {"raisr_s_per_output_mp": round(best["raisr"], 4), "bicubic_s_per_output_mp": round(best["bicubic"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("-o", "--output", help="model file to write (.npz)")
    parser.add_argument("--k", type=int, default=11)
    parser.add_argument("--ridge", type=float, default=0.1)
    parser.add_argument("--min-count", type=int, default=200)
    parser.add_argument("--fraction", type=float, default=0.25, help="share of training pixels used")
    parser.add_argument("--sigma", type=float, default=2.0)
    parser.add_argument("--window", type=int, default=9)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sets", default="Set5,Set14,BSD100")
    parser.add_argument("--limit", type=int, default=0, help="use only this many training images (0: all)")
    args = parser.parse_args()

    data = common.require_shared_data()
    paths = []
    for folder in TRAIN_SETS:
        images, _ = list_images(data / folder)
        paths += sorted(images)
    if args.limit:
        paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]
    options = TrainOptions(
        scale=args.scale,
        k=args.k,
        ridge=args.ridge,
        min_count=args.min_count,
        fraction=args.fraction,
        sigma=args.sigma,
        window=args.window,
        workers=args.workers,
    )
    print(f"training x{args.scale} on {len(paths)} images ({', '.join(TRAIN_SETS)}), {options}", file=sys.stderr)
    model = train_files(paths, options, meta={"training_data": list(TRAIN_SETS), "method": "RAISR"})
    print(
        f"trained in {model.meta['training_seconds']} s: {model.meta['training_samples']} samples, "
        f"{model.meta['buckets_trained']}/{model.params.n_buckets} buckets with their own filter"
    )
    quality = evaluate(model, data, [s for s in args.sets.split(",") if s])
    speed = speed_1080p(model)
    if args.output:
        model.meta.update({"measured": {"y_psnr_ssim": quality, "speed_1080p": speed, "machine": common.machine()}})
        path = save_model(model, args.output)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
