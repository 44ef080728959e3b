"""Run a batch: serially, on a local process pool or on a Dask cluster, with the same results.

The driver (this process) plans the work, skips outputs that are already complete, reads each input,
hands its bytes to an executor, and writes each returned result atomically. Only a bounded number of
images is in flight at a time, so memory stays flat however large the folder.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from acutance.batch.plan import FILE_FORMATS, BatchOptions, Record, Task, expected_size, is_complete, plan
from acutance.batch.plan import remove_stale_temps
from acutance.batch.worker import EncodeOptions, WorkResult, process_bytes
from acutance.errors import AcutanceError, ImageWriteError
from acutance.limits import current as current_limits

MANIFEST_FIELDS = ("input", "output", "model", "seconds", "status", "message")


@dataclass
class BatchSummary:
    records: list[Record]
    manifest: Path
    seconds: float

    def count(self, status: str) -> int:
        return sum(record.status == status for record in self.records)

    @property
    def exit_code(self) -> int:
        return 1 if self.count("failed") else 0


def resolve_options(options: BatchOptions) -> EncodeOptions:
    """Check the model and scale before any work (without loading the model)."""
    from acutance.models.registry import model_info
    from acutance.pipeline import resolve_scale

    info = model_info(options.model)
    scale = resolve_scale(SimpleNamespace(info=info), options.scale)  # only .info is consulted
    parallel = options.dask is not None or options.workers > 1  # then one compute thread per image
    threads = 1 if parallel else None
    return EncodeOptions(options.model, scale, options.tile, options.bit_depth, options.quality, threads,
                         limits=current_limits(), first_frame=options.first_frame)  # fmt: skip


def run_batch(
    in_dir: Path, out_dir: Path, options: BatchOptions, *, warn: Callable[[str], None] | None = None
) -> BatchSummary:
    """Process every image of ``in_dir`` into ``out_dir``; returns the records (also in the manifest)."""
    warn = warn or (lambda line: print(line, file=sys.stderr))
    start = time.perf_counter()
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    encode = resolve_options(options)
    tasks, skipped = plan(in_dir, out_dir, options)
    records: dict[Task, Record] = {}
    ignored = []
    for path in skipped:
        warn(f"acutance: warning: skipping {path}: not an image")
        ignored.append(Record(str(path), "", options.model, status="ignored", message="not an image"))
    todo: list[Task] = []
    taken: dict[Path, Path] = {}
    for task in tasks:
        record = records[task] = Record(str(task.source), str(task.target), options.model)
        if task.target in taken:  # e.g. a.png and a.jpg with --format png
            _fail(record, f"output {task.target} would also be written from {taken[task.target]}", warn)
            continue
        taken[task.target] = task.source
        remove_stale_temps(task.target)
        if task.target.exists() and not options.overwrite:
            if is_complete(task.target, expected_size(task.source, encode.scale)):
                record.status, record.message = "skipped", "already complete"
            else:
                _fail(record, f"{task.target} exists but is not a complete output; pass --overwrite", warn)
            continue
        todo.append(task)
    executor = _executor(options)  # connect first: an unreachable cluster writes nothing
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        executor.__exit__(None, None, None)
        raise ImageWriteError(f"cannot create {out_dir}: {error.strerror or error}") from None
    manifest = options.manifest or out_dir / "manifest.csv"
    try:
        with executor:
            _run(todo, records, encode, options, executor, warn)
    finally:  # also on Ctrl-C: what was done is recorded, the rest stays 'pending'
        rows = ignored + [records[task] for task in tasks]
        rows.sort(key=lambda r: r.input)
        write_manifest(manifest, rows)
    return BatchSummary(rows, manifest, time.perf_counter() - start)


def _fail(record: Record, message: str, warn: Callable[[str], None]) -> None:
    record.status, record.message = "failed", message
    warn(f"acutance: error: {message}" if record.input in message else f"acutance: error: {record.input}: {message}")


def _run(todo: list[Task], records: dict[Task, Record], encode: EncodeOptions, options: BatchOptions,
         executor: "_Executor", warn: Callable[[str], None]) -> None:  # fmt: skip
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="image", desc=options.model, disable=None if options.progress else True,
               file=sys.stderr)  # fmt: skip
    say = lambda line: bar.write(line, file=sys.stderr)  # noqa: E731 - keeps the bar intact
    pending = iter(todo)
    in_flight: dict[Any, Task] = {}
    try:
        while True:
            while len(in_flight) < executor.window:
                task = next(pending, None)
                if task is None:
                    break
                try:
                    data = task.source.read_bytes()
                except OSError as error:  # recorded; the others go on
                    _fail(records[task], f"cannot read {task.source}: {error.strerror or error}", say)
                    bar.update()
                    continue
                file_format = FILE_FORMATS[task.target.suffix.lower()]
                try:
                    future = executor.submit(process_bytes, data, str(task.source), file_format, encode)
                except Exception as error:  # e.g. a process pool broken by a crashed worker: report, go on
                    _fail(records[task], f"cannot run: {type(error).__name__}: {error}", say)
                    bar.update()
                    continue
                in_flight[future] = task
            if not in_flight:
                break
            for future in executor.wait_any(list(in_flight)):
                task = in_flight.pop(future)
                _finish(task, future, records[task], options, say)
                bar.update()
    finally:
        bar.close()


def _finish(task: Task, future, record: Record, options: BatchOptions, warn: Callable[[str], None]) -> None:
    try:
        result: WorkResult = future.result()
    except AcutanceError as error:
        _fail(record, str(error), warn)
        return
    except Exception as error:  # a worker crashed or lost: this image fails, the others go on
        _fail(record, f"{type(error).__name__}: {error}", warn)
        return
    try:
        from acutance.io import atomic_write_bytes

        task.target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(task.target, result.data, overwrite=options.overwrite)
    except AcutanceError as error:
        _fail(record, str(error), warn)
        return
    except OSError as error:
        _fail(record, f"cannot write {task.target}: {error.strerror or error}", warn)
        return
    record.status, record.seconds = "done", round(result.seconds, 4)
    record.worker, record.model_loads = result.worker, result.model_loads
    record.message = "; ".join(result.notices)
    for notice in result.notices:
        warn(f"acutance: warning: {notice}")


# ------------------------------------------------------------------------------------------- executors


class _Executor:
    """submit(fn, *args) -> future; wait_any(futures) -> the finished ones; window: images in flight."""

    window = 1

    def __enter__(self) -> "_Executor":
        return self

    def __exit__(self, *exc) -> None:
        pass


class _Serial(_Executor):
    class _Done:
        def __init__(self, fn, args):
            try:
                self._value, self._error = fn(*args), None
            except Exception as error:
                self._value, self._error = None, error

        def result(self):
            if self._error is not None:
                raise self._error
            return self._value

    def submit(self, fn, *args):
        return self._Done(fn, args)

    def wait_any(self, futures):
        return futures


class _Pool(_Executor):
    def __init__(self, workers: int):
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        from acutance.batch.lifetime import exit_with_parent

        # spawn: a fresh interpreter per worker, safe with the numba and BLAS threads of this process.
        # exit_with_parent: a driver killed with kill -9 takes its workers with it.
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(workers, mp_context=context, initializer=exit_with_parent,
                                        initargs=(os.getpid(),))  # fmt: skip
        self.window = 2 * workers

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def wait_any(self, futures):
        from concurrent.futures import wait

        return wait(futures, return_when=FIRST_COMPLETED).done

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask(_Executor):
    def __init__(self, address: str, workers: int, timeout: float):
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:
            raise AcutanceError(f"--dask needs the 'distributed' extra (pip install 'acutance[distributed]'): {error}")
        self.cluster = None
        try:
            if address == "local":
                # The preload makes each worker process exit with this one (acutance.batch.lifetime).
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, preload=["acutance.batch.lifetime"])  # fmt: skip
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as error:
            if self.cluster is not None:
                self.cluster.close()
            raise AcutanceError(f"cannot connect to the Dask scheduler at {address}: {error}") from None
        threads = sum(self.client.nthreads().values()) or 1
        self.window = 2 * threads

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def wait_any(self, futures):
        from distributed import wait

        return wait(futures, return_when="FIRST_COMPLETED").done

    def __exit__(self, *exc) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _executor(options: BatchOptions) -> _Executor:
    if options.dask:
        return _Dask(options.dask, options.workers, options.dask_timeout)
    if options.workers > 1:
        return _Pool(options.workers)
    return _Serial()


# -------------------------------------------------------------------------------------------- manifest


def write_manifest(path: Path, records: list[Record]) -> Path:
    """CSV (or JSON if ``path`` ends in .json) with input, output, model, seconds, status, message."""
    from acutance.io import atomic_write_bytes

    rows = [{key: value for key, value in asdict(record).items() if key in MANIFEST_FIELDS} for record in records]
    if path.suffix.lower() == ".json":
        text = json.dumps(rows, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=True)
