"""Write one real-format file of a simulated data set from its canonical Parquet files:
`python -m trollscope.simulate.worker OUT_DIR FORMAT PARENT_PID`. `simulate` runs it to
write formats in parallel, and it ends with that process (`die_with_parent`); it is not
meant to be run by hand."""

from __future__ import annotations

import sys
from pathlib import Path

from trollscope.ingest.workers import die_with_parent
from trollscope.simulate.run import write_format


def main(argv: list[str]) -> int:
    out, fmt, parent = argv
    die_with_parent(int(parent))
    write_format(Path(out), fmt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
