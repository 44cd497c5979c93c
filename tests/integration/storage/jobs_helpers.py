"""Shared pieces of the queue tests: unique names in Redis, cleanup, save_message jobs."""
from __future__ import annotations

import uuid
from typing import Any

from runtime.ports import BackgroundJob


class RedisNames:
    """Queue name and run-id prefix private to one test; ``cleanup`` removes its keys."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.token = uuid.uuid4().hex[:10]
        self.prefix = f"akis:test:{self.token}:"  # AKIS_QUEUE_PREFIX of the workers a test starts
        self.queue = f"{self.prefix}jobs"

    def run_id(self, n: int) -> str:
        return f"{self.token}-run-{n}"

    async def cleanup(self) -> None:
        import redis.asyncio as redis

        client = redis.from_url(self.redis_url)
        try:
            keys = [k async for k in client.scan_iter(match=f"*{self.token}*", count=1000)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


def save_job(
    run_id: str, n: int, *, turn: int | None = None, session: str | None = None, **extra: Any
) -> BackgroundJob:
    """The rendered config of a save_message node, as the engine queues it."""
    config: dict[str, Any] = {"user_message": f"question {n}", "answer": f"answer {n}", "turn": turn, **extra}
    return BackgroundJob(run_id, "6", "2", session or f"s{n}", "node_7", "save_message", config)
