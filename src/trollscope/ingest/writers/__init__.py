"""Writers: canonical records out to real formats (the simulator and the round-trip tests
use them). One module per format, named after the reader it feeds, each with:

- `write(path, posts, accounts)`: write `posts` (and the profiles of their authors, keyed
  by account_id in `accounts`) as that format would hold them;
- `expected(post, account)`: the canonical (post, account) that reading the written file
  back must give, i.e. the input reduced to what the format can carry (times cut to the
  format's precision, fields it has no column for emptied, the platform it implies).
  The account returned may be None when the format carries no profile; `expected`
  returns None for a post the format cannot hold at all (its writer skips it).

`WRITERS` (registry.py) holds one `Writer` per format, by the reader's format name.
"""

from trollscope.ingest.writers.registry import WRITERS, Writer

__all__ = ["WRITERS", "Writer"]
