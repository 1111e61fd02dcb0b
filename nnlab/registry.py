"""Name -> factory tables, one per kind of part (activation, cost, ...).

Adding a part is one function or class plus one ``@REGISTRY.register("name")``.
A part declares the hyperparameters it takes in its ``hyper`` attribute
(``nnlab.hyper``); a function, which has no class body to say it in, passes
them to the registration: ``@INITIALIZERS.register("normal", hyper={...})``.
An unknown name raises a ``UserError`` that lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from nnlab.errors import UserError

if TYPE_CHECKING:
    from nnlab.hyper import Hyper

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of factories of one kind (``kind`` is used in messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, *, hyper: Mapping[str, Hyper] | None = None) -> Callable[[T], T]:
        """Add ``item`` under ``name``; ``hyper``: its hyperparameters, set as ``item.hyper``."""

        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            if hyper is not None:
                item.hyper = dict(hyper)  # type: ignore[attr-defined]
            self._items[name] = item
            return item

        return add

    def unregister(self, name: str) -> T:
        """Remove ``name`` (KeyError if absent) and return its item: for parts added for a while, as in tests."""
        return self._items.pop(name)

    def hyper(self, name: str) -> dict[str, Hyper]:
        """The hyperparameters ``name`` declares (none when it declares nothing)."""
        return dict(getattr(self.get(name), "hyper", {}))

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UserError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
