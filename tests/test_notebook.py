"""The example notebook (examples/notebook.ipynb) runs from top to bottom (issue 21, ask 3).

It is executed with nbclient in a temporary folder, on a kernel spec written there that
runs this interpreter: the result must not depend on the kernels a machine has installed
(a user's own `python3` spec may point at another Python), nor on a writable home."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from .conftest import REPO

nbclient = pytest.importorskip("nbclient", reason="the dev extra's nbclient runs the notebook")
nbformat = pytest.importorskip("nbformat", reason="the dev extra's nbformat reads the notebook")
pytest.importorskip("ipykernel", reason="the dev extra's ipykernel runs the notebook's cells")

NOTEBOOK = REPO / "examples" / "notebook.ipynb"
KERNEL = "trollscope-test"


def test_the_example_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}),
        encoding="utf-8",
    )
    # The kernel's connection file and IPython's profile go here, not into $HOME.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    work = tmp_path / "work"
    work.mkdir()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    manager = KernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]),
    )
    client = nbclient.NotebookClient(
        notebook, km=manager, timeout=120, resources={"metadata": {"path": str(work)}}
    )
    client.execute()  # a cell that raises fails the test with the cell and its traceback

    assert (work / "report.html").stat().st_size > 0
    # The networks cell shows the two planted farms as networks 1 and 2.
    shown = notebook.cells[5].outputs[0]["data"]["text/plain"]
    assert shown.splitlines()[1].split()[:3] == ["0", "1", "150"], shown
    assert shown.splitlines()[2].split()[:3] == ["1", "2", "60"], shown
