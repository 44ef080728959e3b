"""Start-up: whole-process wall time of ``acutance --help`` and of a first ``acutance upscale`` of a 64x64 PNG,
with numba's cache empty and after ``acutance warm`` (what ``make install`` / ``make demo`` run).

Every timing is a fresh ``python -m acutance`` process, clock around ``subprocess.run``. "Empty cache" points
``NUMBA_CACHE_DIR`` at a new empty folder, so every kernel the run needs is compiled in it (what a fresh clone
saw before the warm step); "warm" runs ``acutance warm`` into that same folder first. numba keys its cache by
source file and argument types, so this is the same lookup as the tree's own ``__pycache__`` (``--tree`` times
that instead, after the tree's ``make demo``). Each case is repeated ``--repeats`` times (a new empty folder
each time for the empty-cache case); median and best are reported with the machine's load average, because
the 2-core machine these figures come from is shared.

Writes benchmarks/results/startup.json and .md.
Usage: python benchmarks/startup.py [--models raisr-x2,lut-x4,esr-max-c4-k5-x2] [--repeats 3] [--tree]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np

MODELS = ("raisr-x2", "lut-x4", "esr-max-c4-k5-x2")
LIMIT_S = 2.0  # issue 16, acceptance 2
HELP_LIMIT_S = 0.3  # issue 16, acceptance 1


class Timing(float):
    """A wall time in seconds that also carries the process's CPU time (``.cpu``)."""

    cpu: float


def run_timed(argv: list[str], env: dict) -> Timing:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "acutance", *argv], env=env, capture_output=True, text=True)
    seconds = Timing(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"acutance {' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    return seconds


def summary(times: list[Timing]) -> dict:
    return {"median_s": round(statistics.median(times), 3), "best_s": round(min(times), 3),
            "runs_s": [round(t, 3) for t in times], "cpu_median_s": round(statistics.median(t.cpu for t in times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tree", action="store_true", help="also time the tree's own cache (after make demo)")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]

    from PIL import Image

    base_env = os.environ | {"PYTHONPATH": str(common.ROOT / "src")}
    base_env.pop("NUMBA_CACHE_DIR", None)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="acutance-startup-") as folder:
        work = Path(folder)
        image = work / "in64.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(image)

        help_times = [run_timed(["--help"], base_env) for _ in range(max(args.repeats, 5))]

        def upscale(model: str, env: dict) -> float:
            return run_timed(["upscale", str(image), "-m", model, "-o", str(work / f"{model}.png"), "--overwrite"], env)

        empty: dict[str, list[float]] = {m: [] for m in models}
        for repeat in range(args.repeats):
            for model in models:
                cache = work / f"empty-{model}-{repeat}"
                cache.mkdir()
                empty[model].append(upscale(model, base_env | {"NUMBA_CACHE_DIR": str(cache)}))

        warm_cache = work / "warm"
        warm_cache.mkdir()
        warm_env = base_env | {"NUMBA_CACHE_DIR": str(warm_cache)}
        warm_seconds = run_timed(["warm", "--quiet"], warm_env)
        warm = {m: [upscale(m, warm_env) for _ in range(args.repeats)] for m in models}
        tree = {m: [upscale(m, base_env) for _ in range(args.repeats)] for m in models} if args.tree else {}

    load_after = os.getloadavg()
    rows = []
    for model in models:
        row = {"model": model, "empty_cache": summary(empty[model]), "warm_cache": summary(warm[model])}
        if tree:
            row["tree_cache"] = summary(tree[model])
        rows.append(row)
    payload = {
        "image": "64x64 RGB PNG",
        "limit_s": LIMIT_S,
        "help": summary(help_times) | {"limit_s": HELP_LIMIT_S},
        "warm_command_s": round(warm_seconds, 2),
        "warm_command_cpu_s": round(warm_seconds.cpu, 2),
        "models": rows,
        "load_average_1min": [round(load_before[0], 2), round(load_after[0], 2)],
        "command": "python benchmarks/startup.py " + " ".join(sys.argv[1:]),
        "checkout": str(common.ROOT),  # e.g. a fresh clone after `make demo`
    }
    path = common.write_result("startup", payload)
    lines = [
        "# Start-up (issue 16)",
        "",
        f"Whole-process wall time, fresh `python -m acutance` each run; median / best of {args.repeats} "
        f"(help: of {len(help_times)}). 1-minute load average {load_before[0]:.1f} before, {load_after[0]:.1f} "
        f"after, on {os.cpu_count()} CPUs (a shared machine: the best is the least disturbed run; the CPU "
        "time, user + sys, is what the run costs whatever the load).",
        "",
        f"`acutance --help`: {payload['help']['median_s']:.3f} / {payload['help']['best_s']:.3f} s wall, "
        f"{payload['help']['cpu_median_s']:.3f} s CPU (limit {HELP_LIMIT_S} s).",
        "",
        f"`acutance warm` into an empty cache (every shipped kernel): {warm_seconds:.1f} s wall, "
        f"{warm_seconds.cpu:.1f} s CPU.",
        "",
        f"`acutance upscale in64.png -m MODEL` (limit {LIMIT_S:g} s with a warm cache):",
        "",
        "| model | empty numba cache: wall median / best, CPU s | after `acutance warm`: wall median / best, CPU s |"
        + (" tree cache: wall median / best, CPU s |" if tree else ""),
        "|---|---|---|" + ("---|" if tree else ""),
    ]
    for row in rows:
        keys = ("empty_cache", "warm_cache", "tree_cache") if tree else ("empty_cache", "warm_cache")
        cells = [f"{row[k]['median_s']:.2f} / {row[k]['best_s']:.2f}, {row[k]['cpu_median_s']:.2f}" for k in keys]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    lines += ["", f"Written by `{payload['command'].strip()}` in {common.ROOT}."]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(json.dumps({"written": str(path)}))


if __name__ == "__main__":
    main()
