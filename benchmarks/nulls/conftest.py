"""The tests' shared fixtures, for the tests kept here beside the nulls they check."""

from tests.conftest import case_path, shared_data

__all__ = ["case_path", "shared_data"]
