"""Every reader fuzzed longer and at random: the checks of tests/ingest/test_fuzz.py with a
budget too big for `make test`.

    .venv/bin/python -m benchmarks.fuzz [--examples 300] [--seed N] [--format twarc2 ...]

For each sample of tests/ingest/fuzzing.py (one or two well-formed files per reader),
Hypothesis damages the bytes (cuts, bit flips, nasty bytes, line endings, encodings, huge
and nested values, repeated and dropped lines, gzip packing and damage) and ingests them
into a new case: an error must be one of ours (a sentence, no traceback) and leave no case
behind; otherwise read = stored + duplicate + rejected. The table (markdown, to stdout)
says, per sample, how many damaged files (shrinking's tries included) were refused in
words, how many were read, and the first failure Hypothesis shrank to, if any. Exit
status 1 when any sample failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from tests.ingest.fuzzing import SAMPLES, Mutation, Sample, check_ingest, mutate, mutation_chains


def fuzz(sample: Sample, examples: int, at_seed: int) -> tuple[Counter[str], str | None, float]:
    """Outcomes of `examples` damaged files of one sample, and the shrunk failure if any."""
    original = sample.path.read_bytes()
    seen: Counter[str] = Counter()

    @seed(at_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(chain=mutation_chains, sniff=st.booleans())
    def one(chain: tuple[list[Mutation], Mutation | None], sniff: bool) -> None:
        data, packed = mutate(original, chain)
        with tempfile.TemporaryDirectory() as folder:
            outcome = check_ingest(sample, data, packed, Path(folder), sniff)
        seen["refused" if outcome.refused else "read"] += 1

    start = time.perf_counter()
    failure = None
    try:
        one()
    except Exception as exc:  # a benchmark reports every failure, whatever it is
        failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return seen, failure, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="damaged files per sample")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--format", action="append", default=[], help="only these formats")
    args = parser.parse_args()
    chosen = [s for s in SAMPLES if not args.format or s.fmt in args.format]
    print(f"Seed {args.seed}, {args.examples} damaged files per sample.\n")
    print("| sample | refused in words | read, counts add up | seconds | failure |")
    print("|---|---:|---:|---:|---|")
    failed = 0
    for sample in chosen:
        seen, failure, seconds = fuzz(sample, args.examples, args.seed)
        failed += failure is not None
        print(
            f"| {sample.fmt} {sample.path.name} | {seen['refused']} | {seen['read']} "
            f"| {seconds:.0f} | {failure or ''} |",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
