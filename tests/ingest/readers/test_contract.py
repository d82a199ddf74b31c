"""Contract tests over the registry: every reader gets them for free."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA
from trollscope.ingest.readers import READERS, Head, sniff
from trollscope.ingest.readers.base import Reader
from trollscope.ingest.writers import WRITERS

# One well-formed fixture per sniffable format, in the real format's shape.
FIXTURES = {
    "twarc2": [DATA / "twarc2" / "flattened.jsonl", DATA / "twarc2" / "search_pages.jsonl"],
    "twitter-v1": [
        DATA / "twitter_v1" / "three_tweets.jsonl",
        DATA / "twitter_v1" / "stream.jsonl",
    ],
    "coortweet": [
        DATA / "table" / "coortweet_shares.csv",
        DATA / "table" / "coortweet_objects.csv",
    ],
    "telegram": [
        DATA / "telegram" / "channel" / "result.json",
        DATA / "telegram" / "full" / "result.json",
    ],
    "io-tweets": [DATA / "ioarchive" / "tweets.csv"],
    "io-users": [DATA / "ioarchive" / "users.csv"],
    "ira": [DATA / "ira" / "IRAhandle_tweets_sample.csv"],
    "cnt-csv": [DATA / "cnt" / "messages.csv"],
    "crowdtangle": [DATA / "crowdtangle" / "pages.csv", DATA / "crowdtangle" / "instagram.csv"],
    "crowdtangle-api": [
        DATA / "crowdtangle_api" / "search.json",
        DATA / "crowdtangle_api" / "links.jsonl",
    ],
    "bluesky": [
        DATA / "bluesky" / "jetstream.jsonl",
        DATA / "bluesky" / "jetstream.jsonl.gz",
        DATA / "bluesky" / "appview.jsonl",
        DATA / "bluesky" / "thread.json",
    ],
    "mastodon": [
        DATA / "mastodon" / "statuses.jsonl",
        DATA / "mastodon" / "home_timeline.json",
        DATA / "mastodon" / "home_timeline.json.gz",
    ],
    "reddit": [
        DATA / "reddit" / "RS_sample.jsonl",
        DATA / "reddit" / "RC_sample.jsonl.gz",
        DATA / "reddit" / "listing.json",
    ],
    "youtube": [
        DATA / "youtube" / "comment_threads.json",
        DATA / "youtube" / "comment_threads.jsonl.gz",
    ],
    "tiktok": [
        DATA / "tiktok" / "videos.jsonl",
        DATA / "tiktok" / "videos.jsonl.gz",
        DATA / "tiktok" / "comments.json",
    ],
    "meta-content-library": [
        DATA / "meta_content_library" / "facebook_posts.csv",
        DATA / "meta_content_library" / "facebook_posts.csv.gz",
        DATA / "meta_content_library" / "facebook_posts.jsonl",
        DATA / "meta_content_library" / "instagram_posts.json",
    ],
}
ALL_FIXTURES = [(fmt, path) for fmt, paths in FIXTURES.items() for path in paths]


@pytest.mark.parametrize("cls", list(READERS.values()), ids=lambda c: c.name)
def test_reader_declares_itself(cls: type[Reader]) -> None:
    assert cls.name and cls.version and cls.description
    assert cls.unit in ("posts", "accounts")
    assert [c.name for c in READERS.values()].count(cls.name) == 1


@pytest.mark.parametrize("cls", [c for c in READERS.values() if c.sniffable], ids=lambda c: c.name)
def test_every_sniffable_reader_has_a_fixture(cls: type[Reader]) -> None:
    assert cls.name in FIXTURES, f"add a fixture for {cls.name} to FIXTURES"


@pytest.mark.parametrize(("fmt", "path"), ALL_FIXTURES, ids=lambda v: str(v)[-40:])
def test_content_picks_the_right_reader(fmt: str, path: Path) -> None:
    assert sniff(path).name == fmt
    # And no other format claims the file.
    claims = [cls.name for cls in READERS.values() if cls.sniffable and cls().sniff(Head.of(path))]
    assert claims == [fmt], claims


@pytest.mark.parametrize("cls", list(READERS.values()), ids=lambda c: c.name)
def test_a_writer_exists_for_every_post_format(cls: type[Reader]) -> None:
    if cls.unit == "posts" and cls.name != "table":
        assert cls.name in WRITERS, f"{cls.name} has no writer for the round-trip test"
