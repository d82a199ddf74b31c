"""The registry of writers, by the name of the reader each one feeds."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from trollscope.ingest.writers import (
    bluesky,
    cnt,
    coortweet,
    crowdtangle,
    crowdtangle_api,
    ioarchive,
    ira,
    mastodon,
    meta,
    reddit,
    telegram,
    tiktok,
    twarc2,
    twitter_v1,
    youtube,
)
from trollscope.model import Account, Post
from trollscope.registry import Registry


@dataclass(frozen=True, slots=True)
class Writer:
    """One format's writer: `name` is the reader's format name; `write` and `expected` are
    the module's (see the package's docstring)."""

    name: str
    write: Callable[[Path, Iterable[Post], Mapping[str, Account]], None]
    expected: Callable[[Post, Account | None], tuple[Post, Account | None] | None]


WRITERS: Registry[Writer] = Registry(
    "writer",
    (
        Writer(name, module.write, module.expected)
        for name, module in (
            ("twarc2", twarc2),
            ("twitter-v1", twitter_v1),
            ("coortweet", coortweet),
            ("telegram", telegram),
            ("io-tweets", ioarchive),
            ("ira", ira),
            ("cnt-csv", cnt),
            ("crowdtangle", crowdtangle),
            ("crowdtangle-api", crowdtangle_api),
            ("bluesky", bluesky),
            ("mastodon", mastodon),
            ("reddit", reddit),
            ("youtube", youtube),
            ("tiktok", tiktok),
            ("meta-content-library", meta),
        )
    ),
)
