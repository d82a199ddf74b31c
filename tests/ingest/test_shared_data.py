"""Real third-party data (../shared/data): CooRTweet's two data sets.

russian_coord_tweets.csv has 35,125 rows. Rows 17404 and 17405 are the same share
(object, account, content and second all equal), so 35,124 posts are stored and the
repeat is counted as a duplicate: read 35,125 = stored 35,124 + duplicate 1. 39 retweets
share two objects each; each (retweet, object) pair is kept (see docs/formats.md).
"""

from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import query, table_counts
from trollscope.ingest.readers import ReadOptions
from trollscope.ingest.run import ingest


def test_russian_coord_tweets(shared_data: Path, case_path: Path) -> None:
    path = shared_data / "coortweet" / "russian_coord_tweets.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert len(rows) == 35_125
    assert rows[17402] == rows[17403]  # file lines 17404 and 17405: the one exact repeat
    assert len({tuple(r) for r in rows}) == 35_124

    result = ingest(case_path, [path], options=ReadOptions(platform="twitter"))
    f = result.files[0]
    assert (f.format, f.read, f.stored, f.duplicate, f.rejected) == (
        "coortweet",
        35_125,
        35_124,
        1,
        0,
    )
    counts = table_counts(case_path)
    assert counts["posts"] == 35_124
    assert counts["accounts"] == len({r[1] for r in rows}) == 9_509
    # Every share is there: (retweet, object) pairs in the case equal those in the file.
    stored = query(
        case_path, "SELECT split_part(post_id, '~', 1), ref_post_id, account_id FROM posts"
    )
    assert {tuple(map(str, s)) for s in stored} == {(r[2], r[0], r[1]) for r in rows}
    assert query(case_path, "SELECT DISTINCT kind FROM posts") == [("repost",)]

    again = ingest(case_path, [path], options=ReadOptions(platform="twitter"))
    assert (again.files[0].stored, again.files[0].duplicate) == (0, 35_125)
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: counts[k] for k in ("posts", "accounts", "rejects")
    }


def test_german_elections_objects_attached(shared_data: Path, case_path: Path) -> None:
    path = shared_data / "coortweet" / "german_elections.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    post_ids = {r["post_id"] for r in rows if r["post_id"]}
    no_id = [i + 2 for i, r in enumerate(rows) if not r["post_id"]]
    assert len(no_id) == 3

    result = ingest(case_path, [path])
    f = result.files[0]
    assert f.stored == len(post_ids) == 194_323
    assert f.rejected == 3
    assert f.read == f.stored + f.duplicate + f.rejected
    assert sorted(r[0] for r in query(case_path, "SELECT line FROM rejects")) == no_id

    # Objects of one post, gathered from its rows: compare a sample against the file.
    def ids(values: set[str]) -> list[str]:
        return sorted(v.removesuffix(".0") for v in values if v)

    by_post: dict[str, dict[str, set[str]]] = {}
    for r in rows:
        if r["post_id"]:
            post = by_post.setdefault(r["post_id"].removesuffix(".0"), {})
            for column in ("url_id", "hashtag_id", "domain_id", "phash_id"):
                post.setdefault(column, set()).add(r[column])
    many = sorted(p for p, objs in by_post.items() if len(objs["url_id"] - {""}) > 1)[:50]
    sample = many + sorted(by_post)[:50]
    got = {
        str(r[0]): r[1:]
        for r in query(
            case_path,
            "SELECT post_id, urls, hashtags, domains, media FROM posts WHERE post_id IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [sample],
        )
    }
    assert len(got) == len(set(sample))
    for post in sample:
        objs = by_post[post]
        assert got[post] == (
            ids(objs["url_id"]),
            ids(objs["hashtag_id"]),
            ids(objs["domain_id"]),
            ids(objs["phash_id"]),
        ), post
    total = query(
        case_path,
        "SELECT sum(len(urls)), sum(len(hashtags)), sum(len(domains)), sum(len(media)) FROM posts",
    )[0]
    assert all(int(n) > 0 for n in total)  # type: ignore[call-overload]

    before = table_counts(case_path)
    again = ingest(case_path, [path])
    assert again.files[0].stored == 0
    after = table_counts(case_path)
    assert {k: after[k] for k in ("posts", "accounts", "rejects")} == {
        k: before[k] for k in ("posts", "accounts", "rejects")
    }
