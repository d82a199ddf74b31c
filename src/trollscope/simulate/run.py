"""Write a simulated data set: canonical Parquet, labels, and the real formats.

The canonical posts are generated a day at a time and streamed to `posts.parquet`; the
real-format files are then written from that Parquet file in batches, so memory stays
bounded by a day of posts (plus the accounts) whatever the size of the data set.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trollscope.batches import BatchBuilder
from trollscope.model import ACCOUNTS_SCHEMA, POSTS_SCHEMA, Account, Kind, Post
from trollscope.simulate.activity import Activity
from trollscope.simulate.config import SimulationConfig
from trollscope.simulate.population import COMMUNITY, FARM, Population, build
from trollscope.writers import writer

# Real formats the simulator writes, and their file names.
FORMAT_FILES = {"twarc2": "twarc2.jsonl", "io-tweets": "io_tweets.csv"}
READ_BATCH = 50_000

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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    pop = build(cfg, rng)
    result = SimulationResult(out_dir=str(out), accounts=len(pop.accounts))
    result.farm_members = int((pop.role == FARM).sum())
    result.community_members = int((pop.role == COMMUNITY).sum())

    _write_accounts(out / "accounts.parquet", pop.accounts)
    _write_labels(out / "labels.csv", pop)
    activity = Activity(cfg, pop, rng)
    with pq.ParquetWriter(out / "posts.parquet", POSTS_SCHEMA, compression="zstd") as sink:
        for d in range(cfg.days):
            posts, stats = activity.day(d)
            builder = BatchBuilder(chunk_size=len(posts) + 1)
            for post in posts:
                builder.add_post(post)
            sink.write_table(builder.take().posts)
            result.posts += stats.posts
            result.cascade_sizes += stats.cascade_sizes
            if progress:
                progress(stats.posts)
    result.files = ["posts.parquet", "accounts.parquet", "labels.csv"]
    profiles = {a.account_id: a for a in pop.accounts}
    for fmt in formats:
        writer(fmt).write(out / FORMAT_FILES[fmt], read_posts(out / "posts.parquet"), profiles)
        result.files.append(FORMAT_FILES[fmt])
    # No paths or clock times in the manifest: the same seed must give the same bytes.
    summary = {k: v for k, v in result.as_dict().items() if k != "out_dir"}
    manifest = {"config": _config_json(cfg), "result": summary}
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8"
    )
    result.files.append("manifest.json")
    return result


def read_posts(path: Path) -> Iterator[Post]:
    """Canonical posts back from a Parquet file, one batch in memory at a time."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH):
        for row in batch.to_pylist():
            row["kind"] = Kind(row["kind"])
            for name in ("hashtags", "urls", "mentions", "media", "domains"):
                row[name] = row[name] or []
            yield Post(**row)


def read_accounts(path: Path) -> list[Account]:
    return [Account(**row) for row in pq.read_table(path).to_pylist()]


def _write_accounts(path: Path, accounts: list[Account]) -> None:
    builder = BatchBuilder(chunk_size=len(accounts) + 1)
    for account in accounts:
        builder.add_account(account, is_record=True)
    table: pa.Table = builder.take().accounts
    pq.write_table(table.cast(ACCOUNTS_SCHEMA), path, compression="zstd")


def _write_labels(path: Path, pop: Population) -> None:
    """account_id, farm_id (empty for organic), community_id (empty unless a member)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(("account_id", "farm_id", "community_id"))
        for i, account in enumerate(pop.accounts):
            farm = f"farm{int(pop.farm[i]) + 1}" if pop.farm[i] >= 0 else ""
            community = f"community{int(pop.community[i]) + 1}" if pop.community[i] >= 0 else ""
            out.writerow((account.account_id, farm, community))


def _config_json(cfg: SimulationConfig) -> dict[str, Any]:
    data = asdict(cfg)
    data["start"] = cfg.start.isoformat()
    return data
