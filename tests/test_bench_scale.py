"""benchmarks/measure.py: a command measured as a process tree (what benchmarks/scale.py
times `detect --engine spark` with, whose JVM the Python process does not wait for)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.measure import Samples, StageReader

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
