"""Readers: one module per input format, each turning a file into canonical records."""

from trollscope.ingest.readers.base import Head, Reader, ReadOptions
from trollscope.ingest.readers.registry import READERS, get, names, sniff

__all__ = ["READERS", "Head", "ReadOptions", "Reader", "get", "names", "sniff"]
