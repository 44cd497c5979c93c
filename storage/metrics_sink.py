"""The runtime's MetricsSink port over ``tenant_flow_metrics``: buffered, batched, off the hot path.

``record`` appends to a bounded buffer and returns; a background task writes a batch (one
INSERT) every ``interval_s`` or as soon as ``batch_size`` rows are waiting. When the database
is down, rows stay buffered (up to ``max_buffer``; beyond that the oldest are dropped and
counted) and the next round retries.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from runtime.ports import MetricRow

from .db import Database
from .recorder import RunLabels
from .repos.metrics import add_metric_rows

log = logging.getLogger(__name__)



class BufferedSink:
    """Buffering and the flush task; subclasses say where a batch goes (``write_batch``)."""

    def __init__(self, *, batch_size: int = 500, interval_s: float = 1.0, max_buffer: int = 100_000) -> None:
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.max_buffer = max_buffer
        self.written = 0
        self.dropped = 0
        self.failed_batches = 0
        self._buffer: deque[MetricRow] = deque()
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the port -----------------------------------------------------------------------------
    def record(self, row: MetricRow) -> None:
        """Never blocks and never raises: the engine calls this for every node."""
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(row)
        if self._start_task() and len(self._buffer) >= self.batch_size:
            assert self._wakeup is not None
            self._wakeup.set()

    async def flush(self) -> None:
        """Write everything buffered now (tests, shutdown, the CLI)."""
        self._start_task()
        assert self._lock is not None
        async with self._lock:
            while self._buffer:
                if not await self._write_one_batch():
                    raise RuntimeError(f"metrics flush failed; {len(self._buffer)} rows still buffered")

    async def aclose(self) -> None:
        """Stop the flush task and write what is left (bounded by the caller's timeout)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._buffer:
            await self.flush()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    # -- where batches go ---------------------------------------------------------------------
    async def write_batch(self, rows: list[MetricRow]) -> None:
        raise NotImplementedError

    # -- internals ----------------------------------------------------------------------------
    def _start_task(self) -> bool:
        """Start (or restart, on a new event loop) the flush task; False outside a loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if self._loop is not loop or self._task is None or self._task.done():
            if self._loop is not loop:
                self._wakeup, self._lock, self._loop = asyncio.Event(), asyncio.Lock(), loop
            self._task = loop.create_task(self._run(), name="akis-metrics-flush")
        return True

    async def _run(self) -> None:
        assert self._wakeup is not None and self._lock is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.interval_s)
            self._wakeup.clear()
            async with self._lock:
                while self._buffer and await self._write_one_batch():
                    pass

    async def _write_one_batch(self) -> bool:
        batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
        try:
            await self.write_batch(batch)
        except Exception as exc:  # noqa: BLE001 - whatever the failure, the rows stay buffered for the next round
            self.failed_batches += 1
            log.warning("writing %d metric rows failed (%s); kept for the next round", len(batch), exc)
            self._buffer.extendleft(reversed(batch))
            while len(self._buffer) > self.max_buffer:
                self._buffer.pop()
                self.dropped += 1
            return False
        self.written += len(batch)
        return True


class SqlMetricsSink(BufferedSink):
    """Batches go straight to the database (embedded mode, or any process with a DB).

    ``labels_of`` (the run recorder's) names the experiment and variant of a run under way; they
    are looked up when a row arrives (the run may have ended by the time its batch is written)
    and kept per run until its rows are written."""

    def __init__(self, database: Database, *, batch_size: int = 500, interval_s: float = 1.0,
                 max_buffer: int = 100_000) -> None:
        super().__init__(batch_size=batch_size, interval_s=interval_s, max_buffer=max_buffer)
        self.database = database
        self.labels_of: Callable[[str], RunLabels | None] | None = None
        self._labels: dict[str, tuple[RunLabels, int]] = {}  # run id -> (labels, its rows not yet written)

    def record(self, row: MetricRow) -> None:
        if self.labels_of is not None:
            labels = self.labels_of(row.run_id)
            if labels is not None:
                held = self._labels.get(row.run_id)
                self._labels[row.run_id] = (labels, held[1] + 1 if held else 1)
        super().record(row)

    async def write_batch(self, rows: list[MetricRow]) -> None:
        if not self._labels:
            await self.database.run(add_metric_rows, rows)
            return
        labels = {row.run_id: held[0] for row in rows if (held := self._labels.get(row.run_id)) is not None}
        await self.database.run(add_metric_rows, rows, labels)
        for row in rows:
            held = self._labels.get(row.run_id)
            if held is not None:
                if held[1] <= 1:
                    del self._labels[row.run_id]
                else:
                    self._labels[row.run_id] = (held[0], held[1] - 1)
