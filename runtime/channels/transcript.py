"""Rebuild what a subscriber saw: the answer text per node, checked chunk by chunk.

Chunks carry a per-node ``seq``; a transcript keeps them by ``(node, seq)``, so a chunk
delivered twice (a reconnect that overlapped) is counted once, and a missing ``seq`` is
reported rather than silently producing a shorter answer. So are events the relay lost while
Redis was down (a ``relay.degraded`` note in the channel): ``lost`` counts them.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ..events import BACKGROUND_FINISHED, MESSAGE_CHUNK, RELAY_DEGRADED, RUN_FINISHED, Event


@dataclass
class Transcript:
    run_id: str | None = None
    events: list[Event] = field(default_factory=list)
    chunks: dict[str, dict[int, str]] = field(default_factory=dict)  # node -> seq -> text
    finished: Event | None = None
    last_cursor: int = 0
    duplicates: int = 0
    lost: int = 0  # events the relay could not pass on (Redis was down): the answer is incomplete

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.last_cursor = int(event.extra.get("cursor", self.last_cursor))
        if event.event == MESSAGE_CHUNK and event.node_id is not None and event.seq is not None:
            node = self.chunks.setdefault(event.node_id, {})
            if event.seq in node:
                self.duplicates += 1
            node[event.seq] = event.text or ""
        elif event.event == RUN_FINISHED:
            self.finished = event
        elif event.event == RELAY_DEGRADED:
            self.lost += int(event.extra.get("lost", 0))

    def text(self, node_id: str | None = None) -> str:
        """The node's answer (or, without a node, every streaming node's text in order)."""
        nodes = [node_id] if node_id is not None else list(self.chunks)
        return "".join("".join(part for _, part in sorted(self.chunks.get(n, {}).items())) for n in nodes)

    def missing(self) -> dict[str, list[int]]:
        """Per node, the ``seq`` numbers that never arrived (below the highest that did)."""
        gaps: dict[str, list[int]] = {}
        for node, parts in self.chunks.items():
            absent = [s for s in range(max(parts) + 1) if s not in parts] if parts else []
            if absent:
                gaps[node] = absent
        return gaps


async def follow_run(events: AsyncIterator[Event], run_id: str | None = None) -> AsyncIterator[Event]:
    """The events of one run (``run_id``, or the first run seen) up to its ``run.finished``.

    Late ``background.finished`` events of an earlier run are skipped, not taken as the run.
    A ``relay.degraded`` note saying the run's ``run.finished`` was lost ends it too.
    """
    async for event in events:
        if run_id is None and event.event != BACKGROUND_FINISHED:
            run_id = event.run_id
        if run_id is not None and event.run_id != run_id:
            continue
        yield event
        if event.event == RUN_FINISHED or (event.event == RELAY_DEGRADED and event.extra.get("finished_lost")):
            return


async def collect_run(
    events: AsyncIterator[Event], run_id: str | None = None, into: Transcript | None = None
) -> Transcript:
    """Read one run into a :class:`Transcript` (``into`` continues one after a reconnect)."""
    transcript = into if into is not None else Transcript(run_id=run_id)
    async for event in follow_run(events, run_id or transcript.run_id):
        transcript.run_id = event.run_id
        transcript.add(event)
    return transcript
