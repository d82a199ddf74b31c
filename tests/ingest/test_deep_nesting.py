"""Every format, named with --format, on small files of hostile nesting: a 400 kB file of
`[` brackets or of `{"a":` objects, as JSON lines and as one document.

Each must be refused in a sentence (a TrollscopeError) or read with its rejects counted
(read = stored + duplicate + rejected), within bounded memory and time. ijson's prefixed
events (`ijson.items`, `ijson.parse`) hold a path per level: on such a file their memory
grows with the square of the depth, and a 400 kB file took gigabytes (MemoryError, or the
kernel's kill). The ingests run in a child process under an address-space limit, so
that such a reader fails here instead of taking the machine.

Every registered format is tried on every file (a reader of CSV refuses them at once),
so a new reader is checked for free.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import ijson
import pytest

from trollscope.ingest.readers.jsonevents import (
    DEEP,
    MAX_NESTING,
    TOO_DEEP,
    array_at,
    document_values,
    shallow_parse,
)
from trollscope.ingest.readers.registry import names

# Measured: a normal ingest peaks at 2.4 GB of address space (VmPeak, on 2 cores; DuckDB and
# numpy reserve much they never touch); a reader holding ijson's prefixes needs 4 to 100 GB.
ADDRESS_SPACE = 3 * 1024**3
TIMEOUT_S = 60.0
DEPTH = 200_000  # brackets: 400 kB with their closing ones

# The child: ingest each (format, file) into its own case under the limit, writing one
# JSON line per outcome to `log` before and after it (flushed, so a kill leaves the start).
CHILD = """
import json, os, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
from trollscope import api
from trollscope.errors import TrollscopeError
tasks = json.loads(sys.stdin.read())
with open(sys.argv[2], "a") as log:
    def say(**kw):
        log.write(json.dumps(kw) + "\\n")
        log.flush()
    for fmt, file, case in tasks:
        say(start=[fmt, file])
        try:
            result = api.ingest(case, [file], fmt=fmt)
        except TrollscopeError as exc:
            say(done=[fmt, file], refused=str(exc))
            continue
        except BaseException as exc:
            say(done=[fmt, file], error=f"{type(exc).__name__}: {str(exc)[:200]}")
            os._exit(0)  # after a MemoryError little works: a new child takes the rest
        counts = [result.total(k) for k in ("read", "stored", "duplicate", "rejected")]
        say(done=[fmt, file], counts=counts)
"""


def _files(folder: Path) -> dict[str, Path]:
    brackets = b"[" * DEPTH + b"]" * DEPTH
    levels = DEPTH // 3  # `{"a":` and `}`: 6 bytes a level
    objects = b'{"a":' * levels + b"1" + b"}" * levels
    chat = b'{\n"name": "x", "type": "public_channel", "id": 1,\n'
    shapes = {
        "lines-brackets": brackets + b"\n" + b"[" * DEPTH + b"\n",  # whole, then cut
        "lines-objects": objects + b"\n",
        "document-brackets": b"[\n" + brackets + b"\n]\n",
        "document-objects": b'{\n"data": ' + objects + b"\n}\n",
        "document-items": b'{\n"items": [\n' + brackets + b",\n" + objects + b"\n]\n}\n",
        # A chat's messages, and a full export's, where Telegram's reader looks for them.
        "document-chat": chat + b'"messages": [\n' + brackets + b"\n]\n}\n",
        "document-export": b'{\n"chats": {"list": ['
        + chat
        + b'"messages": ['
        + objects
        + b"]}]}}\n",
    }
    paths = {}
    for name, data in shapes.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_bytes(data)
    return paths


def _run(tasks: list[list[str]], log: Path) -> str | None:
    """Run the child on `tasks`; what went wrong with the child itself, or None."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(ADDRESS_SPACE), str(log)],
            input=json.dumps(tasks),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"ran past {TIMEOUT_S:.0f} s"
    if done.returncode:
        return f"the process died (exit {done.returncode}): {done.stderr[-300:]}"
    return None


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str | None]:
    """Per (format, file): None when it passed, else what went wrong. A child that dies
    or hangs marks the ingest it was on, and a new child goes on with the rest."""
    folder = tmp_path_factory.mktemp("deep")
    files = _files(folder)
    tasks = [
        [fmt, str(path), str(folder / f"{fmt}-{name}.duckdb")]
        for fmt in names()
        for name, path in files.items()
    ]
    log = folder / "log.jsonl"
    found: dict[tuple[str, str], str | None] = {}
    while tasks:
        failure = _run(tasks, log)
        started: tuple[str, str] | None = None
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if "start" in entry:
                started = tuple(entry["start"])
                continue
            pair = (entry["done"][0], entry["done"][1])
            started = None
            if "error" in entry:
                found[pair] = entry["error"]
            elif "counts" in entry:
                read, stored, duplicate, rejected = entry["counts"]
                ok = read == stored + duplicate + rejected
                found[pair] = None if ok else f"counts do not add up: {entry['counts']}"
            else:
                found[pair] = None if entry["refused"].strip() else "refused without a word"
        if started is not None:
            found[started] = failure or "the child stopped"
        elif failure:
            raise AssertionError(f"the child failed between ingests: {failure}")
        tasks = [t for t in tasks if (t[0], t[1]) not in found]
        log.unlink()
    return found


