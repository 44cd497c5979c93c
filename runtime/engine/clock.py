"""When each node of a run started, how long it took and how it ended."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class NodeTiming:
    start_ms: float
    duration_ms: float = 0.0
    status: str = "running"  # succeeded | fallback | continued | failed | skipped | cancelled
    cache: str = "off"
    error: str | None = None


class NodeClock:
    """Per-node timing of one run: ``by_index[i]`` is the node with plan index ``i``, ``None``
    until it starts; ``ids[i]`` names it."""

    __slots__ = ("by_index", "ids")

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids  # the plan's list, shared by every run of it
        self.by_index: list[NodeTiming | None] = [None] * len(ids)

    def started(self, i: int, start_ms: float, status: str = "running", cache: str = "off") -> None:
        self.by_index[i] = NodeTiming(start_ms, 0.0, status, cache)

    def ended(self, i: int, duration_ms: float, status: str, cache: str = "off", error: str | None = None) -> None:
        timing = self.by_index[i]
        assert timing is not None, "a node ends only after it started"
        timing.duration_ms, timing.status, timing.cache, timing.error = duration_ms, status, cache, error

    def status(self, i: int) -> str | None:
        """The node's status, ``None`` if it never started."""
        timing = self.by_index[i]
        return timing.status if timing is not None else None

    def timings(self) -> dict[str, NodeTiming]:
        """Every node that started, in the order they started."""
        return in_start_order(self.ids, self.by_index)


def in_start_order(ids: Sequence[str], timings: Sequence[NodeTiming | None]) -> dict[str, NodeTiming]:
    """Each node that started, by id, in the order they started."""
    started = [(timing, i) for i, timing in enumerate(timings) if timing is not None]
    started.sort(key=lambda pair: pair[0].start_ms)  # stable: a tie keeps plan order
    return {ids[i]: timing for timing, i in started}
