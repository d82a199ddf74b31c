"""Worker processes of an ingest end with it, even when it is killed with SIGKILL (which
runs no clean-up): a worker waiting for its next task would otherwise live on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA
from trollscope.ingest import workers

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="ingest uses worker processes only on Linux"
)

# A real `trollscope ingest`, with the thresholds lowered so that a small file goes to two
# workers in many ranges, and each range held a moment so that the workers are still
# there when the ingest is killed.
INGEST = """
import sys, time
from trollscope.ingest.readers import jsonfile
jsonfile._workers = lambda size: 2
jsonfile.BLOCK_BYTES = 1 << 14
parse_range = jsonfile.parse_range
def held(*args):
    time.sleep(0.5)
    return parse_range(*args)
jsonfile.parse_range = held
from trollscope.cli import cli
cli(["ingest", sys.argv[1], "--into", sys.argv[2], "--hide-progress"])
"""


def _children(parent: int) -> set[int]:
    """The processes whose parent is `parent`, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie (ended, not yet reaped by whoever adopted it) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def tweets(tmp_path: Path) -> Path:
    """About 600 KiB of twarc2 lines (the fixture's tweets under new ids): ~40 ranges."""
    lines = (DATA / "twarc2" / "flattened.jsonl").read_text(encoding="utf-8").splitlines()
    out = tmp_path / "tweets.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        for copy in range(200):
            for line in lines:
                handle.write(line.replace('"id": "15871', f'"id": "{copy + 100}') + "\n")
    return out


@pytest.fixture
def reaped() -> Iterator[list[int]]:
    """Processes a test started and must not leave behind, killed at its end if alive."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_workers_end_when_the_ingest_is_killed(
    tweets: Path, tmp_path: Path, reaped: list[int]
) -> None:
    ingest = subprocess.Popen(
        [sys.executable, "-c", INGEST, str(tweets), str(tmp_path / "case.duckdb")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    reaped.append(ingest.pid)
    deadline = time.monotonic() + 60
    found: set[int] = set()
    while len(found) < 2:
        assert ingest.poll() is None, ingest.stderr.read() if ingest.stderr else ""
        assert time.monotonic() < deadline, "the ingest started no workers"
        found = _children(ingest.pid)
        time.sleep(0.02)
    reaped.extend(found)
    ingest.send_signal(signal.SIGKILL)
    ingest.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in found) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in found if _alive(pid)], "workers outlived the killed ingest"


def test_a_worker_whose_parent_died_before_it_asked_ends_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parent can die between the fork and the request to the kernel: the worker has
    then been adopted already (its parent pid is not the one passed in) and must end."""
    ended: list[int] = []
    monkeypatch.setattr(workers, "_ask_kernel", lambda: True)  # not this test process's
    monkeypatch.setattr(workers.os, "_exit", ended.append)
    workers.die_with_parent(os.getppid() + 1 if os.getppid() != 1 else 2)
    assert ended == [1]


def test_without_prctl_a_thread_watches_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel cannot be asked (no prctl), a daemon thread polls the parent's
    pid and ends the worker when it changes (the worker was adopted)."""
    parent = [os.getppid()]
    ended = threading.Event()
    monkeypatch.setattr(workers, "_ask_kernel", lambda: False)
    monkeypatch.setattr(workers, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(workers.os, "getppid", lambda: parent[0])
    monkeypatch.setattr(workers.os, "_exit", lambda code: ended.set())
    workers.die_with_parent(parent[0])
    assert not ended.wait(0.1)
    parent[0] = 1  # adopted: the parent died
    assert ended.wait(2)
