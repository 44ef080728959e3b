"""Time the classical sharpeners (CAS, Anime4K) on a 1920x1080 RGB frame against OpenCV bicubic.

Every case is timed in the same loop as its baseline, OpenCV ``cv2.resize(INTER_CUBIC)`` making the same
1920x1080 float32 frame from 960x540 (the x2 models take that 960x540 input; the same-size filters get the
1080p frame). Calls alternate baseline / case, so load from other work on the machine hits both alike;
quote the ratios. numba and OpenCV are capped at 2 threads. The x2 models are split into their upscale
(MATLAB-exact bicubic, ``acutance.resize.imresize``) and refine parts. The compile time of the numba
kernels is measured in a fresh process with an empty cache.

Usage: python benchmarks/filter_speed.py [--repeats N] [--no-compile-time]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import common  # noqa: F401  (sets sys.path)
import cv2
import numba
import numpy as np

from acutance.filters import anime4k_push, anime4k_upscale, cas_upscale, contrast_adaptive_sharpen
from acutance.resize import imresize

GOAL_MS = 30.0
THREADS = 2
COMPILE_SNIPPET = """
import time, numpy as np
start = time.perf_counter()
from acutance.filters import anime4k_push, contrast_adaptive_sharpen
image = np.full((16, 16, 3), 0.5, np.float32)
contrast_adaptive_sharpen(image); middle = time.perf_counter(); anime4k_push(image)
print(middle - start, time.perf_counter() - middle)
"""


def frame() -> tuple[np.ndarray, np.ndarray]:
    """A deterministic 1080p test frame (blurred noise, flat areas and dark lines) and its 960x540 version."""
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((1080, 1920, 3), dtype=np.float32), (0, 0), 3.0) * 0.6 + 0.2
    image[200:900:50, :] = 0.05  # line art: dark horizontal and vertical strokes
    image[:, 300:1700:70] = 0.05
    image = cv2.GaussianBlur(image, (0, 0), 1.0)
    small = cv2.resize(image, (960, 540), interpolation=cv2.INTER_AREA)
    return np.clip(image, 0, 1).astype(np.float32), np.clip(small, 0, 1).astype(np.float32)


def paired(case, baseline, repeats: int) -> dict[str, list[float]]:
    """Wall-clock and process CPU seconds (all threads) of each call, baseline and case alternating."""
    case(), baseline()  # warm-up: compile or load the kernels, page faults
    times = {"case": [], "base": [], "case_cpu": [], "base_cpu": []}
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        baseline()
        middle, middle_cpu = time.perf_counter(), time.process_time()
        case()
        times["case"].append(time.perf_counter() - middle)
        times["case_cpu"].append(time.process_time() - middle_cpu)
        times["base"].append(middle - start)
        times["base_cpu"].append(middle_cpu - start_cpu)
    return times


def ms(values: list[float]) -> tuple[float, float]:
    return round(statistics.median(values) * 1e3, 2), round(min(values) * 1e3, 2)


def compile_seconds() -> dict:
    """First calls in a fresh process whose numba cache is empty: import + compile of each filter."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS=str(THREADS))
        env["PYTHONPATH"] = str(common.ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
        command = [sys.executable, "-c", COMPILE_SNIPPET]
        fresh = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        cas_s, anime4k_s = (float(v) for v in fresh.stdout.split())
        cached = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        cas_cached, anime4k_cached = (float(v) for v in cached.stdout.split())
    return {
        "cas_first_call_s": round(cas_s, 1),
        "anime4k_first_call_s": round(anime4k_s, 1),
        "cas_first_call_cached_s": round(cas_cached, 2),
        "anime4k_first_call_cached_s": round(anime4k_cached, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--no-compile-time", action="store_true", help="skip the fresh-cache compile timing")
    args = parser.parse_args()
    numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
    cv2.setNumThreads(THREADS)
    load_before = os.getloadavg()[0]
    image, small = frame()

    def bicubic() -> np.ndarray:
        return cv2.resize(small, (1920, 1080), interpolation=cv2.INTER_CUBIC)

    upscaled = np.clip(imresize(small, 2.0, method="bicubic"), 0.0, 1.0).astype(np.float32)
    cases = [
        ("cas", "CAS sharpness 0.5, 1920x1080", lambda: contrast_adaptive_sharpen(image)),
        ("anime4k", "Anime4K push (1 pass), 1920x1080", lambda: anime4k_push(image)),
        ("cas-x2", "cas-x2 total, 960x540 -> 1920x1080", lambda: cas_upscale(small, 2)),
        ("cas-x2 refine", "cas-x2 refine (CAS on the upscaled frame)", lambda: contrast_adaptive_sharpen(upscaled)),
        ("anime4k-x2", "anime4k-x2 total, 960x540 -> 1920x1080", lambda: anime4k_upscale(small, 2)),
        (
            "anime4k-x2 refine",
            "anime4k-x2 refine (push on the upscaled frame)",
            lambda: anime4k_push(upscaled),
        ),
        ("x2 upscale", "MATLAB-exact bicubic x2 (the x2 models' upscale part)", lambda: imresize(small, 2.0)),
    ]
    rows = []
    for key, label, case in cases:
        times = paired(case, bicubic, args.repeats)
        (case_med, case_min), (base_med, base_min) = ms(times["case"]), ms(times["base"])
        rows.append(
            {
                "case": key,
                "label": label,
                "ms_median": case_med,
                "ms_min": case_min,
                "opencv_cubic_ms_median": base_med,
                "opencv_cubic_ms_min": base_min,
                "ratio_median": round(case_med / base_med, 2),
                "ratio_min": round(case_min / base_min, 2),
                "under_goal": case_med < GOAL_MS,
                # CPU time of all threads: less disturbed by waiting for a core on a loaded machine
                "cpu_ms_median": ms(times["case_cpu"])[0],
                "opencv_cubic_cpu_ms_median": ms(times["base_cpu"])[0],
            }
        )
        print(rows[-1], flush=True)
    payload = {
        "threads": {"numba": numba.get_num_threads(), "opencv": cv2.getNumThreads()},
        "goal_ms": GOAL_MS,
        "repeats": args.repeats,
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "rows": rows,
    }
    if not args.no_compile_time:
        payload["compile"] = compile_seconds()
        print(payload["compile"])
    path = common.write_result("filter_speed", payload)
    (common.RESULTS / "filter_speed.md").write_text("\n".join(markdown(payload)) + "\n", encoding="utf-8")
    print(f"wrote {path} and filter_speed.md")


def markdown(payload: dict) -> list[str]:
    machine = common.machine()
    load = payload["load_average_1min"]
    lines = [
        "## Classical sharpeners: speed at 1080p",
        "",
        f"Measured {machine['date']} on {machine['cpus']} CPUs (numba {numba.__version__}, OpenCV "
        f"{machine['opencv']}, {payload['threads']['numba']} numba / {payload['threads']['opencv']} OpenCV "
        f"threads), {payload['repeats']} paired runs; 1-minute load average {load['before']} before, "
        f"{load['after']} after (the machine is shared: compare the ratios). Baseline: OpenCV INTER_CUBIC "
        "960x540 -> 1920x1080 float32, timed alternately with each case. Goal: under "
        f"{payload['goal_ms']:.0f} ms. Source: `benchmarks/filter_speed.py`.",
        "",
        "| case | ms, median / best | OpenCV bicubic ms, median / best | ratio of medians | ratio of best "
        "| median under goal | CPU ms (all threads), case / bicubic |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in payload["rows"]:
        lines.append(
            f"| {row['label']} | {row['ms_median']} / {row['ms_min']} "
            f"| {row['opencv_cubic_ms_median']} / {row['opencv_cubic_ms_min']} "
            f"| {row['ratio_median']}x | {row['ratio_min']}x | {'yes' if row['under_goal'] else 'no'} "
            f"| {row['cpu_ms_median']} / {row['opencv_cubic_cpu_ms_median']} |"
        )
    if "compile" in payload:
        c = payload["compile"]
        lines += [
            "",
            f"First call in a fresh process with an empty numba cache (import + compile): CAS "
            f"{c['cas_first_call_s']} s, Anime4K {c['anime4k_first_call_s']} s; with the cache written "
            f"(`cache=True`, beside the sources): {c['cas_first_call_cached_s']} s and "
            f"{c['anime4k_first_call_cached_s']} s.",
        ]
    return lines


if __name__ == "__main__":
    main()
