"""`trollscope serve` run for real, in a subprocess, for the browser and command tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

TROLLSCOPE = [sys.executable, "-c", "from trollscope.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(case: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`trollscope serve CASE ARGS` in a subprocess, once it answers; and what it said."""
    port = free_port()
    proc = subprocess.Popen(
        [*TROLLSCOPE, "serve", str(case),
         "--port", str(port), *args],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    said = ""
    while "Serving" not in said:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"`trollscope serve` ended: {said}")
        said += line
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise AssertionError(f"nothing listens on 127.0.0.1:{port}: {said}") from None
            time.sleep(0.05)
    return proc, said
