"""Write a simulated data set: canonical Parquet, labels, and the real formats.

The canonical posts are generated a day at a time and streamed to `posts.parquet`; the
real-format files are then written from that Parquet file in batches, so memory stays
bounded by a day of posts (plus the accounts) whatever the size of the data set. With
several formats and cores, each format is written by its own process.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, fields
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trollscope.errors import writing
from trollscope.ingest.batches import BatchBuilder
from trollscope.ingest.writers import WRITERS
from trollscope.model import ACCOUNTS_SCHEMA, POSTS_SCHEMA, Account, Kind, Post
from trollscope.simulate.activity import Activity
from trollscope.simulate.config import HARD_CASE_DEFAULTS, SimulationConfig
from trollscope.simulate.population import COMMUNITY, FARM, Population, build

# Real formats the simulator writes, and their file names.
FORMAT_FILES = {"twarc2": "twarc2.jsonl", "io-tweets": "io_tweets.csv"}
READ_BATCH = 50_000
# The last line of a child's traceback when the system refused a write ("OSError: [Errno
# 28] No space left on device").
_CHILD_OS_ERROR = re.compile(r"\w*Error: \[Errno (\d+)\]")
_POST_FIELDS = tuple(f.name for f in fields(Post))
_LIST_FIELDS = frozenset(("hashtags", "urls", "mentions", "media", "domains"))
_KINDS = {k.value: k for k in Kind}

Progress = Callable[[int], None]
"""Called with the number of posts just written."""


@dataclass(slots=True)
class SimulationResult:
    out_dir: str
    posts: int = 0
    accounts: int = 0
    farm_members: int = 0
    community_members: int = 0
    cascade_sizes: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # Posts made before a campaign collection's sample (equal to `posts` otherwise), posts
    # by farm members (written), and the accounts taking part in each hard case.
    generated_posts: int = 0
    farm_posts: int = 0
    news_shock_sizes: list[int] = field(default_factory=list)
    copy_chain_sizes: list[int] = field(default_factory=list)
    live_event_sizes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Result fields added with the hard cases: a manifest holds them only when a hard-case knob
# is set, so that data sets made without them keep their manifest's bytes.
_HARD_CASE_RESULTS = (
    "generated_posts",
    "farm_posts",
    "news_shock_sizes",
    "copy_chain_sizes",
    "live_event_sizes",
)


def simulate(
    cfg: SimulationConfig,
    out_dir: Path | str,
    *,
    formats: tuple[str, ...] = tuple(FORMAT_FILES),
    progress: Progress | None = None,
) -> SimulationResult:
    """Generate the data set of `cfg` into `out_dir` (created if missing)."""
    unknown = [f for f in formats if f not in FORMAT_FILES]
    if unknown:
        raise ValueError(f"cannot simulate format(s) {unknown}; choose from {sorted(FORMAT_FILES)}")
    out = Path(out_dir)
    # Only files are written in these blocks: an OS error is the folder's (a full disk).
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
    with _gc_paused(), writing(out):
        result = _canonical(cfg, out, progress)
        _write_formats(out, formats)
    result.files += [FORMAT_FILES[fmt] for fmt in formats]
    # No paths or clock times in the manifest: the same seed must give the same bytes.
    summary = {k: v for k, v in result.as_dict().items() if k != "out_dir"}
    if not cfg.has_hard_cases:
        summary = {k: v for k, v in summary.items() if k not in _HARD_CASE_RESULTS}
    manifest = {"config": _config_json(cfg), "result": summary}
    with writing(out / "manifest.json"):
        (out / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8"
        )
    result.files.append("manifest.json")
    return result


def _canonical(cfg: SimulationConfig, out: Path, progress: Progress | None) -> SimulationResult:
    """posts.parquet, accounts.parquet and labels.csv. Accounts and labels are written
    after the posts: a campaign collection lists only the accounts its sample holds."""
    rng = np.random.default_rng(cfg.seed)
    pop = build(cfg, rng)
    result = SimulationResult(out_dir=str(out))
    activity = Activity(cfg, pop, rng)
    with pq.ParquetWriter(out / "posts.parquet", POSTS_SCHEMA, compression="zstd") as sink:
        for d in range(cfg.days):
            posts, stats = activity.day(d)
            sink.write_table(_posts_table(posts))
            result.posts += stats.posts
            result.generated_posts += stats.generated
            result.farm_posts += stats.farm_posts
            result.cascade_sizes += stats.cascade_sizes
            result.news_shock_sizes += stats.news_shock_sizes
            result.copy_chain_sizes += stats.copy_chain_sizes
            result.live_event_sizes += stats.live_event_sizes
            if progress:
                progress(stats.posts)
    # Every account, or (campaign collection) those that author a written post: the
    # accounts such a data set holds.
    keep = activity.appearing if activity.campaign else np.ones(len(pop.accounts), dtype=bool)
    result.accounts = int(keep.sum())
    result.farm_members = int(((pop.role == FARM) & keep).sum())
    result.community_members = int(((pop.role == COMMUNITY) & keep).sum())
    _write_accounts(
        out / "accounts.parquet", [a for a, k in zip(pop.accounts, keep, strict=True) if k]
    )
    _write_labels(out / "labels.csv", pop, keep)
    result.files = ["posts.parquet", "accounts.parquet", "labels.csv"]
    return result


def _write_formats(out: Path, formats: tuple[str, ...]) -> None:
    """Each format from posts.parquet. Writers are pure Python, bound to one core by the
    GIL: with several formats and cores, all but the first are written by child processes
    while this one writes the first. Children are plain `python -m` runs, not
    multiprocessing workers, which would re-run a calling script's unguarded code."""
    if not formats:
        return
    parallel = list(formats[1:]) if (os.cpu_count() or 1) > 1 else []
    with ExitStack() as stack:
        children: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []
        for fmt in parallel:
            # stderr to a temporary file, not a pipe: a full pipe would stall the child.
            log = stack.enter_context(tempfile.TemporaryFile())
            parent = str(os.getpid())  # the child ends with this process (worker.py)
            command = [sys.executable, "-m", "trollscope.simulate.worker", str(out), fmt, parent]
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            stack.callback(_stop, child)
            children.append((fmt, child, log))
        for fmt in formats:
            if fmt not in parallel:
                write_format(out, fmt)
        for fmt, child, output in children:
            if child.wait() != 0:
                output.seek(0)
                tail = output.read().decode("utf-8", "replace").strip().splitlines()[-5:]
                if tail and (refused := _CHILD_OS_ERROR.match(tail[-1])):
                    # The child's last line is its error: a full disk says so in words.
                    code = int(refused.group(1))
                    raise OSError(code, os.strerror(code), str(out / FORMAT_FILES[fmt]))
                raise RuntimeError(
                    f"writing {out / FORMAT_FILES[fmt]} failed (exit {child.returncode}): "
                    + " | ".join(tail)
                )


