"""Worker lifetime (issue 15, defect 4 / acceptance 5): ``kill -9`` of ``acutance batch -j 2`` (or of a
``--dask local`` run) leaves no process of it alive 5 s later."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acutance.io import write_image
from conftest import REPO_ROOT, smooth_test_image

psutil = pytest.importorskip("psutil", reason="finding the worker processes needs psutil (extra 'distributed')")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="kill -9 is POSIX")


def _images(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        write_image(folder / f"img_{i:03d}.png", smooth_test_image(192, 256, seed=i))
    return folder


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def _kill_running_batch(tmp_path: Path, extra: list[str], workers_wanted: int) -> list[psutil.Process]:
    """Start a batch, wait until its workers are busy (an output is written), kill -9 the driver, and
    return its descendants that are still alive 5 s later."""
    source = _images(tmp_path / "in", 120)  # enough that the run is far from done at the kill
    out = tmp_path / "out"
    command = [sys.executable, "-m", "acutance", "batch", str(source), str(out), "-m", "cas-x2", *extra]
    driver = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent = psutil.Process(driver.pid)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:
            children = _descendants(parent)
            if any(out.glob("*.png")) and len(children) >= workers_wanted:
                break
            time.sleep(0.1)
        assert driver.poll() is None, f"the batch ended before it could be killed: {driver.stderr.read()!r}"
        assert len(children) >= workers_wanted, children
        children = _descendants(parent)  # every process of the run, workers and helpers
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        return _alive(children)
    finally:
        for process in _alive(children):  # never leave a stray process behind us, whatever the result
            process.kill()
        if driver.poll() is None:
            driver.kill()
        driver.stderr.close()


def test_kill_9_of_a_process_pool_batch_leaves_no_worker_alive(tmp_path):
    survivors = _kill_running_batch(tmp_path, ["-j", "2"], workers_wanted=2)
    assert not survivors, [(p.pid, p.cmdline()) for p in survivors]


def test_kill_9_of_a_local_dask_batch_leaves_no_worker_alive(tmp_path):
    pytest.importorskip("distributed", reason="the Dask test needs the 'distributed' extra")
    survivors = _kill_running_batch(tmp_path, ["--dask", "local", "-j", "2"], workers_wanted=2)
    assert not survivors, [(p.pid, p.cmdline()) for p in survivors]


def test_exit_with_parent_ends_an_orphan(tmp_path):
    """The watchdog alone (no prctl): a grandchild whose parent exits notices and exits."""
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import os, time; from acutance.batch import lifetime; "
        "lifetime._parent_death_signal = lambda signum: False; "
        "lifetime.exit_with_parent(os.getppid()); time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(1.5)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    orphan = psutil.Process(int(run.stdout.split()[0])) if psutil.pid_exists(int(run.stdout.split()[0])) else None
    try:
        deadline = time.monotonic() + 5
        while orphan is not None and _alive([orphan]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert orphan is None or not _alive([orphan])
    finally:
        if orphan is not None and _alive([orphan]):
            orphan.kill()
