"""Writers: canonical records out to real formats (the simulator and the round-trip tests
use them). One module per format, named after the reader it feeds, each with:

- `write(path, posts, accounts)`: write `posts` (and the profiles of their authors, keyed
  by account_id in `accounts`) as that format would hold them;
- `expected(post, account)`: the canonical (post, account) that reading the written file
  back must give, i.e. the input reduced to what the format can carry (times cut to the
  format's precision, fields it has no column for emptied, the platform it implies).
  The account returned may be None when the format carries no profile; `expected`
  returns None for a post the format cannot hold at all (its writer skips it).

`WRITERS` maps a reader's format name to its writer module (imported on use).
"""

from __future__ import annotations

import importlib
from types import ModuleType

WRITERS: dict[str, str] = {
    "twarc2": "trollscope.writers.twarc2",
    "twitter-v1": "trollscope.writers.twitter_v1",
    "coortweet": "trollscope.writers.coortweet",
    "telegram": "trollscope.writers.telegram",
    "io-tweets": "trollscope.writers.ioarchive",
    "ira": "trollscope.writers.ira",
    "cnt-csv": "trollscope.writers.cnt",
    "crowdtangle": "trollscope.writers.crowdtangle",
    "crowdtangle-api": "trollscope.writers.crowdtangle_api",
}


def writer(name: str) -> ModuleType:
    return importlib.import_module(WRITERS[name])