def _stop(child: subprocess.Popen[bytes]) -> None:
    """End a child still running (when writing another format failed)."""
    if child.poll() is None:
        child.kill()
        child.wait()


def write_format(out: Path, fmt: str) -> None:
    """One real-format file of a simulated data set from its canonical Parquet files."""
    with _gc_paused():
        profiles = {a.account_id: a for a in read_accounts(out / "accounts.parquet")}
        WRITERS[fmt].write(out / FORMAT_FILES[fmt], read_posts(out / "posts.parquet"), profiles)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, then restore it. The simulator makes millions
    of short-lived objects that form no cycles (reference counting frees them); the
    collector's repeated passes over them took a third of the run time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_posts(path: Path) -> Iterator[Post]:
    """Canonical posts back from a Parquet file, one batch in memory at a time."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH):
        # Column by column: one `to_pylist` per column and a zip over the rows is several
        # times faster than a dict per row. numpy turns the times into datetimes in C.
        columns: list[list[Any]] = []
        for name in _POST_FIELDS:
            column = batch.column(name)
            if name == "created_at":
                columns.append(column.to_numpy().tolist())
            elif name == "kind":
                columns.append([_KINDS[k] for k in column.to_pylist()])
            elif name in _LIST_FIELDS:
                columns.append([[] if v is None else v for v in column.to_pylist()])
            else:
                columns.append(column.to_pylist())
        for values in zip(*columns, strict=True):
            yield Post(*values)


def read_accounts(path: Path) -> list[Account]:
    return [Account(**row) for row in pq.read_table(path).to_pylist()]


def _posts_table(posts: list[Post]) -> pa.Table:
    """The day's posts as an Arrow table, a column at a time (map with attrgetter runs in
    C; a row-wise BatchBuilder costs a Python call per post)."""
    columns = [pa.array(list(map(attrgetter(f.name), posts)), type=f.type) for f in POSTS_SCHEMA]
    return pa.Table.from_arrays(columns, schema=POSTS_SCHEMA)


def _write_accounts(path: Path, accounts: list[Account]) -> None:
    builder = BatchBuilder(chunk_size=len(accounts) + 1)
    for account in accounts:
        builder.add_account(account, is_record=True)
    table: pa.Table = builder.take().accounts
    pq.write_table(table.cast(ACCOUNTS_SCHEMA), path, compression="zstd")


def _write_labels(path: Path, pop: Population, keep: np.ndarray) -> None:
    """account_id, farm_id (empty for organic), community_id (empty unless a member), for
    the accounts marked in `keep`."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(("account_id", "farm_id", "community_id"))
        for i, account in enumerate(pop.accounts):
            if not keep[i]:
                continue
            farm = f"farm{int(pop.farm[i]) + 1}" if pop.farm[i] >= 0 else ""
            community = f"community{int(pop.community[i]) + 1}" if pop.community[i] >= 0 else ""
            out.writerow((account.account_id, farm, community))


def _config_json(cfg: SimulationConfig) -> dict[str, Any]:
    data = asdict(cfg)
    data["start"] = cfg.start.isoformat()
    if not cfg.has_hard_cases:
        for name in HARD_CASE_DEFAULTS:
            del data[name]
    return data
