"""`trollscope serve` as a user runs it: it listens on 127.0.0.1 by default and answers
there over real HTTP, on a case file or a Parquet case's folder; another address is
warned about before it binds."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from pathlib import Path

from tests.serve.command import TROLLSCOPE, serve


def test_it_listens_on_loopback_by_default(served_case: Path) -> None:
    proc, said = serve(served_case)
    try:
        url = said.split(" at ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "networks.json", timeout=10) as r:
            assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert [n["network"] for n in json.load(r)["networks"]["rows"]] == [1, 2]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_it_serves_a_parquet_case(served_parquet_case: Path) -> None:
    """A Parquet case's folder, as given on the command line: an account's posts are
    fetched from its files."""
    proc, said = serve(served_parquet_case)
    try:
        url = said.split(" at ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(url + "account.json?platform=unknown&id=f0", timeout=10) as r:
            posts = json.load(r)["posts"]
        assert posts["total"] == 24 and len(posts["rows"]) == 24
        assert all(p["post_id"].startswith("f") for p in posts["rows"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serving_beyond_this_machine_is_warned(served_case: Path) -> None:
    """`--host 0.0.0.0` says who can read the case before it binds. The port is held here
    (listening on loopback), so the server fails to bind and nothing is ever exposed."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = str(held.getsockname()[1])
        done = subprocess.run(
            [*TROLLSCOPE, "serve", str(served_case), "--host", "0.0.0.0", "--port", port],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode != 0
    assert "Warning: serving on 0.0.0.0" in done.stderr
    assert "anyone who can reach it can read the whole case" in done.stderr
