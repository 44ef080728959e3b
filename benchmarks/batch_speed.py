"""Batch throughput: images per second serially vs 2 local Dask workers (and a 2-process local pool).

100 generated 256x256 PNGs (edges, gradients, texture), each model run on the same folder three ways in
one run: serial (one process, one compute thread), ``--workers 2`` (a local process pool) and a Dask
``LocalCluster`` of 2 worker processes with 1 thread each. Every run is the whole ``run_batch`` (read,
model, encode, atomic write, manifest); the Dask cluster is started before the clock (its start-up is
reported separately), the process pool is started inside it (as `acutance batch -j 2` does). Outputs of
the three runs are compared byte for byte. Each timing is the best of --repeats runs.

Writes benchmarks/results/batch_speed.json and .md.
Usage: python benchmarks/batch_speed.py [--images 100] [--size 256] [--models bicubic,raisr-x2] [--repeats 2]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one compute thread per process: serial uses one core, like each worker

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np

from acutance.batch import BatchOptions, run_batch
from acutance.batch.worker import limit_threads
from acutance.io import write_image


def make_images(folder: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for i in range(count):
        f = 5.0 + 4.0 * rng.random(3)
        r = 0.5 + 0.5 * np.sin(xx / f[0] + yy / f[1] + i)
        g = (xx + yy) / (2.0 * size)
        b = (((xx + 3 * i) // 16 + yy // 16) % 2) * 0.8 + 0.1
        noise = rng.random((size, size, 3), dtype=np.float32) * 0.1
        rgb = np.clip(np.stack([r, g, b], -1) * 0.9 + noise, 0, 1).astype(np.float32)
        write_image(folder / f"img_{i:03d}.png", rgb)


def timed(source: Path, out: Path, options: BatchOptions) -> tuple[float, float]:
    """(wall seconds of the whole run, sum of the per-image decode + model + encode seconds)."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = run_batch(source, out, options, warn=lambda line: print(line, file=sys.stderr))
    seconds = time.perf_counter() - start
    if summary.exit_code or summary.count("done") != len(summary.records):
        raise SystemExit(f"batch failed: {[r.message for r in summary.records if r.status == 'failed'][:3]}")
    return seconds, sum(r.seconds for r in summary.records)


def same_tree(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.glob("*.png"))
    return names == sorted(p.name for p in b.glob("*.png")) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--models", default="bicubic,raisr-x2")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from distributed import LocalCluster

    limit_threads()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="acutance-batch-bench-") as tmp:
        root = Path(tmp)
        source = root / "in"
        source.mkdir()
        make_images(source, args.images, args.size)
        start = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=40)  # fmt: skip
        cluster_start = time.perf_counter() - start
        try:
            for model in args.models.split(","):
                base = dict(model=model, progress=False)
                runs = {
                    "serial": BatchOptions(**base),
                    "pool2": BatchOptions(**base, workers=2),
                    "dask2": BatchOptions(**base, dask=cluster.scheduler_address),
                }
                seconds = {name: [] for name in runs}
                work = {name: [] for name in runs}
                for _ in range(args.repeats):  # interleaved, so load changes hit all three alike
                    for name, options in runs.items():
                        wall, busy = timed(source, root / name, options)
                        seconds[name].append(wall)
                        work[name].append(busy)
                best = {name: min(values) for name, values in seconds.items()}
                row = {
                    "model": model,
                    "images": args.images,
                    "seconds": {name: round(v, 3) for name, v in best.items()},
                    "all_seconds": {name: [round(v, 3) for v in values] for name, values in seconds.items()},
                    "images_per_second": {name: round(args.images / v, 2) for name, v in best.items()},
                    "per_image_work_seconds": {name: round(min(v) / args.images, 4) for name, v in work.items()},
                    "dask2_vs_serial": round(best["serial"] / best["dask2"], 2),
                    "pool2_vs_serial": round(best["serial"] / best["pool2"], 2),
                    "byte_identical": all(same_tree(root / "serial", root / name) for name in ("dask2", "pool2")),
                }
                print(model, row, flush=True)
                rows.append(row)
        finally:
            cluster.close()
    result = {
        "images": args.images,
        "size": args.size,
        "repeats": args.repeats,
        "dask_cluster_start_seconds": round(cluster_start, 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
    }
    path = common.write_result("batch_speed", result)
    (common.RESULTS / "batch_speed.md").write_text(markdown(result), encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}")


def markdown(result: dict) -> str:
    lines = [
        "## Batch throughput: serial vs 2 workers",
        "",
        f"{result['images']} PNGs of {result['size']}x{result['size']} through `acutance batch` (read, model, encode, "
        f"atomic write, manifest), best of {result['repeats']}; one compute thread per process; 2-core shared "
        f"machine, load average {result['load_average_before'][0]} before, {result['load_average_after'][0]} after "
        f"(`benchmarks/batch_speed.py`). The Dask LocalCluster (2 processes x 1 thread) took "
        f"{result['dask_cluster_start_seconds']} s to start, outside the clock; the local pool starts inside it.",
        "",
        "Work per image is the decode + model + encode time measured inside the worker; the rest of the wall time "
        "is reading, writing, scheduling and, for the pool, start-up.",
        "",
        "| model | serial img/s | 2 Dask workers img/s | Dask vs serial | `--workers 2` img/s | pool vs serial "
        "| work per image, serial / Dask (ms) | outputs byte-identical |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        ips, work = row["images_per_second"], row["per_image_work_seconds"]
        lines.append(
            f"| {row['model']} | {ips['serial']} | {ips['dask2']} | {row['dask2_vs_serial']}x | {ips['pool2']} | "
            f"{row['pool2_vs_serial']}x | {work['serial'] * 1000:.0f} / {work['dask2'] * 1000:.0f} "
            f"| {'yes' if row['byte_identical'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
