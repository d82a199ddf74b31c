"""Row numbers of rejects in a file large enough for DuckDB to parse it in parallel."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import query
from trollscope.ingest.run import ingest


def test_reject_lines_in_a_large_parallel_scan(tmp_path: Path, case_path: Path) -> None:
    path = tmp_path / "big.csv"
    bad_rows = {150_000, 299_999}  # row numbers, header = row 1
    with path.open("w", encoding="utf-8") as handle:
        handle.write("message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n")
        for row in range(2, 300_002):
            stamp = "later" if row in bad_rows else str(1_600_000_000 + row)
            text = '"two\nlines"' if row % 1000 == 0 else "hello"
            handle.write(f"{row},u{row % 97},name,,,{text},{stamp},\n")
    result = ingest(case_path, [path], fmt="cnt-csv")
    assert result.files[0].rejected == 2
    assert sorted(int(r[0]) for r in query(case_path, "SELECT line FROM rejects")) == sorted(
        bad_rows
    )
    # And the post of each row is the one its row number says (first, middle, last).
    got = dict(
        query(
            case_path,
            "SELECT post_id, epoch(created_at) FROM posts "
            "WHERE post_id IN ('2', '150001', '300001')",
        )
    )
    assert got == {"2": 1_600_000_002, "150001": 1_600_150_001, "300001": 1_600_300_001}
