"""Worker processes that end with their parent.

A parent killed with SIGKILL (or by the out-of-memory killer) runs no clean-up, and its
pool's workers, waiting for their next task on a pipe that other workers keep open, lived
on: about 158 MB each, measured, until someone killed them by hand. So each worker asks
to end with its parent, first thing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# How often a worker without prctl looks whether its parent is still there.
POLL_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """In a worker process (a pool's initializer): end it when `parent` dies, the pid of
    the process that started it, taken there before the worker was started.

    On Linux the kernel kills the worker when its parent ends (prctl PR_SET_PDEATHSIG,
    strictly: when the parent's thread that started it ends; a pool started for one read
    lives in that read's thread). Elsewhere a daemon thread ends the worker once it has
    been adopted, its parent pid changed. Either way, a parent that died before this ran
    has already left the worker adopted: it ends at once."""
    if not _ask_kernel():
        threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _ask_kernel() -> bool:
    """Ask Linux to SIGKILL this process when its parent ends; whether it agreed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)) == 0
    except (OSError, AttributeError):  # no C library to load, or no prctl in it
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)
