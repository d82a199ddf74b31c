"""benchmarks/measure.py: a command measured as a process tree (what benchmarks/scale.py
times `detect --engine spark` with, whose JVM the Python process does not wait for)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from benchmarks import measure
from benchmarks.measure import Samples, StageReader, descendants, kind, shares_memory

# A command whose CPU time is partly an orphan's (a grandchild whose parent ends at once,
# as a JVM outliving its launcher), which holds 200 MiB resident, and which reports two
# stages through a progress bar's redraws: the first burns CPU, the second sleeps.
COMMAND = r"""
import os, sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
done, told = os.pipe()
if os.fork() == 0:
    if os.fork() == 0:
        burn(0.6)
        os.write(told, b"x")
        os._exit(0)
    os._exit(0)
os.wait()
os.read(done, 1)  # the orphan has burnt its share: the stages below are this process's
start = time.perf_counter()
burn(0.4)
block = bytearray(200 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
took = time.perf_counter() - start
sys.stderr.write(f"demo: bar\r\x1b[2Kdemo: first ({took:.2f} s)\r\x1b[2Kdemo: bar")
sys.stderr.flush()
time.sleep(0.5)
sys.stderr.write("\r\x1b[2Kdemo: second: part (0.5 s)\n")
"""

# Run in a process of its own: a subreaper is for the rest of the process's life.
MEASURE = """
import json, sys
from dataclasses import asdict
from pathlib import Path
from benchmarks.measure import become_subreaper, run
become_subreaper()
m = run([sys.executable, "-c", sys.argv[1]], Path(sys.argv[2]), every=0.05)
print(json.dumps(asdict(m)))
"""


def test_a_process_tree_is_measured_orphans_included(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, COMMAND, str(tmp_path / "demo.log")],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    )
    m = json.loads(done.stdout.strip().splitlines()[-1])
    assert m["cpu_seconds"] >= 0.95  # the orphan's 0.6 s (reaped here) and 0.4 s
    assert 200 <= m["peak_rss_mib"] < 400
    assert 1.0 <= m["seconds"] < 60  # a busy machine stretches it
    assert [s["name"] for s in m["stages"]] == ["first", "second: part"]
    # The first stage burns CPU and holds the block; the second only sleeps.
    first, second = m["stages"]
    assert first["seconds"] >= 0.4 and second["seconds"] == 0.5
    assert first["cpu_seconds"] >= 0.25 and second["cpu_seconds"] < 0.2
    assert first["peak_rss_mib"] >= 200


def test_stage_lines_split_across_reads(tmp_path: Path) -> None:
    log = tmp_path / "x.err"
    reader = StageReader(log)
    assert reader.new() == []  # not written yet
    log.write_bytes(b"detect: edges: co-link (1")
    assert reader.new() == []
    with log.open("ab") as handle:
        handle.write(b"2.5 s)\r\x1b[2Kdetect \x1b[90m-- 3/25 stages\x1b[0m\r")
    assert reader.new() == [("edges: co-link", 12.5)]


def test_a_stage_gets_the_cpu_of_its_own_time() -> None:
    samples = Samples()
    for at, cpu, rss in ((0.0, 0.0, 10), (1.0, 2.0, 50), (2.0, 2.0, 30), (3.0, 5.0, 20)):
        samples.add(at, cpu, rss)
    stage = samples.stage("x", 1.5, 3.0)  # from 1.5 s to 3.0 s
    assert stage.cpu_seconds == 3.0
    assert stage.peak_rss_mib == 50 / 1024  # the sample at 1.0 s held on until 2.0 s


def test_a_stage_peak_is_split_by_the_processes_of_its_peak_sample() -> None:
    """The split is that of the sample that holds the peak, not each kind's own peak."""
    samples = Samples()
    samples.add(0.0, 0.0, 30, {"command": 10, "jvm": 20})
    samples.add(1.0, 1.0, 60, {"command": 40, "jvm": 15, "workers": 5})
    samples.add(2.0, 2.0, 50, {"jvm": 50})
    stage = samples.stage("x", 2.0, 2.0)
    assert stage.peak_rss_mib == 60 / 1024
    assert stage.peak_parts == (("command", 40 / 1024), ("jvm", 15 / 1024), ("workers", 5 / 1024))


def test_processes_are_the_command_a_jvm_or_workers() -> None:
    assert kind(7, "trollscope", 7) == "command"
    assert kind(8, "java", 7) == "jvm"
    assert kind(9, "python3", 7) == "workers"


def test_a_thread_shares_its_process_memory_and_a_fork_does_not() -> None:
    """kcmp(2) tells one address space from two: a thread's (as a child between
    posix_spawn's clone and its exec) from a forked child's."""
    ready, done = threading.Event(), threading.Event()
    native: list[int] = []

    def wait() -> None:
        native.append(threading.get_native_id())
        ready.set()
        done.wait(10)

    thread = threading.Thread(target=wait)
    thread.start()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(10)"])
    try:
        ready.wait(10)
        assert shares_memory(os.getpid(), native[0])
        assert not shares_memory(os.getpid(), child.pid)
    finally:
        done.set()
        thread.join()
        child.kill()
        child.wait()


def test_a_child_that_shares_its_parents_memory_counts_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a process below another of the tree is asked (the command's own memory is
    never dropped), and it then counts 0 KiB: its pages are its parent's. The tree is
    root -> command -> sleep, measured from root (this test process may have other
    children: a test session's JVM)."""
    inner = "import subprocess; subprocess.run(['sleep', '10'])"
    root = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {inner!r}])",
        ]
    )
    try:
        for _ in range(200):
            tree = descendants(root.pid)
            if len(tree) == 2:
                break
            time.sleep(0.05)
        sleeper = next(pid for pid, (_, _, comm) in tree.items() if comm == "sleep")
        command = next(pid for pid in tree if pid != sleeper)
        asked: list[tuple[int, int]] = []

        def shared(pid: int, other: int) -> bool:
            asked.append((pid, other))
            return True

        monkeypatch.setattr(measure, "shares_memory", shared)
        tree = descendants(root.pid)
        assert asked == [(sleeper, command)]
        assert tree[sleeper][0] == 0 and tree[command][0] > 0
    finally:
        for pid in descendants(root.pid):
            os.kill(pid, signal.SIGKILL)
        root.kill()
        root.wait()
