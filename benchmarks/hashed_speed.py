"""Speed of the hashed-filter models, each timed in the same loop as OpenCV bicubic on the same input.

Upscalers get the input that makes about a 1080p output (x2: 960x540); restorers a 1920x1080 frame. Each
model call and each cv2.resize(INTER_CUBIC) call alternate, 7 rounds after a warm-up (numba compiles on the
first call); we report median and best milliseconds and the ratio of medians. 2 threads (the machine's cores).

Usage: python benchmarks/hashed_speed.py [--models raisr-x2,raisr-fast-x2,...]
Writes benchmarks/results/hashed_speed.json and hashed_speed.md.
"""

from __future__ import annotations

import argparse
import time

import common
import cv2
import numpy as np

from acutance.models.registry import list_models, load_model
from acutance.samples import test_chart

INPUTS = {2: (540, 960), 3: (360, 640), 4: (270, 480), 1: (1080, 1920)}


def hashed_models() -> list[str]:
    return [info.name for info in list_models() if info.loader == "acutance.raisr.runtime"]


def measure(name: str, rounds: int = 7) -> dict:
    model = load_model(name)
    scale = int(model.info.scales[0])
    height, width = INPUTS[scale]
    rgb = cv2.resize(test_chart(512), (width, height), interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    out_size = (width * scale, height * scale)
    model(rgb, scale)  # warm-up: compile / load caches
    ours, bicubic = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        model(rgb, scale)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        cv2.resize(rgb, out_size, interpolation=cv2.INTER_CUBIC)
        bicubic.append(time.perf_counter() - start)
    ms = lambda v: round(1000 * float(v), 1)  # noqa: E731
    return {
        "model": name, "input": f"{width}x{height}", "output": f"{out_size[0]}x{out_size[1]}",
        "ms_median": ms(np.median(ours)), "ms_min": ms(np.min(ours)),
        "opencv_bicubic_ms_median": ms(np.median(bicubic)), "opencv_bicubic_ms_min": ms(np.min(bicubic)),
        "ratio_median": round(float(np.median(ours) / np.median(bicubic)), 1),
    }


def markdown(rows: list[dict]) -> str:
    lines = ["## Hashed filters: speed on 2 cores", "",
             "Written by `benchmarks/hashed_speed.py`; every model call alternates with OpenCV `INTER_CUBIC` on "
             "the same input (output size for upscalers). Goal of issue 4: raisr x2 on 960x540 under 150 ms.", "",
             "| model | input -> output | ms median / best | OpenCV bicubic ms median / best | ratio of medians |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['input']} -> {r['output']} | {r['ms_median']} / {r['ms_min']} "
                     f"| {r['opencv_bicubic_ms_median']} / {r['opencv_bicubic_ms_min']} | {r['ratio_median']}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated (default: every registered hashed-filter model)")
    args = parser.parse_args()
    cv2.setNumThreads(2)
    rows = []
    for name in (args.models.split(",") if args.models else hashed_models()):
        rows.append(measure(name))
        print(rows[-1], flush=True)
    common.write_result("hashed_speed", {"rows": rows})
    (common.RESULTS / "hashed_speed.md").write_text(markdown(rows), encoding="utf-8")


if __name__ == "__main__":
    main()
