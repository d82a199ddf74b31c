"""Ingest speed, side by side: trollscope against coordination-network-toolkit (CNT) 1.5.2.

Generates N posts (seeded: the same N gives the same files) and writes them with
trollscope's own writers as CNT's CSV and as twarc2 flattened JSON lines, installs CNT
1.5.2 from PyPI into its own virtual environment, then times, each into a fresh database:

- `trollscope ingest` of the CNT CSV,
- CNT's `compute_networks DB preprocess --format csv` of the same CSV (the peer),
- `trollscope ingest` of the JSON lines.

Wall time is measured around each command (process start and imports included, for both
tools); peak RSS is the command's own, from wait4(). The table goes to stdout; the docs
(docs/benchmarks.md) are updated by hand from it.

    .venv/bin/python benchmarks/ingest.py --posts 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

import trollscope
from trollscope.ingest.writers import WRITERS
from trollscope.model import Account, Kind, Post

CNT_VERSION = "1.5.2"
CHUNK = 50_000
REPO = Path(__file__).resolve().parents[1]

WORDS = {  # the vocabulary per language, split into words below
    "en": (
        "the people stand with freedom regime change now today support our brave women "
        "justice human rights vote truth world listen voices street protest democracy "
        "future silence never again we are watching share this thread read"
    ),
    "fa": (
        "مردم ایران آزادی برای زن زندگی امروز ما همه با هم صدای خیابان حقیقت "
        "جهان دموکراسی آینده سکوت هرگز دوباره این را بخوانید"
    ),
    "ar": (
        "الحرية للشعب الإيراني الآن اليوم ندعم النساء الشجاعات العدالة حقوق الإنسان "
        "الحقيقة العالم الديمقراطية المستقبل"
    ),
}
VOCABULARY = {lang: text.split() for lang, text in WORDS.items()}
HASHTAGS = {
    "en": ["FreeIran", "IranRegimeChange", "HumanRights", "MEK", "StandWithIran", "news"],
    "fa": ["ایران_آزاد", "مهسا_امینی", "زن_زندگی_آزادی", "نه_به_اعدام"],
    "ar": ["حرية", "إيران", "حقوق_الإنسان"],
}
DOMAINS = ["example.com", "news.example.org", "youtu.be", "t.co", "blog.example.net"]


@dataclass(frozen=True, slots=True)
class Run:
    tool: str
    input: str
    posts: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    stored: int | None


def generate(n_posts: int, seed: int) -> Iterator[tuple[list[Post], dict[str, Account]]]:
    """N posts in chunks, with the profiles of their authors: a few thousand accounts, a
    quarter of them busy; reposts of popular recent posts, replies, links, hashtags, and
    Persian and Arabic text beside English."""
    rng = random.Random(seed)
    n_accounts = max(20, min(5_000, n_posts // 100))
    accounts = [_account(k, rng) for k in range(n_accounts)]
    busy = accounts[: max(1, n_accounts // 4)]
    handles = {a.account_id: a.handle for a in accounts}
    start = datetime(2022, 9, 16)
    originals: list[Post] = []
    chunk: list[Post] = []
    for i in range(n_posts):
        author = rng.choice(busy) if rng.random() < 0.6 else rng.choice(accounts)
        created = start + timedelta(seconds=i * 3 + rng.randrange(3))
        post_id = str(1_570_000_000_000_000_000 + i * 4_096 + rng.randrange(4_096))
        roll = rng.random()
        if originals and roll < 0.45:
            # Popular posts get most reposts: pick among the most recent, skewed.
            source = originals[-1 - min(len(originals) - 1, int(rng.paretovariate(1.2)) - 1)]
            post = _repost(post_id, author, created, source, handles)
        elif originals and roll < 0.60:
            target = originals[-1 - rng.randrange(min(len(originals), 500))]
            post = _original(post_id, author, created, rng, accounts)
            post.kind, post.ref_post_id = Kind.REPLY, target.post_id
            post.ref_account_id = target.account_id
        else:
            post = _original(post_id, author, created, rng, accounts)
            originals.append(post)
            if len(originals) > 5_000:
                del originals[:1_000]
        chunk.append(post)
        if len(chunk) == CHUNK:
            yield chunk, {a.account_id: a for a in accounts}
            chunk = []
    if chunk:
        yield chunk, {a.account_id: a for a in accounts}


def _account(k: int, rng: random.Random) -> Account:
    persian = k % 5 == 0
    return Account(
        platform="twitter",
        account_id=str(1_000_000_000 + k * 7_919),
        handle=f"user_{k}" if not persian else f"irani_{k}",
        display_name=f"کاربر {k}" if persian else f"User {k}",
        bio="human rights" if k % 3 else "حقوق بشر",
        location="Iran" if k % 2 else None,
        created_at=datetime(2015, 1, 1) + timedelta(days=k % 2_500, seconds=k),
        followers=rng.randrange(10_000),
        following=rng.randrange(2_000),
    )


def _original(
    post_id: str, author: Account, created: datetime, rng: random.Random, accounts: list[Account]
) -> Post:
    lang = rng.choices(("en", "fa", "ar"), weights=(6, 3, 1))[0]
    words = rng.choices(VOCABULARY[lang], k=rng.randrange(5, 16))
    tags = rng.sample(HASHTAGS[lang], k=rng.choice((0, 1, 1, 2, 3)))
    mentions = [rng.choice(accounts).handle or "x" for _ in range(rng.choice((0, 0, 0, 1, 2)))]
    urls = [
        f"https://{rng.choice(DOMAINS)}/{rng.randrange(100_000)}"
        for _ in range(rng.choice((0, 0, 1)))
    ]
    text = " ".join([*(f"@{m}" for m in mentions), *words, *(f"#{t}" for t in tags), *urls])
    return Post(
        platform="twitter",
        post_id=post_id,
        account_id=author.account_id,
        created_at=created,
        kind=Kind.POST,
        text=text,
        lang=lang,
        hashtags=tags,
        urls=urls,
        mentions=mentions,
        client="Twitter for Android",
    )


def _repost(
    post_id: str, author: Account, created: datetime, source: Post, handles: dict[str, str | None]
) -> Post:
    by = handles.get(source.account_id) or "x"
    return Post(
        platform="twitter",
        post_id=post_id,
        account_id=author.account_id,
        created_at=created,
        kind=Kind.REPOST,
        text=f"RT @{by}: {source.text}",
        lang=source.lang,
        ref_post_id=source.post_id,
        ref_account_id=source.account_id,
        hashtags=list(source.hashtags),
        urls=list(source.urls),
        mentions=[by, *source.mentions],
        client="Twitter for iPhone",
    )


def write_inputs(n_posts: int, seed: int, workdir: Path) -> dict[str, Path]:
    """Write the CNT CSV and the twarc2 JSON lines (reused when already there)."""
    formats = {"cnt-csv": workdir / f"posts-{n_posts}.csv"}
    try:
        WRITERS["twarc2"]
        formats["twarc2"] = workdir / f"posts-{n_posts}.jsonl"
    except (KeyError, ImportError):
        print("note: no twarc2 writer in this tree; the JSON lines run is skipped", file=sys.stderr)
    todo = {fmt: path for fmt, path in formats.items() if not path.exists()}
    if not todo:
        return formats
    part = workdir / "part.tmp"
    outs = {fmt: _partial(path).open("wb") for fmt, path in todo.items()}
    try:
        for index, (posts, accounts) in enumerate(generate(n_posts, seed)):
            for fmt, out in outs.items():
                WRITERS[fmt].write(part, posts, accounts)
                with part.open("rb") as handle:
                    if fmt == "cnt-csv" and index:
                        handle.readline()  # one header row, for the first chunk only
                    shutil.copyfileobj(handle, out)
    finally:
        for out in outs.values():
            out.close()
        part.unlink(missing_ok=True)
    for path in todo.values():
        _partial(path).replace(path)
    return formats


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def cnt_venv(workdir: Path) -> Path:
    """CNT 1.5.2 in its own virtual environment; the path of its `compute_networks`."""
    venv = workdir / "cnt-venv"
    exe = venv / "bin" / "compute_networks"
    if exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            f"coordination-network-toolkit=={CNT_VERSION}",
        ],
        check=True,
    )
    return exe


def timed(argv: Sequence[str], log: Path) -> tuple[float, float, float, str]:
    """Run a command: its wall seconds, CPU seconds (user + system, all threads), peak RSS
    (MiB) and output. CPU time is the fairer figure on a machine busy with other work."""
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(encoding="utf-8", errors="replace")
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{text[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, text  # ru_maxrss is in KiB on Linux


def fresh(path: Path) -> Path:
    for stale in (path, *path.parent.glob(path.name + "*")):
        stale.unlink(missing_ok=True)
    return path


def run_ours(fmt: str, source: Path, n_posts: int, workdir: Path) -> Run:
    case = fresh(workdir / f"case-{fmt}.duckdb")
    exe = Path(sys.executable).with_name("trollscope")
    argv = [str(exe), "ingest", str(source), "--into", str(case), "--format", fmt]
    seconds, cpu, rss, out = timed([*argv, "--json", "--hide-progress"], workdir / f"{fmt}.log")
    stored = json.loads(out.strip().splitlines()[-1])["stored"]
    return Run("trollscope " + trollscope.__version__, fmt, n_posts, seconds, cpu, rss, stored)


def run_peer(exe: Path, source: Path, n_posts: int, workdir: Path) -> Run:
    db = fresh(workdir / "cnt.db")
    seconds, cpu, rss, _ = timed(
        [str(exe), str(db), "preprocess", "--format", "csv", str(source)], workdir / "cnt.log"
    )
    con = sqlite3.connect(db)
    try:
        stored = int(con.execute("SELECT count(*) FROM edge").fetchone()[0])
    finally:
        con.close()
    return Run(f"CNT {CNT_VERSION} preprocess", "cnt-csv", n_posts, seconds, cpu, rss, stored)


def machine() -> list[str]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return [
        f"- CPU: {model}, {os.cpu_count()} logical CPUs",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
        f"trollscope {trollscope.__version__}, CNT {CNT_VERSION}",
    ]


def table(runs: Sequence[Run], peer: Run | None, sizes: dict[str, int]) -> list[str]:
    lines = [
        "| tool | input | size | posts | wall s | posts/s | vs CNT (wall) | CPU s "
        "| vs CNT (CPU) | peak RSS | stored |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        wall = "-" if peer is None else f"{peer.seconds / run.seconds:.1f}x"
        cpu = "-" if peer is None else f"{peer.cpu_seconds / run.cpu_seconds:.1f}x"
        stored = "?" if run.stored is None else f"{run.stored:,}"
        lines.append(
            f"| {run.tool} | {run.input} | {sizes[run.input] / 2**20:,.0f} MiB | {run.posts:,} "
            f"| {run.seconds:,.1f} | {run.posts / run.seconds:,.0f} | {wall} "
            f"| {run.cpu_seconds:,.1f} | {cpu} | {run.peak_rss_mb:,.0f} MiB | {stored} |"
        )
    return lines


def median_run(runs: Sequence[Run]) -> Run:
    """The median wall and CPU time of repeated runs (the peak RSS is the largest)."""
    first = runs[0]
    return Run(
        first.tool,
        first.input,
        first.posts,
        statistics.median(r.seconds for r in runs),
        statistics.median(r.cpu_seconds for r in runs),
        max(r.peak_rss_mb for r in runs),
        first.stored,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="posts to generate")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each tool this many times, taking turns, and report the median",
    )
    parser.add_argument(
        "--workdir", type=Path, default=REPO / "benchmarks" / ".work", help="scratch folder"
    )
    parser.add_argument("--skip-peer", action="store_true", help="do not install or run CNT")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    inputs = write_inputs(args.posts, args.seed, args.workdir)
    print(f"inputs ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    peer_exe = None if args.skip_peer else cnt_venv(args.workdir)

    jobs: dict[str, Callable[[], Run]] = {
        "ours-cnt": lambda: run_ours("cnt-csv", inputs["cnt-csv"], args.posts, args.workdir)
    }
    if peer_exe is not None:
        jobs["peer"] = lambda: run_peer(peer_exe, inputs["cnt-csv"], args.posts, args.workdir)
    if "twarc2" in inputs:
        jobs["ours-jsonl"] = lambda: run_ours("twarc2", inputs["twarc2"], args.posts, args.workdir)
    # Taking turns, so that every tool sees the same background load.
    done: dict[str, list[Run]] = {name: [] for name in jobs}
    for _ in range(args.repeat):
        for name, job in jobs.items():
            done[name].append(job())
    runs = {name: median_run(results) for name, results in done.items()}
    peer = runs.get("peer")

    sizes = {fmt: path.stat().st_size for fmt, path in inputs.items()}
    command = (
        f"python benchmarks/ingest.py --posts {args.posts} --seed {args.seed} "
        f"--repeat {args.repeat}"
    )
    print(f"Ingest of {args.posts:,} generated posts (`{command}`), {time.strftime('%Y-%m-%d')}")
    if args.repeat > 1:
        print(f"(median of {args.repeat} runs per tool, taken in turns)")
    print()
    print("\n".join(table(list(runs.values()), peer, sizes)))
    print()
    print("\n".join(machine()))


if __name__ == "__main__":
    main()
