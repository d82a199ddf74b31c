"""trollscope: find troll farms (coordinated inauthentic behaviour) and show the evidence.

`trollscope.open(path)` gives a case as an object for notebooks and scripts (docs/api.md);
`trollscope.api` holds every job of the command line as a function.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trollscope.handle import CaseHandle

__version__ = "0.1.0"

__all__ = ["__version__", "open"]


def open(path: Path | str, create: bool = False) -> CaseHandle:
    """A handle on the case at `path` (`create`: a missing file becomes a new case); its
    methods run the jobs and read the results as Arrow tables. See docs/api.md."""
    # Imported here: `import trollscope` (and the CLI's start) stays light.
    from trollscope.handle import open_case

    return open_case(path, create)
