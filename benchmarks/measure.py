"""A command measured as a process tree: wall time, CPU time of every process in it, peak
resident memory of the tree, and the stages the command reports as it goes.

Why a tree: `detect --engine spark` starts a JVM, and the JVM outlives the Python process
that waits for it only briefly (or not at all): `wait4()` of the command alone misses its
CPU time and memory. This process makes itself a child subreaper (Linux), so every
descendant that is orphaned comes back to it and is reaped here; its CPU time then lands in
this process's RUSAGE_CHILDREN, whose change over the command is the exact total.

Memory is the sum of the tree's resident sets, sampled every `every` seconds (shared pages,
such as libraries, are counted in each process: an upper bound of that kind, and a floor in
time: a peak shorter than the interval can be missed; the largest process's own ru_maxrss is
a second floor). Stages: a command that prints `LABEL: STAGE (12.3 s)` lines on stderr as
each stage ends (`detect` and `scan` do under TTY_COMPATIBLE=1, see `stage_env`) gets each
stage's wall time as printed, and its CPU time and peak memory from the samples taken over
that time (the line is read when the stage ends, within one interval). Each peak is also
split by kind of process (`kind`): the command itself, a JVM, and the other processes (a
Spark engine's Python workers), to say whose memory a peak is.
"""

from __future__ import annotations

