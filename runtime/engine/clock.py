"""When each node of a run started, how long it took and how it ended.

A run in flight keeps these in one flat list indexed by the node's plan index rather than an
object per node: with a thousand runs in flight, every object per node is a thousand more for
the garbage collector to count and walk. ``NodeTiming`` objects are made only when asked for.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

_WIDTH = 5  # start_ms, duration_ms, status, cache, error
_NOT_STARTED = None


@dataclass(slots=True)
class NodeTiming:
    start_ms: float
    duration_ms: float = 0.0
    status: str = "running"  # succeeded | fallback | continued | failed | skipped | cancelled
    cache: str = "off"
    error: str | None = None


class NodeClock:
    """Per-node timing of one run; ``ids[i]`` names the node with plan index ``i``."""

    __slots__ = ("ids", "cells")

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids  # the plan's list, shared by every run of it
        self.cells: list[Any] = [_NOT_STARTED] * (len(ids) * _WIDTH)

    def started(self, i: int, start_ms: float, status: str = "running", cache: str = "off") -> None:
        j = i * _WIDTH
        cells = self.cells
        cells[j] = start_ms
        cells[j + 1] = 0.0
        cells[j + 2] = status
        cells[j + 3] = cache
        cells[j + 4] = None

    def ended(self, i: int, duration_ms: float, status: str, cache: str = "off", error: str | None = None) -> None:
        j = i * _WIDTH
        cells = self.cells
        cells[j + 1] = duration_ms
        cells[j + 2] = status
        cells[j + 3] = cache
        cells[j + 4] = error

    def status(self, i: int) -> str | None:
        """The node's status, ``None`` if it never started."""
        return self.cells[i * _WIDTH + 2]  # type: ignore[no-any-return]

    def timings(self) -> dict[str, NodeTiming]:
        """Every node that started, in the order they started."""
        return timings_of(self.ids, self.cells)

    def frozen(self) -> tuple[Any, ...]:
        """The cells as a tuple of plain values, for a result to keep: the collector stops
        tracking such a tuple, where the list would stay one more object per kept result."""
        return tuple(self.cells)


def timings_of(ids: list[str], cells: Sequence[Any]) -> dict[str, NodeTiming]:
    """``NodeTiming`` per started node, in start order, from a clock's cells."""
    started = [i for i in range(len(ids)) if cells[i * _WIDTH] is not _NOT_STARTED]
    started.sort(key=lambda i: cells[i * _WIDTH])
    return {ids[i]: NodeTiming(*cells[i * _WIDTH : i * _WIDTH + _WIDTH]) for i in started}
