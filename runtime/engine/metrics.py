"""The default metrics sink: rows kept in memory (bounded). Storage provides the database one."""
from __future__ import annotations

from collections import deque

from ..ports import MetricRow


class MemoryMetricsSink:
    def __init__(self, maxlen: int = 100_000) -> None:
        self.rows: deque[MetricRow] = deque(maxlen=maxlen)

    def record(self, row: MetricRow) -> None:
        self.rows.append(row)

    async def flush(self) -> None:
        return None
