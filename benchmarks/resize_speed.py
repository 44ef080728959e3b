"""Time the MATLAB-exact imresize against OpenCV's INTER_CUBIC on a 1920x1080 RGB image, x2 up and down.

Both run in the same process on the same float32 image; the ratio is what to quote (absolute times on
shared machines are noisy; the ratio of the best times is the least disturbed by other load). OpenCV is not MATLAB-exact (a = -0.75, no antialiasing), so it is the speed
baseline only.  Usage: python benchmarks/resize_speed.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import common  # noqa: F401  (sets sys.path)
import cv2
import numpy as np

from acutance.resize import imresize


def best_of(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up: weight tables, page faults
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    image = np.random.default_rng(0).random((1080, 1920, 3), dtype=np.float32)
    rows = []
    for label, scale in (("x2 up", 2.0), ("x2 down", 0.5)):
        size = (int(1920 * scale), int(1080 * scale))
        ours_min, ours_med = best_of(lambda: imresize(image, scale), args.repeats)
        cv_min, cv_med = best_of(lambda: cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), args.repeats)
        rows.append(
            {
                "case": f"1920x1080 RGB float32 {label}",
                "acutance_ms_min": round(ours_min * 1e3, 2),
                "acutance_ms_median": round(ours_med * 1e3, 2),
                "opencv_cubic_ms_min": round(cv_min * 1e3, 2),
                "opencv_cubic_ms_median": round(cv_med * 1e3, 2),
                "ratio_median": round(ours_med / cv_med, 2),
                "ratio_min": round(ours_min / cv_min, 2),  # least disturbed by other load on the machine
            }
        )
        print(rows[-1])
    path = common.write_result("resize_speed", {"opencv_threads": cv2.getNumThreads(), "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