@pytest.mark.parametrize("fmt", names())
def test_deep_nesting_is_refused_or_rejected(
    fmt: str, outcomes: dict[tuple[str, str], str | None]
) -> None:
    wrong = {
        Path(file).stem: problem
        for (name, file), problem in outcomes.items()
        if name == fmt and problem is not None
    }
    assert not wrong, wrong


def test_a_normal_ingest_fits_the_limit(tmp_path: Path) -> None:
    """The limit is not what refuses: a real file is stored under it."""
    data = Path(__file__).parents[1] / "data" / "reddit"
    fixture = sorted(data.glob("*.jsonl"))[0]
    log = tmp_path / "log.jsonl"
    case = str(tmp_path / "case.duckdb")
    start = time.monotonic()
    assert _run([["reddit", str(fixture), case]], log) is None
    assert time.monotonic() - start < TIMEOUT_S
    entry = json.loads(log.read_text().splitlines()[-1])
    read, stored, duplicate, rejected = entry["counts"]
    assert stored > 0 and read == stored + duplicate + rejected


DOCUMENT = (
    b'{"kind": {"videos": [9]}, "data": {"x": [1], "videos": [{"a": [1]}, 2, [3]]}, "after": [5]}'
)


def test_values_at_keys_are_only_those_of_that_array() -> None:
    events = ijson.basic_parse(DOCUMENT)
    values = list(document_values(events, array=True, keys=("data", "videos")))
    assert values == [{"a": [1]}, 2, [3]]


def test_an_item_too_deep_at_keys_stands_as_one_value() -> None:
    deep = b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1)
    data = b'{"items": [{"id": 1}, ' + deep + b', {"id": 2}]}'
    values = list(document_values(ijson.basic_parse(data), array=True, keys=("items",)))
    assert values == [{"id": 1}, TOO_DEEP, {"id": 2}]


def test_the_first_array_found_is_the_first_in_the_document() -> None:
    paths = {("data", "videos"), ("kind",), ("items",)}
    assert array_at(ijson.basic_parse(DOCUMENT), paths) == ("data", "videos")
    assert array_at(ijson.basic_parse(DOCUMENT), {("items",)}) is None
    assert array_at(ijson.basic_parse(b"[1]"), {("items",)}) == ()


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": [1, {"b": [2, [3]]}, 4], "c": {"d": 5}}',
        b'[[1], {"x": 2}, 3]',
        b'{"a": [{"b": 1}]}\n{"c": 2}\n[3]\n4',
    ],
)
def test_shallow_parse_gives_ijson_parse_s_events(data: bytes) -> None:
    expected = list(ijson.parse(data, multiple_values=True))
    assert list(shallow_parse(ijson.basic_parse(data, multiple_values=True))) == expected


def test_shallow_parse_names_no_path_below_its_depth() -> None:
    events = shallow_parse(ijson.basic_parse(b'{"a": [[[1]]], "z": 2}'), deepest=2)
    assert [prefix for prefix, _, _ in events] == (
        ["", "", "a", DEEP, DEEP, DEEP, DEEP, DEEP, "a", "", "z", ""]
    )


def test_a_deep_record_with_bad_bytes_is_one_reject(tmp_path: Path) -> None:
    """A record nested 450 levels deep (under MAX_NESTING) holding a byte that is not
    UTF-8: the check for replaced bytes walked it recursively and raised RecursionError
    in the readers of jsonrecords; now every JSON reader walks it with one stack."""
    from trollscope.ingest.run import ingest

    deep = b"[" * 450 + b'"\xff"' + b"]" * 450
    record = (
        b'{"id": "abc", "name": "t1_abc", "subreddit": "x", "author": "u", '
        b'"created_utc": 1700000000, "body": "hi", "link_id": "t3_z", "deep": ' + deep + b"}"
    )
    path = tmp_path / "page.json"
    good = record.replace(b"abc", b"abd").replace(deep, b"1")
    # Pretty-printed (no line a whole value), so that it is read as one document.
    record, good = (r.replace(b", ", b",\n  ") for r in (record, good))
    path.write_bytes(b'{"kind": "Listing", "data": [\n' + record + b",\n" + good + b"\n]}\n")
    result = ingest(tmp_path / "case.duckdb", [path], fmt="reddit")
    f = result.files[0]
    assert (f.read, f.stored, f.rejected) == (2, 1, 1)
