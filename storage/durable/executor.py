"""What ``akis worker`` runs whole runs with (queue mode): it claims queued runs (tenants in
turn), holds each with a lease it renews (heartbeat), executes it with the engine, checkpoints
every node as it finishes, publishes its events on the run's Redis channel and writes its row.

A run whose worker died (lease expired) is taken over by any worker's reaper: it goes on from
the checkpoints (finished nodes are not executed again), after a ``run.resumed`` event and one
``node.restarted`` per streaming node whose text was cut, numbered after the events already
published, so a client resuming with ``Last-Event-ID`` reads one consistent stream. After
``max_attempts`` the run ends ``failed`` with the reason. The final row is written before
``run.finished`` is published, by the worker holding the lease only: exactly one result.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache

from runtime.channels.names import channel_for
from runtime.channels.redis_hub import RedisChannelHub
from runtime.closing import close_all
from runtime.engine.engine import Engine, RunHandle
from runtime.engine.inspect import NodeRecord, start_inspected_run
from runtime.engine.result import RunResult
from runtime.engine.resume import start_run
from runtime.engine.run import Run
from runtime.events import (
    NODE_FINISHED,
    RUN_FINISHED,
    Event,
)
from runtime.flow.loader import load_flow
from runtime.flow.model import FlowDocument
from runtime.logs import run_context

from ..db import Database
from ..recorder import RunLabels
from . import rows
from .channel_log import announce_resume, published
from .queue import RunQueue
from .ticket import read_ticket

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


@dataclass
class ExecutorOptions:
    concurrency: int = 4  # runs executed at once by this worker
    lease_s: float = 15.0
    max_attempts: int = 3
    idle_wait_s: float = 0.5  # an idle worker blocks on the wake list this long at a time
    name: str = field(default_factory=worker_name)
    inspect: bool = False  # record each node (AKIS_RUN_INSPECTION), as the web's runs do
    secrets: tuple[str, ...] = ()  # the server's secrets, masked in those records


class RunExecutor:
    def __init__(self, options: ExecutorOptions, database: Database, engine: Engine, hub: RedisChannelHub,
                 queue: RunQueue, cancel_client: Any = None) -> None:
        self.options = options
        self.database = database
        self.engine = engine
        self.hub = hub
        self.queue = queue
        self.cancel_client = cancel_client
        self.slots = asyncio.Semaphore(options.concurrency)
        self.held: dict[str, RunHandle] = {}
        self.labels: dict[str, RunLabels] = {}  # runs under way -> their experiment/evaluation (metric rows)
        self.observe: Callable[[str, str], Callable[[Event], None]] | None = None  # (tenant, flow) -> its metrics
        self.executed = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._documents: LRUCache[str, FlowDocument] = LRUCache(maxsize=256)
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._claim_loop(), name="akis-runs-claim"),
                       loop.create_task(self._heartbeat_loop(), name="akis-runs-heartbeat"),
                       loop.create_task(self._reaper_loop(), name="akis-runs-reaper")]
        if self.cancel_client is not None:
            self._loops.append(loop.create_task(self._cancel_loop(), name="akis-runs-cancel"))
        log.info("akis worker %s: executing runs, %d at once, lease %.0f s", self.options.name,
                 self.options.concurrency, self.options.lease_s)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming; give running runs ``grace_s`` to finish. One still running then is
        left to its lease: another worker takes it over from its checkpoints."""
        self._stopping = True
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        closers = [self.hub.aclose, self.queue.aclose, getattr(self.engine.background, "aclose", None),
                   getattr(self.engine.metrics, "aclose", None),
                   self.cancel_client.aclose if self.cancel_client is not None else None]
        await close_all(closers)

    # -- loops --------------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        while not self._stopping:
            await self.slots.acquire()
            try:
                claimed = await self.queue.claim()
            except Exception as exc:  # noqa: BLE001 - Redis down: wait and try again
                self.slots.release()
                log.warning("claiming a run failed: %s", exc)
                await asyncio.sleep(1.0)
                continue
            if claimed is None:
                self.slots.release()
                try:
                    await self.queue.wait(self.options.idle_wait_s)
                except Exception as exc:  # noqa: BLE001 - Redis down: wait and try again
                    log.warning("waiting for runs failed: %s", exc)
                    await asyncio.sleep(1.0)
                continue
            self._spawn(claimed.tenant_id, claimed.run_id, claimed.cancelled, claimed.ticket)

    def _spawn(self, tenant_id: str, run_id: str, cancelled: bool | None = None,
               ticket: bytes | str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(tenant_id, run_id, cancelled, ticket),
                                                      name=f"akis-run-{run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, tenant_id: str, run_id: str, cancelled: bool | None, ticket: bytes | str | None) -> None:
        try:
            with run_context(run_id, tenant_id):
                await self.execute(tenant_id, run_id, cancelled, ticket)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("run %s could not be executed; its lease will expire and it is retried", run_id)
        finally:
            self.held.pop(run_id, None)
            self.slots.release()

    async def _heartbeat_loop(self) -> None:
        period = self.options.lease_s / 3
        while True:
            await asyncio.sleep(period)
            ids = list(self.held)
            if not ids:
                continue
            try:
                kept = await self.database.run(rows.heartbeat, ids, self.options.name, self.options.lease_s)
            except Exception as exc:  # noqa: BLE001 - the database is down: the next beat tries again
                log.warning("renewing %d run lease(s) failed: %s", len(ids), exc)
                continue
            for run_id in set(ids) - kept:
                handle = self.held.pop(run_id, None)
                if handle is not None and not handle.done():
                    log.warning("lost the lease of run %s (another worker took it over): stopping it here", run_id)
                    handle.cancel()

    async def _reaper_loop(self) -> None:
        """Runs whose worker died: take them over (free slots only) or, after the last attempt, fail them."""
        while True:
            await asyncio.sleep(self.options.lease_s / 3 * (0.5 + random.random()))
            try:
                stale = await self.database.run(rows.expired)
            except Exception as exc:  # noqa: BLE001 - the database is down: try again later
                log.warning("looking for expired runs failed: %s", exc)
                continue
            for run in stale:
                if run.id in self.held:
                    continue  # this worker's own run, its heartbeat late (a busy machine): the next one renews it
                if run.attempts >= self.options.max_attempts:
                    await self._give_up(run.tenant_id, run.id, run.session_id, run.attempts, run.worker)
                elif not self.slots.locked() and not self._stopping:
                    await self.slots.acquire()
                    log.warning("run %s: its worker %s stopped renewing its lease; taking it over", run.id, run.worker)
                    self._spawn(run.tenant_id, run.id)
            await self._recover_lost_claims()
            await self._recover_unqueued()

    async def _recover_lost_claims(self) -> None:
        """Runs popped from the queue by a worker that died before taking their row: queue them again."""
        try:
            stale = await self.queue.stale_claims(self.options.lease_s)
            if not stale:
                return
            waiting = await self.database.run(rows.still_queued, [run_id for _, run_id in stale])
            for tenant_id, run_id in stale:
                if run_id not in waiting:
                    await self.queue.settle(tenant_id, run_id)
                elif await self.queue.requeue(tenant_id, run_id):
                    log.warning("run %s was claimed from the queue but never started; queued again", run_id)
        except Exception as exc:  # noqa: BLE001 - Redis or the database down: the next round tries again
            log.warning("recovering lost claims failed: %s", exc)

    async def _recover_unqueued(self) -> None:
        """Runs stored ``queued`` by a web process that died before queueing them: queue them."""
        try:
            for tenant_id, run_id in await self.database.run(rows.long_queued, self.options.lease_s):
                if await self.queue.restore(tenant_id, run_id):
                    log.warning("run %s was stored but never queued (its web process stopped); queued now", run_id)
        except Exception as exc:  # noqa: BLE001 - Redis or the database down: the next round tries again
            log.warning("recovering unqueued runs failed: %s", exc)

    async def _cancel_loop(self) -> None:
        pubsub = self.cancel_client.pubsub()
        await pubsub.subscribe(self.queue.cancel_channel)
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                data = message.get("data")
                run_id = data.decode() if isinstance(data, bytes) else str(data)
                handle = self.held.get(run_id)
                if handle is not None and not handle.done():
                    handle.cancel()
        finally:
            await pubsub.aclose()

    # -- one run ------------------------------------------------------------------------------
    async def execute(self, tenant_id: str, run_id: str, cancelled: bool | None = None,
                      ticket: bytes | str | None = None) -> None:
        """Claim, run from the checkpoints, finish; nothing when another worker holds the run.
        ``cancelled``: whether a cancel came while it was queued (None: ask Redis). ``ticket``:
        a first attempt's request from the queue (``ticket.py``): its row is taken with one
        prebuilt statement instead of being read."""
        opts = self.options
        claim = read_ticket(tenant_id, run_id, ticket) if not cancelled else None
        if claim is not None:
            # taken before any node starts: a node of a run whose row was never taken could make a
            # side effect that the attempt which does take it makes again (tests/cluster/test_chaos.py)
            if not await self.database.run_statement(rows.take_queued, tenant_id, run_id, opts.name, opts.lease_s):
                log.warning("run %s: its row was not this worker's to take (cancelled or taken): not started", run_id)
                return
        else:
            claim = await self.database.run(rows.claim_run, tenant_id, run_id, opts.name, opts.lease_s)
        if claim is None:
            return
        row, request, known = claim.run, claim.request, claim.known
        channel = channel_for(tenant_id, row.session_id)
        if request is None:
            await self._end(tenant_id, run_id, channel, "failed", "the run's request is missing", 0, worker=opts.name)
            return
        if cancelled is None:
            cancelled = await self.queue.cancel_requested(run_id)
        if cancelled:
            await self._end(tenant_id, run_id, channel, "cancelled", "the run was cancelled", 0, worker=opts.name)
            return
        base = 0
        if row.attempts > 1:  # the earlier attempt's worker may still be publishing: fence it off first
            await self.hub.raise_fence(channel, run_id, row.attempts)
            last, streamed = await published(self.hub, self.queue.client, channel, request.start_cursor, run_id)
            base = announce_resume(self.hub, channel, run_id, row.attempts, known, last, streamed)
        document = self._document(request.document)
        inputs = {k: v for k, v in row.inputs.items() if k != "session_id"}
        writes: list[asyncio.Task[bool]] = []
        finished: list[Event] = []
        # run.finished waits for the row; what comes after it (background nodes ending) waits for
        # run.finished, so a client resuming after any id still gets run.finished
        after: list[Event] = []
        gate_open: list[bool] = []
        holder: list[Run] = []
        checkpointed: set[str] = set()
        hub = self.hub
        watch = self.observe(tenant_id, row.flow_id) if self.observe is not None else None
        fence = (run_id, row.attempts)  # this attempt's events: refused once another attempt took over

        def on_event(event: Event) -> None:
            if watch is not None:
                watch(event)
            event.index += base
            if event.event == NODE_FINISHED and event.node_id in checkpointed:
                run = holder[0]
                output = run.results.get(event.node_id)
                if output is not None and event.node_id not in known:
                    text = "".join(run.texts[event.node_id]) if event.node_id in run.texts else None
                    writes.append(asyncio.get_running_loop().create_task(self._checkpoint(
                        hub.mark(), tenant_id, run_id, event.node_id, output, text, row.attempts)))
            elif event.event == RUN_FINISHED:
                if holder:
                    event.extra = {**event.extra, "answer": _answer(holder[0])}
                finished.append(event)  # published once the row is written
                return
            if finished and not gate_open:
                after.append(event)
                return
            hub.publish(channel, event, fence)

        labels = RunLabels(row.experiment_id, row.variant, row.evaluation_id)
        records: list[NodeRecord] = []  # inspected runs: each node's record, written with the row's end
        try:
            started: dict[str, Any] = {"tenant_id": tenant_id, "session_id": row.session_id, "run_id": run_id,
                                       "on_event": on_event, "trace_parent": request.trace_parent or None,
                                       "trace_attributes": labels.span_attributes()}
            run: Run
            if opts.inspect:
                run, handle = start_inspected_run(self.engine, document, inputs, known=known,
                                                  sink=lambda _, nodes: records.extend(nodes), **started)
            else:
                run, handle = start_run(self.engine, document, inputs, known, **started)
        except Exception as exc:  # noqa: BLE001 - e.g. a plugin this worker lacks: trying again would not help
            await self._end(tenant_id, run_id, channel, "failed", f"the run could not start on worker {opts.name}: "
                            f"{exc}", row.attempts, worker=opts.name)
            return
        holder.append(run)
        self.labels[run_id] = labels
        # Nodes that never suspend do no I/O: executing one again is harmless and cheaper than a
        # checkpoint write. Those that suspend (requests, models, plugins) are checkpointed.
        checkpointed.update(node.id for node in run.plan.nodes if not node.inline and not node.background)
        self.held[run_id] = handle
        try:
            result: RunResult | None = await handle.result()
        except asyncio.CancelledError:
            if self._stopping:
                raise  # shutting down: the lease runs out and another worker takes the run over
            result = None  # cancelled by its user (Redis) or because this worker lost the lease
        if writes:
            await asyncio.gather(*writes, return_exceptions=True)
        drain = getattr(self.engine.background, "drain", None)
        if drain is not None:
            await drain(10.0)  # background jobs (saves) are safely queued before the run counts as done
        self.labels.pop(run_id, None)  # the sink kept the labels of the rows it still holds
        if self.held.pop(run_id, None) is None:
            return  # the lease was lost: the worker that took the run over writes its result
        event = finished[0] if finished else None
        fields = rows.final_columns(result, event)
        if await self.database.run(rows.finish, tenant_id, run_id, opts.name, nodes=records, secrets=opts.secrets,
                                   **fields):
            self.executed += 1
            if event is not None:
                hub.publish(channel, event, fence)
            gate_open.append(True)
            for later in after:
                hub.publish(channel, later, fence)

    async def _checkpoint(self, mark: int, tenant_id: str, run_id: str, node_id: str, output: dict[str, Any],
                          text: str | None, attempt: int) -> bool:
        """A node's checkpoint, saved once its events (its chunks) are in the run's channel."""
        await self.hub.settled(mark)
        return await self.database.run(rows.save_checkpoint, tenant_id, run_id, node_id, output, text, attempt)

    async def _give_up(self, tenant_id: str, run_id: str, session_id: str, attempts: int, worker: str | None) -> None:
        reason = (f"the run was interrupted {attempts} time(s) (its worker stopped: last {worker or 'unknown'}) and "
                  f"is not tried again (AKIS_RUN_MAX_ATTEMPTS={self.options.max_attempts})")
        await self._end(tenant_id, run_id, channel_for(tenant_id, session_id), "failed", reason, attempts,
                        from_status=("running",))

    async def _end(self, tenant_id: str, run_id: str, channel: str, status: str, error: str, attempts: int,
                   worker: str | None = None, from_status: tuple[str, ...] = ("queued", "running")) -> None:
        """End a run that did not execute here, and tell its followers."""
        if worker is not None:
            ended = await self.database.run(rows.finish, tenant_id, run_id, worker, status=status, error=error)
        else:
            ended = await self.database.run(rows.end_unheld, tenant_id, run_id, status, error, from_status)
        if ended:
            log.warning("run %s ended %s: %s", run_id, status, error)
            last = -1
            request = await self.database.run(rows.request, tenant_id, run_id)
            if request is not None:
                last, _ = await published(self.hub, self.queue.client, channel, request.start_cursor, run_id)
            self.hub.publish(channel, Event(RUN_FINISHED, run_id, 0.0, index=last + 1, status=status, error=error,
                                            tenant_id=tenant_id, extra={"attempts": attempts}))

    def _document(self, data: dict[str, Any]) -> FlowDocument:
        """The run's flow, parsed once per distinct document (the engine caches plans by document)."""
        key = hashlib.sha1(json.dumps(data, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        document = self._documents.get(key)
        if document is None:
            document = self._documents[key] = load_flow(data)
        return document


def _answer(run: Run) -> str:
    """The text of the last streaming node that finished (as the run's result says)."""
    return run._last_answer()  # the run's own rule, read before its result exists


Factory = Callable[[], RunExecutor]
