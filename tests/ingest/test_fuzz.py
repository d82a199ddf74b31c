"""Every reader, fuzzed: damaged input is refused in words or read with counts that add
up, and the case opens and detects afterwards (issue 19).

A bounded, derandomised budget here (so that CI is repeatable: a failure replays on the
next run); benchmarks/fuzz.py runs the same checks longer and at random.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.fuzzing import SAMPLES, Mutation, Sample, check_ingest, mutate, mutation_chains
from trollscope.api import detect, info
from trollscope.detect.params import DetectParams
from trollscope.ingest.run import ingest

EXAMPLES = int(os.environ.get("TROLLSCOPE_FUZZ_EXAMPLES", "12"))
KEEP = 4  # damaged files read into one case afterwards, for `info` and `detect`


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.fmt}-{s.path.name}")
def test_damaged_input_is_refused_in_words_or_read_with_counts_that_add_up(
    sample: Sample, tmp_path: Path
) -> None:
    original = sample.path.read_bytes()
    kept: list[tuple[bytes, bool]] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(chain=mutation_chains, sniff=st.booleans())
    def one(chain: tuple[list[Mutation], Mutation | None], sniff: bool) -> None:
        data, packed = mutate(original, chain)
        with tempfile.TemporaryDirectory() as folder:
            outcome = check_ingest(sample, data, packed, Path(folder), sniff)
        if outcome.stored and len(kept) < KEEP:
            kept.append((data, packed))

    one()

    # The damaged files that stored something, read together into one case: it opens,
    # `info` describes it, and `detect` runs on it.
    case = tmp_path / "case.duckdb"
    paths = []
    for i, (data, packed) in enumerate(kept):
        path = tmp_path / f"kept{i}{sample.suffix}{'.gz' if packed else ''}"
        path.write_bytes(data)
        paths.append(path)
    paths.append(sample.path)  # so that the case is never empty
    result = ingest(case, paths, fmt=sample.fmt, options=sample.options())
    described = info(case)
    assert sum(p["posts"] + p["accounts"] for p in described["platforms"].values()) > 0
    assert result.total("read") == sum(
        result.total(name) for name in ("stored", "duplicate", "rejected")
    )
    found = detect(case, DetectParams())
    assert found.result is not None
