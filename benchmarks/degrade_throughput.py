"""Throughput of the degradation pipeline: pairs per second, 256x256 HR -> 64x64 LR, realesrgan preset.

Four measurements from the same run, interleaved so that they see the same load on a shared machine:
  1. the pipeline in memory on one core (one process, OpenCV single-threaded);
  2. the same with two worker processes (the pool `--workers 2` uses, started and warmed up before timing);
  3. baselines in the same process: OpenCV INTER_CUBIC 256 -> 64 alone, and the `bicubic` preset;
  4. end to end: `acutance pairs` (read, crop, degrade, write PNG + JSON) with --workers 1 and 2, pool start
     included.
HR patches are 256x256 crops of BSDS400 training images when ../shared/data is present (synthetic otherwise).
Usage: python benchmarks/degrade_throughput.py [--pairs 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import common
import cv2
import numpy as np

from acutance.degrade import degrade_pair, get_preset, make_rng

SIZE, SCALE, PRESET = 256, 4, "realesrgan"
_PATCHES: np.ndarray | None = None


def load_patches(count: int = 32) -> tuple[np.ndarray, str]:
    from acutance.io import list_images, read_image

    folder = common.SHARED_DATA / "train" / "BSDS400"
    if folder.is_dir():
        images, _ = list_images(folder)
        patches = []
        for path in images[:count]:
            rgb = read_image(path).rgb
            top, left = (rgb.shape[0] - SIZE) // 2, (rgb.shape[1] - SIZE) // 2
            patches.append(rgb[top : top + SIZE, left : left + SIZE])
        return np.stack(patches), f"{count} centre crops of BSDS400 training images"
    rng = np.random.default_rng(0)
    noise = rng.random((count, SIZE, SIZE, 3), dtype=np.float32)
    return np.stack([cv2.GaussianBlur(p, (0, 0), 2) for p in noise]), "synthetic blurred noise (no shared data)"


def _init(count: int) -> None:
    global _PATCHES
    cv2.setNumThreads(1)
    _PATCHES = load_patches(count)[0]


def _run(indices: list[int]) -> tuple[int, float]:
    """Degrade the given pairs; returns (count, CPU seconds this process spent)."""
    config = get_preset(PRESET)
    cpu = time.process_time()
    for i in indices:
        degrade_pair(_PATCHES[i % len(_PATCHES)], config, make_rng(0, str(i)), scale=SCALE)
    return len(indices), time.process_time() - cpu


def one_core(pairs: int, start: int) -> tuple[float, float]:
    """(pairs per wall second, pairs per CPU second): the second is what one core does when it is not shared."""
    t = time.perf_counter()
    _, cpu = _run(list(range(start, start + pairs)))
    return pairs / (time.perf_counter() - t), pairs / cpu


def two_workers(pool: ProcessPoolExecutor, pairs: int, start: int, chunk: int = 20) -> tuple[float, float]:
    chunks = [list(range(i, min(i + chunk, start + pairs))) for i in range(start, start + pairs, chunk)]
    t = time.perf_counter()
    results = list(pool.map(_run, chunks))
    wall = time.perf_counter() - t
    done = sum(n for n, _ in results)
    return done / wall, done / sum(c for _, c in results)


def baseline(fn, patches: np.ndarray, pairs: int) -> float:
    t = time.perf_counter()
    for i in range(pairs):
        fn(patches[i % len(patches)], i)
    return pairs / (time.perf_counter() - t)


def end_to_end(images: list[Path], workers: int, per_image: int) -> float:
    from acutance.degrade.pairs import PairsOptions, build_pairs

    out = Path(tempfile.mkdtemp(prefix="degrade_bench_"))
    source = out / "hr"
    source.mkdir()
    for path in images:
        os.symlink(path, source / path.name)
    try:
        options = PairsOptions(scale=SCALE, patch=SIZE, per_image=per_image, seed=0, preset=PRESET)
        t = time.perf_counter()
        manifest = build_pairs(source, out / "ds", get_preset(PRESET), options, workers=workers, progress=False)
        return manifest["count"] / (time.perf_counter() - t)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=300, help="pairs per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--e2e-images", type=int, default=24, help="BSDS400 images for the end-to-end runs")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    _init(32)
    patches, source = load_patches(32)
    load_before = os.getloadavg()
    _run(list(range(20)))  # warm-up: numba cache, kernel tables
    bicubic = get_preset("bicubic")
    runs: dict[str, list[float]] = {"one_core": [], "two_workers": [], "opencv_cubic": [], "bicubic_preset": []}
    cpu_runs: dict[str, list[float]] = {"one_core": [], "two_workers": []}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context, initializer=_init, initargs=(32,)) as pool:
        list(pool.map(_run, [list(range(10)), list(range(10, 20))]))  # start and warm both workers
        for repeat in range(args.repeats):
            start = 1000 * (repeat + 1)
            for name, (wall, cpu) in (
                ("one_core", one_core(args.pairs, start)),
                ("two_workers", two_workers(pool, 2 * args.pairs, start)),
            ):
                runs[name].append(wall)
                cpu_runs[name].append(cpu)
            runs["opencv_cubic"].append(
                baseline(lambda p, i: cv2.resize(p, (SIZE // SCALE,) * 2, interpolation=cv2.INTER_CUBIC), patches, args.pairs)
            )
            runs["bicubic_preset"].append(
                baseline(lambda p, i: degrade_pair(p, bicubic, make_rng(0, str(i)), scale=SCALE), patches, args.pairs)
            )
            print({k: round(v[-1], 1) for k, v in runs.items()})
    e2e = {}
    folder = common.SHARED_DATA / "train" / "BSDS400"
    if folder.is_dir():
        from acutance.io import list_images

        images = list_images(folder)[0][: args.e2e_images]
        for workers in (1, 2, 1, 2):
            e2e.setdefault(f"workers_{workers}", []).append(end_to_end(images, workers, per_image=4))
        print({k: [round(x, 1) for x in v] for k, v in e2e.items()})
    load_after = os.getloadavg()

    def summary(values: list[float]) -> dict:
        return {"median": round(statistics.median(values), 1), "best": round(max(values), 1), "runs": [round(v, 1) for v in values]}

    result = {
        "preset": PRESET,
        "hr_size": SIZE,
        "scale": SCALE,
        "hr_source": source,
        "pairs_per_run": args.pairs,
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "pairs_per_second": {k: summary(v) for k, v in runs.items()},
        "pairs_per_cpu_second": {k: summary(v) for k, v in cpu_runs.items()},
        "end_to_end_pairs_per_second": {k: summary(v) for k, v in e2e.items()},
    }
    one, two = result["pairs_per_second"]["one_core"], result["pairs_per_second"]["two_workers"]
    result["two_worker_speedup_median"] = round(two["median"] / one["median"], 2)
    result["opencv_cubic_over_pipeline_median"] = round(result["pairs_per_second"]["opencv_cubic"]["median"] / one["median"], 1)
    path = common.write_result("degrade_throughput", result)
    write_markdown(result, path.with_suffix(".md"))
    print(f"wrote {path} and {path.with_suffix('.md')}")


def write_markdown(result: dict, path: Path) -> None:
    machine = common.machine()
    pps = result["pairs_per_second"]
    rows = [
        ("realesrgan pipeline, 1 core", pps["one_core"]),
        ("realesrgan pipeline, 2 worker processes", pps["two_workers"]),
        ("bicubic preset (MATLAB imresize), 1 core", pps["bicubic_preset"]),
        ("OpenCV INTER_CUBIC resize alone, 1 core", pps["opencv_cubic"]),
    ]
    rows += [(f"`acutance pairs` end to end, --workers {k[-1]}", v) for k, v in result["end_to_end_pairs_per_second"].items()]
    lines = [
        "## Degradation throughput (256x256 HR -> 64x64 LR)",
        "",
        f"Measured {machine['date']} on {machine['cpus']} CPUs (shared; 1-min load average {result['load_average_before_after'][0]} "
        f"before, {result['load_average_before_after'][1]} after), numpy {machine['numpy']}, OpenCV {machine['opencv']}. "
        f"Source: `benchmarks/degrade_throughput.py`; HR: {result['hr_source']}. All rows from the same run, interleaved.",
        "",
        "| what | pairs/s, median | best | runs |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {v['median']} | {v['best']} | {', '.join(map(str, v['runs']))} |" for name, v in rows]
    cpu = result["pairs_per_cpu_second"]
    lines += [
        "",
        "Pairs per CPU second (process time; what a core does when nobody else uses it, less sensitive to the "
        f"machine's other load): one core {cpu['one_core']['median']} (best {cpu['one_core']['best']}), "
        f"each of two workers {cpu['two_workers']['median']} (best {cpu['two_workers']['best']}).",
    ]
    lines += [
        "",
        f"Two workers give {result['two_worker_speedup_median']}x the one-core rate (medians). The end-to-end rows include "
        "reading the images, writing PNG + JSON sidecars and starting the worker pool.",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
