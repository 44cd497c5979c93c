"""Metrics through Redis: app processes push rows, ``akis worker`` moves them to the database.

With a queue configured, the serving processes never write metrics to the database: rows are
buffered and pushed in batches to one Redis list, and a worker cron pops batches and inserts
each with one statement. LPOP is atomic, so several workers never insert the same row.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from runtime.ports import MetricRow
from runtime.redis_clients import RedisTimeouts, redis_client

from ..db import Database
from ..metrics_sink import BufferedSink
from ..repos.metrics import add_metric_rows

METRICS_KEY = "akis:metrics"


def encode_row(row: MetricRow) -> str:
    data = row._asdict()
    data["created_at"] = row.created_at.isoformat()
    return json.dumps(data, ensure_ascii=False)


def decode_row(raw: bytes | str) -> MetricRow:
    data: dict[str, Any] = json.loads(raw)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    return MetricRow(**data)


class RedisMetricsSink(BufferedSink):
    def __init__(self, redis_url: str, *, key: str = METRICS_KEY, timeouts: RedisTimeouts | None = None,
                 **options: int | float) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.redis_url = redis_url
        self.key = key
        self.timeouts = timeouts  # None: the settings' defaults (a down Redis fails a batch, which waits)
        self._client: Any = None

    async def write_batch(self, rows: list[MetricRow]) -> None:
        if self._client is None:
            self._client = redis_client(self.redis_url, self.timeouts)
        await self._client.rpush(self.key, *[encode_row(r) for r in rows])

    async def aclose(self) -> None:
        await super().aclose()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def move_metrics(redis_client: Any, database: Database, *, key: str = METRICS_KEY,
                       batch_size: int = 1000, max_batches: int = 100) -> int:
    """Pop up to ``max_batches`` batches from Redis into the database; returns rows moved."""
    moved = 0
    for _ in range(max_batches):
        raw = await redis_client.lpop(key, batch_size)
        if not raw:
            break
        rows = [decode_row(item) for item in raw]
        try:
            await database.run(add_metric_rows, rows)
        except Exception:
            await redis_client.lpush(key, *reversed(raw))  # back to the head, in order
            raise
        moved += len(rows)
        if len(raw) < batch_size:
            break
    return moved
