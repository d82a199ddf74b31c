"""Tests of detection."""

# The tables detect writes (each sorted by every column for a comparison).
DETECT_TABLES = (
    "pair_tests",
    "account_tests",
    "burst_tests",
    "cohort_tests",
    "join_tests",
    "networks",
    "network_edges",
    "account_scores",
    "account_evidence",
)
