"""The simulator's format-writing child process ends with the simulation that started it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_child_whose_simulation_is_gone_ends_at_once(tmp_path: Path) -> None:
    """`simulate` passes its pid; a child whose parent is not that process (it died, the
    child was adopted) writes nothing and ends without a traceback."""
    parent = 2**22 + 1  # above Linux's largest pid: no process's parent
    done = subprocess.run(
        [sys.executable, "-m", "trollscope.simulate.worker", str(tmp_path), "twarc2", str(parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (1, "")
    assert list(tmp_path.iterdir()) == []