import bisect
import ctypes
import os
import platform
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36
# kcmp(2)'s number on the machines we measure on; elsewhere nothing is taken as shared.
_KCMP = {"x86_64": 312, "aarch64": 272}.get(platform.machine())
_KCMP_VM = 1
_LIBC = ctypes.CDLL(None, use_errno=True)
# A reported stage: "detect: edges: co-repost (52.1 s)" (the label, then the stage).
STAGE_LINE = re.compile(r"(?P<label>[\w-]+): (?P<stage>.+) \((?P<seconds>\d+(?:\.\d+)?) s\)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# How long orphans (a JVM shutting down) may take to end after the command has.
ORPHAN_GRACE_S = 60.0


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage as the command reported it: wall seconds (its own figure), CPU seconds and
    peak tree memory (MiB) sampled between the previous stage's end and its own."""

    name: str
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    # The peak sample's MiB by kind of process (`kind`), largest first.
    peak_parts: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Measured:
    """One command: wall and CPU seconds, peak tree memory (MiB), stages, stdout."""

    argv: tuple[str, ...]
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    stages: tuple[Stage, ...] = field(default=())
    stdout: str = ""
    peak_parts: tuple[tuple[str, float], ...] = ()  # as Stage's


def become_subreaper() -> None:
    """Orphaned descendants come back to this process (and are reaped by `run`)."""
    if _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def stage_env() -> dict[str, str]:
    """The environment under which `detect` and `scan` print each stage's time on a
    redirected stderr (rich takes it for a terminal; a narrow one keeps the log small)."""
    return {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "60"}


def descendants(root: int) -> dict[int, tuple[int, float, str]]:
    """pid -> (resident KiB, CPU seconds of its own, all threads, command name) for every
    process below `root` (not `root` itself), from /proc/*/stat."""
    parent: dict[int, int] = {}
    seen: dict[int, tuple[int, float, str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # ended meanwhile
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        close = stat.rfind(b")")
        fields = stat[close + 2 :].split()
        comm = stat[stat.find(b"(") + 1 : close].decode(errors="replace")
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
        seen[pid] = (int(fields[21]) * PAGE // 1024, cpu, comm)
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, tuple[int, float, str]] = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        kib, cpu, comm = seen[pid]
        if parent[pid] in found and kib and shares_memory(pid, parent[pid]):
            kib = 0  # its parent's pages, already counted (see shares_memory)
        found[pid] = (kib, cpu, comm)
        stack += children.get(pid, [])
    return found


def shares_memory(pid: int, other: int) -> bool:
    """Whether two processes share one address space: a child between posix_spawn's
    clone(CLONE_VM | CLONE_VFORK) and its exec. The JVM starts its helpers that way (a
    Spark run, many times), and /proc shows such a child with the whole JVM's resident
    set: counted twice, one sample of a 5 GB JVM read 10 GB. False where kcmp(2) cannot
    tell (another architecture, no permission, the process gone)."""
    if _KCMP is None:
        return False
    return bool(_LIBC.syscall(_KCMP, pid, other, _KCMP_VM, 0, 0) == 0)


def tree_rss_kib(root: int) -> int:
    """Resident KiB of `root` and every process below it (`descendants`: a child that
    shares its parent's address space counts once)."""
    try:
        with open(f"/proc/{root}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return 0  # ended meanwhile
    own = int(stat[stat.rfind(b")") + 2 :].split()[21]) * PAGE // 1024
    return own + sum(kib for kib, _, _ in descendants(root).values())


def kind(pid: int, comm: str, command: int) -> str:
    """Whose memory a process is: "command" (the command itself: detect's driver),
    "jvm" (Spark's), or "workers" (any other: Spark's Python workers and daemon)."""
    if pid == command:
        return "command"
    return "jvm" if comm == "java" else "workers"


def _parts(kib: Mapping[str, int]) -> tuple[tuple[str, float], ...]:
    """KiB by kind as MiB, largest first."""
    return tuple((k, v / 1024) for k, v in sorted(kib.items(), key=lambda kv: -kv[1]))


class StageReader:
    """Reads a growing stderr log and yields the stage lines completed since last time."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._rest = ""

    def new(self) -> list[tuple[str, float]]:
        try:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        text = self._rest + chunk.decode("utf-8", errors="replace")
        # A progress bar redraws its line with \r: every piece between \r and \n is a line.
        pieces = re.split(r"[\r\n]", text)
        self._rest = pieces.pop()
        found = []
        for piece in pieces:
            match = STAGE_LINE.fullmatch(ANSI.sub("", piece).strip())
            if match:
                found.append((match["stage"], float(match["seconds"])))
        return found


class Samples:
    """The tree's CPU seconds (cumulative) and resident KiB over time, for a stage's share."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.rss_kib: list[int] = []
        self.parts: list[Mapping[str, int]] = []  # each sample's KiB by kind

    def add(
        self, at: float, cpu: float, rss_kib: int, parts: Mapping[str, int] | None = None
    ) -> None:
        self.times.append(at)
        self.cpu.append(cpu)
        self.rss_kib.append(rss_kib)
        self.parts.append(parts or {})

    def cpu_at(self, at: float) -> float:
        """Cumulative CPU seconds at `at`, interpolated between the samples around it."""
        i = bisect.bisect_left(self.times, at)
        if i == 0:
            return self.cpu[0] if self.cpu else 0.0
        if i == len(self.times):
            return self.cpu[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        c0, c1 = self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * (at - t0) / (t1 - t0) if t1 > t0 else c1

    def _peak(self, start: float, end: float) -> int | None:
        """The index of the largest sample in [start, end], or of the last one before it
        if none is in it (a stage shorter than the interval); None without samples."""
        lo = max(0, bisect.bisect_left(self.times, start) - 1)
        hi = bisect.bisect_right(self.times, end)
        if hi <= lo:
            return None
        return max(range(lo, hi), key=self.rss_kib.__getitem__)

    def peak_kib(self, start: float, end: float) -> int:
        """The largest sample in [start, end] (see `_peak`), KiB."""
        at = self._peak(start, end)
        return 0 if at is None else self.rss_kib[at]

    def peak_parts(self, start: float, end: float) -> tuple[tuple[str, float], ...]:
        """That sample's MiB by kind of process, largest first."""
        at = self._peak(start, end)
        return () if at is None else _parts(self.parts[at])

    def stage(self, name: str, seconds: float, ended: float) -> Stage:
        """A stage that ended by `ended` and took `seconds` (as the command reported)."""
        begun = max(0.0, ended - seconds)
        cpu = max(0.0, self.cpu_at(ended) - self.cpu_at(begun))
        peak = self.peak_kib(begun, ended) / 1024
        return Stage(name, seconds, cpu, peak, self.peak_parts(begun, ended))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reap_orphans(deadline: float) -> None:
    """Reap every descendant left (orphans reparented here); kill what outlives `deadline`."""
    me = os.getpid()
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return  # none left
        left = descendants(me)
        if not left:
            return
        if time.monotonic() > deadline:
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.1)


def run(
    argv: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    every: float = 0.2,
) -> Measured:
    """Run a command to its end (stdout to LOG.out, stderr to LOG.err), sampling its
    process tree every `every` seconds; raise SystemExit with its log if it fails. Call
    `become_subreaper` first, and run one command at a time: every descendant of this
    process is taken for the command's."""
    me = os.getpid()
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    reader = StageReader(err_path)
    cpu_seen: dict[int, float] = {}  # pid -> its CPU seconds at its last sample
    samples = Samples()
    stages: list[Stage] = []
    cpu_before = _children_cpu()
    print(f"  $ {shlex.join(argv)}", file=sys.stderr, flush=True)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            now = time.perf_counter() - start
            tree = descendants(me)
            cpu_seen.update({p: cpu for p, (_, cpu, _) in tree.items()})
            parts: dict[str, int] = {}
            for p, (kib, _, comm) in tree.items():
                who = kind(p, comm, proc.pid)
                parts[who] = parts.get(who, 0) + kib
            samples.add(now, sum(cpu_seen.values()), sum(parts.values()), parts)
            for name, seconds in reader.new():
                stages.append(samples.stage(name, seconds, now))
            if pid:
                break
            time.sleep(every)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    _reap_orphans(time.monotonic() + ORPHAN_GRACE_S)
    cpu = _children_cpu() - cpu_before
    if proc.returncode:
        text = err_path.read_text(encoding="utf-8", errors="replace")
        raise SystemExit(f"{shlex.join(argv)} failed ({proc.returncode}):\n{text[-3000:]}")
    # A process that ends between two samples: its own peak (ru_maxrss, KiB) is a floor.
    peak_kib = max(samples.peak_kib(0.0, seconds), usage.ru_maxrss)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    return Measured(
        tuple(argv), seconds, cpu, peak_kib / 1024, tuple(stages), stdout,
        samples.peak_parts(0.0, seconds),
    )  # fmt: skip
