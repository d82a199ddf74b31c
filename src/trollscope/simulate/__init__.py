"""Synthetic data sets with planted troll farms and known ground truth.

The simulator writes files only: it never contacts a platform, and its text comes from
neutral templates and word lists (see `words.py`), never persuasive content.
"""

from trollscope.simulate.config import (
    STEALTH_PRESETS,
    CommunitySpec,
    FarmSpec,
    SimulationConfig,
    farm_at_stealth,
)
from trollscope.simulate.run import FORMAT_FILES, SimulationResult, read_posts, simulate

__all__ = [
    "FORMAT_FILES",
    "STEALTH_PRESETS",
    "CommunitySpec",
    "FarmSpec",
    "SimulationConfig",
    "SimulationResult",
    "farm_at_stealth",
    "read_posts",
    "simulate",
]
