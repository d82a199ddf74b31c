"""Identity signals in discovery: weights for the false discovery rate.

A farm's accounts are often batch-created, templated and share pictures; an organic
crowd's rarely are. That says nothing about coordination by itself, but it says where
coordination is more likely, and the weighted Benjamini-Hochberg procedure (Genovese,
Roeder & Wasserman 2006) lets a test use it: hypothesis i is rejected when p_i / w_i
falls under the BH line, with weights that average 1 over every test run. The false
discovery rate stays at q whatever the weights are, as long as they are fixed before the
p-values are seen and do not depend on them under the null. So an account with identity
signals needs weaker co-action evidence, an account without them a little stronger, and
a farm that co-acts only weakly but was created in one batch with one template is found.

The weight of an account is 1 + BOOST x (identity signals that flag it); those signals
are `creation-burst`, `profile` and `avatar`, computed from profiles, creation dates and
pictures. `rhythm` is left out: it is computed from the account's posting times, which
the co-action nulls shift, so it is not fixed under them. A pair's weight is the mean of
its two accounts', a burst's the mean of its members'. Each family's weights are then
scaled to average 1 over the tests it ran (the untested ones, with p = 1, keep 1).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

WEIGHT_SIGNALS = ("creation-burst", "profile", "avatar")
BOOST = 4.0


def account_weights(flags: pa.Table) -> dict[tuple[str, str], float]:
    """(platform, account_id) -> raw weight, from rows (signal, platform, account_id,
    flagged) of the identity signals; an account no signal flags is left out (weight 1)."""
    counts: dict[tuple[str, str], int] = {}
    rows = flags.to_pydict()
    for signal, platform, account, flagged in zip(
        rows["signal"], rows["platform"], rows["account_id"], rows["flagged"], strict=True
    ):
        if flagged and signal in WEIGHT_SIGNALS:
            counts[(platform, account)] = counts.get((platform, account), 0) + 1
    return {key: 1.0 + BOOST * n for key, n in counts.items()}


def normalised(raw: np.ndarray) -> np.ndarray:
    """Weights that average 1 over the family."""
    if len(raw) == 0:
        return raw.astype(np.float64)
    return raw.astype(np.float64) / float(np.mean(raw))
