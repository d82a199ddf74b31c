"""One shape for every registry of plugins: readers, writers, traces and signals.

A registry holds plugins of one kind in a fixed order, each with a unique `name`. It is
a read-only mapping from name to plugin, so `TRACES["co-text"]`, `name in SIGNALS` and
`list(READERS)` work alike, and it feeds the CLI's choices (`names()`), dispatch
(`require(name)`, whose error lists the choices), the docs tests and the contract tests,
which run on every plugin for free.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol, TypeVar

from trollscope.errors import TrollscopeError


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


class Registry(Mapping[str, T]):
    """Plugins of one `kind` ("format", "trace", ...) by name, in the order given."""

    def __init__(self, kind: str, plugins: Iterable[T]) -> None:
        self.kind = kind
        self._by_name: dict[str, T] = {}
        for plugin in plugins:
            if plugin.name in self._by_name:
                raise ValueError(f"two {kind}s are named {plugin.name!r}")
            self._by_name[plugin.name] = plugin

    def __getitem__(self, name: str) -> T:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return list(self._by_name)

    def require(self, name: str) -> T:
        """The plugin called `name`, or an error that lists the choices."""
        try:
            return self._by_name[name]
        except KeyError:
            raise TrollscopeError(
                f"unknown {self.kind} {name!r}; choose among: {', '.join(self._by_name)}."
            ) from None
