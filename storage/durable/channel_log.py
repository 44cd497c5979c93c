"""What a run's earlier attempts published on its channel, and what a new attempt publishes
first: a resumed run's events continue the same numbering, so a client that resumes with
``Last-Event-ID`` reads one stream (docs/durable_runs.md, "Events of a resumed run")."""
from __future__ import annotations

from typing import Any

from runtime.channels.redis_hub import RedisChannelHub, decode
from runtime.engine.resume import Known
from runtime.events import MESSAGE_CHUNK, NODE_RESTARTED, RUN_RESUMED, Event


async def published(hub: RedisChannelHub, client: Any, channel: str, start_cursor: int,
                    run_id: str) -> tuple[int, list[str]]:
    """The highest event index the run published after ``start_cursor``, and the nodes that
    streamed text (``client``: a Redis client whose reads may take long, the queue's)."""
    key = hub.stream_key(channel)
    position, last, streamed = f"{start_cursor + 1}-0", -1, []
    while True:
        entries = await client.xrange(key, min=position, max="+", count=1000)
        if not entries:
            break
        for entry_id, values in entries:
            event = decode(entry_id, values)
            if event.run_id == run_id:
                last = max(last, event.index)
                if event.event == MESSAGE_CHUNK and event.node_id and event.node_id not in streamed:
                    streamed.append(event.node_id)
        raw = entries[-1][0]
        position = "(" + (raw.decode() if isinstance(raw, bytes) else str(raw))
    return last, streamed


def announce_resume(hub: RedisChannelHub, channel: str, run_id: str, attempt: int, known: Known, last: int,
                    streamed: list[str]) -> int:
    """Publish ``run.resumed`` and one ``node.restarted`` per streaming node whose text was cut,
    after index ``last``; the index the new attempt's own events start from."""
    index = last + 1
    restarted = [node_id for node_id in streamed if node_id not in known]
    fence = (run_id, attempt)
    hub.publish(channel, Event(RUN_RESUMED, run_id, 0.0, index=index, status="resumed", extra={
        "attempt": attempt, "skipped": sorted(known), "restarted": restarted}), fence)
    for node_id in restarted:
        index += 1
        hub.publish(channel, Event(NODE_RESTARTED, run_id, 0.0, index=index, node_id=node_id, status="restarted"),
                    fence)
    return index + 1
