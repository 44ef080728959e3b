"""Run per-file jobs in worker processes (or in this one), with a progress bar.

Every job carries its own seed key, so results never depend on the number of workers or their timing.
Workers are spawned (not forked: OpenCV's and numba's thread pools do not survive a fork) and use one
OpenCV thread each, so N workers use N cores.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from acutance.errors import OptionError


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise OptionError(f"--workers must be a positive integer, got {workers!r}")
    return workers


def run_jobs(
    function: Callable[[Any], Any], jobs: Iterable[Any], *, workers: int = 1, desc: str = "", unit: str = "image",
    total: int | None = None, progress: bool = True,
) -> Iterator[Any]:
    """Yield ``function(job)`` for every job, in completion order (callers sort what they collect)."""
    from tqdm import tqdm

    jobs = list(jobs)
    bar = tqdm(total=total or len(jobs), unit=unit, desc=desc, disable=None if progress else True, file=sys.stderr)
    try:
        if check_workers(workers) == 1 or len(jobs) <= 1:
            for job in jobs:
                yield function(job)
                bar.update(1)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
            futures = [pool.submit(function, job) for job in jobs]
            try:
                for future in as_completed(futures):
                    yield future.result()
                    bar.update(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        bar.close()
