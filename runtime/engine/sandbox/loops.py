"""Loop turns: every ``{% for %}`` goes through :func:`loop` (inserted while compiling), which
counts its turns and the literal text each turn writes against the budget."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .budget import Budget, current


def loop(iterable: Any, chars: int, recursive: bool = False) -> Iterator[Any]:
    """What every ``{% for %}`` iterates (the filter ``akis_loop``)."""
    if recursive:
        return Counted(iterable, current(), chars)
    return turns(iterable, current(), chars)


def turns(iterable: Iterable[Any], budget: Budget, chars: int) -> Iterator[Any]:
    """A loop's iterable, counting turns and the literal text each turn writes (the budget's
    checks inlined, and the clock read every 16th turn: this runs for every turn)."""
    for item in iterable:
        budget.iterations += 1
        if chars:
            budget.allocated += chars
            if budget.allocated > budget.max_allocated:
                raise budget.too_much()
        if budget.iterations & 15 == 0:
            budget.turns()
        yield item


class Counted:
    """A recursive loop's iterable (``loop(children)`` finds ``chars`` on it to go one level down)."""

    __slots__ = ("_budget", "_iterator", "chars")

    def __init__(self, iterable: Iterable[Any], budget: Budget, chars: int) -> None:
        self._iterator = iter(iterable)
        self._budget = budget
        self.chars = chars

    def __iter__(self) -> Counted:
        return self

    def __next__(self) -> Any:
        item = next(self._iterator)
        budget = self._budget
        budget.iterations += 1
        budget.allocate(self.chars)
        budget.turns()
        return item
