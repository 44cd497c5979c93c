"""Typed run events: what the engine tells subscribers (canvas, CLI, SSE, channels).

One small slotted dataclass instead of a class hierarchy keeps emission cheap on the hot
path (the engine emits several per node) while every field stays named and typed.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

EventName = Literal[
    "run.started",
    "node.started",
    "message.chunk",
    "node.finished",
    "node.failed",
    "node.skipped",
    "run.finished",
    "background.finished",
    "relay.degraded",
    "run.resumed",
    "node.restarted",
    "node.step",
]

RUN_STARTED: EventName = "run.started"
NODE_STARTED: EventName = "node.started"
MESSAGE_CHUNK: EventName = "message.chunk"
NODE_FINISHED: EventName = "node.finished"
NODE_FAILED: EventName = "node.failed"
NODE_SKIPPED: EventName = "node.skipped"
RUN_FINISHED: EventName = "run.finished"
BACKGROUND_FINISHED: EventName = "background.finished"
# Not emitted by the engine: a channel's note that some of a run's events could not be relayed
# (Redis was down); ``extra`` holds ``lost`` and ``finished_lost``. See runtime/channels/redis_hub.py.
RELAY_DEGRADED: EventName = "relay.degraded"
# Durable runs (queue mode): a worker took the run over after its holder died and goes on from
# the checkpoints (``extra``: attempt, skipped nodes); then one ``node.restarted`` per streaming
# node whose text was interrupted: a client drops what it showed of that node's text.
RUN_RESUMED: EventName = "run.resumed"
NODE_RESTARTED: EventName = "node.restarted"

# A part of a node's work, once it is over (an agent's model turn or tool call, a sub-flow's
# inner node, an iteration's item): ``extra`` holds ``step``, ``kind``, ``start_ms``, ``label``.
NODE_STEP: EventName = "node.step"

CacheOutcome = Literal["hit", "miss", "off"]


_ROUNDED = {"t_ms", "duration_ms"}


class _NoExtra(Mapping[str, Any]):
    """The shared empty ``extra``: reads as an empty mapping, has no way to be written."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


NO_EXTRA: Mapping[str, Any] = _NoExtra()


@dataclass(slots=True)
class Event:
    """One engine event. Fields that do not apply to an event kind stay ``None``.

    ``index`` numbers every event of a run from 0 (SSE ``id:`` and resume use it);
    ``seq`` numbers the chunks of one node from 0.
    """

    event: EventName
    run_id: str
    t_ms: float
    index: int = 0
    node_id: str | None = None
    node_type: str | None = None
    # message.chunk
    text: str | None = None
    seq: int | None = None
    # node.finished / node.failed / run.finished / background.finished
    duration_ms: float | None = None
    cache: CacheOutcome | None = None
    status: str | None = None
    error: str | None = None
    # run.started / run.finished
    flow_id: str | None = None
    tenant_id: str | None = None
    session_id: str | None = None
    output: dict[str, Any] | None = None
    usage: dict[str, int] | None = None
    # anything else (a channel cursor, a partial answer); read-only unless given: most events
    # carry none, and an empty dict per event is a cost on the hot path
    extra: Mapping[str, Any] = NO_EXTRA

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict without the fields that do not apply."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if name == "extra":
                out.update(value)
            elif value is not None:
                out[name] = round(value, 3) if name in _ROUNDED else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Inverse of :meth:`to_dict` (used by channels that cross processes)."""
        known = {k: v for k, v in data.items() if k in cls.__slots__ and k != "extra"}
        extra = {k: v for k, v in data.items() if k not in cls.__slots__}
        return cls(**known, extra=extra)
