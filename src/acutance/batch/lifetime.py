"""Worker processes that end when the process that started them ends, however it ends.

A ``kill -9`` of ``acutance batch`` gives its pool workers no chance to be told: each sits blocked on its
task queue, holding its model, for as long as nobody kills it. So every worker we start calls
:func:`exit_with_parent` first:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill the worker the moment its parent
  dies (workers hold nothing to flush: the driver writes every output);
* everywhere, a daemon thread polls ``os.getppid()`` and exits when the parent has changed (re-parented to
  init or a subreaper), which also covers a parent that died before the ``prctl`` call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_SECONDS = 0.5
_watching = False


def exit_with_parent(parent_pid: int | None = None) -> None:
    """Make this process exit when ``parent_pid`` (default: the current parent) is no longer its parent."""
    global _watching
    parent = os.getppid() if parent_pid is None else parent_pid
    if sys.platform.startswith("linux"):
        _parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before we asked (or before this process started)
        os._exit(1)
    if not _watching:  # one watchdog per process, however often a pool's initializer runs
        _watching = True
        threading.Thread(target=_watch, args=(parent,), name="acutance-parent-watchdog", daemon=True).start()


def _parent_death_signal(signum: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, signum)``; False where libc or the call is not available."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    event = threading.Event()
    while not event.wait(POLL_SECONDS):
        if os.getppid() != parent:
            os._exit(1)


def dask_setup(worker) -> None:  # noqa: ARG001 - the signature Dask's preload calls
    """Dask preload hook (``LocalCluster(preload=["acutance.batch.lifetime"])``): a worker of a local cluster
    that we started exits with the process that started it."""
    exit_with_parent()
