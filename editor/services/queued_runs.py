"""Runs in queue mode (``AKIS_RUN_MODE``): the web process stores the run ``queued`` and puts it
on the Redis run queue; an ``akis worker`` executes it (storage/durable). The caller gets the
same :class:`StartedRun` as inline: its handle follows the run through the run's Redis channel
(every event reaches the listener) and ``await handle.result()`` gives the run's result, built
from its events; ``handle.cancel()`` asks whichever worker holds it, through Redis. Any web
process can resume (``Last-Event-ID``) or cancel any run: where its events are is in its row.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from redis.exceptions import RedisError

from runtime.channels import ChannelError, ChannelGap, ChannelUnavailable, channel_for
from runtime.channels.redis_hub import RedisChannelHub
from runtime.engine.clock import NodeTiming
from runtime.engine.engine import RunHandle
from runtime.engine.result import RunResult
from runtime.events import (
    MESSAGE_CHUNK,
    NODE_FAILED,
    NODE_FINISHED,
    NODE_RESTARTED,
    NODE_SKIPPED,
    NODE_STARTED,
    RUN_FINISHED,
    Event,
)
from runtime.flow.model import FlowDocument
from runtime.settings import AkisSettings
from storage.db import Database
from storage.durable import rows
from storage.durable.queue import QueueFull, RunQueue
from storage.durable.ticket import make_ticket
from storage.durable.wiring import run_queue
from storage.models import Run
from storage.recorder import RunLabels

from .active_runs import ActiveRun
from .errors import ServiceError

log = logging.getLogger(__name__)
Listener = Callable[[Event], None]
POLL_S = 0.5  # reading the run row while the channel cannot be followed
QUIET_S = 5.0  # no event of the run for this long: its row is read (did it end unrelayed?)
RESUBSCRIBE_S = 0.5  # the pause before a failed subscription to the run's channel is tried again


class Busy(ServiceError):
    """The run queue is over a limit: try again after ``retry_after_s`` (the API: 429)."""

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class QueueUnavailable(Exception):
    """The run could not be queued (Redis down): the runs service runs it inline instead."""


class RemoteRunHandle(RunHandle):
    """A :class:`RunHandle` for a run executing in a worker: ``result()`` ends with the run."""

    def __init__(self, run_id: str, task: asyncio.Task[RunResult], cancel: Callable[[], None]) -> None:
        self.run_id = run_id
        self._task = task
        self._cancel = cancel

    def cancel(self) -> None:
        self._cancel()


class Transcript:
    """A run's result, from its events: what a follower in another process can know."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.ids: list[str] = []
        self.timings: dict[str, NodeTiming] = {}
        self.texts: dict[str, list[str]] = {}
        self.first_chunk_ms: float | None = None
        self.last_chunk_ms: float | None = None
        self.finished: Event | None = None

    def observe(self, event: Event) -> None:
        name, node = event.event, event.node_id
        if name == NODE_STARTED and node:
            if node not in self.timings:
                self.ids.append(node)
            self.timings[node] = NodeTiming(event.t_ms)
        elif name in (NODE_FINISHED, NODE_FAILED, NODE_SKIPPED) and node:
            timing = self.timings.get(node)
            if timing is None:
                self.ids.append(node)
                timing = self.timings[node] = NodeTiming(event.t_ms)
            timing.duration_ms, timing.status = event.duration_ms or 0.0, event.status or "succeeded"
            timing.cache, timing.error = event.cache or "off", event.error
        elif name == MESSAGE_CHUNK and node:
            self.texts.setdefault(node, []).append(event.text or "")
            self.first_chunk_ms = event.t_ms if self.first_chunk_ms is None else self.first_chunk_ms
            self.last_chunk_ms = event.t_ms
        elif name == NODE_RESTARTED and node:
            self.texts.pop(node, None)  # the node's text starts again
        elif name == RUN_FINISHED:
            self.finished = event

    def result(self) -> RunResult:
        end = self.finished
        assert end is not None
        answer = end.extra.get("answer")
        if not isinstance(answer, str):
            answer = "".join(next(reversed(self.texts.values()), []))
        return RunResult(run_id=self.run_id, status=end.status or "failed", output=dict(end.output or {}),
                         node_ids=list(self.ids), node_timings=[self.timings[i] for i in self.ids],
                         total_ms=end.duration_ms or 0.0, first_chunk_ms=self.first_chunk_ms,
                         last_chunk_ms=self.last_chunk_ms, error=end.error,
                         failed_node=end.node_id if end.status == "failed" else None, answer=answer,
                         usage=dict(end.usage or {}))


class QueuedRuns:
    """The web side of queue mode: enqueue, follow, locate and cancel runs."""

    def __init__(self, database: Database, hub: RedisChannelHub, queue: RunQueue, *, limit: int,
                 tenant_limit: int) -> None:
        self.database = database
        self.hub = hub
        self.queue = queue
        self.limit = limit
        self.tenant_limit = tenant_limit
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, tenant: str, document: FlowDocument, inputs: dict[str, Any], *, session: str,
                    version: int | None, listener: Listener | None, trace_parent: Mapping[str, str] | None,
                    labels: RunLabels, channel: str, cursor: int) -> tuple[str, RemoteRunHandle, ActiveRun]:
        """Store and queue the run; :class:`QueueFull` over a limit (nothing is stored then)."""
        run_id = uuid.uuid4().hex
        flow_id = str(document.flow_id)
        stored, request = await self.database.run_statement(
            rows.create_queued, tenant, run_id, flow_id, flow_version=version, session_id=session,
            inputs={**inputs, "session_id": session}, labels=labels, document=document.dump(), start_cursor=cursor,
            trace_parent=dict(trace_parent) if trace_parent else None)
        try:
            await self.queue.enqueue(tenant, run_id, limit=self.limit, tenant_limit=self.tenant_limit,
                                     ticket=make_ticket(stored, request))
        except QueueFull as exc:
            await self.database.run(rows.delete_queued, tenant, run_id)
            raise Busy(str(exc), exc.retry_after_s) from None
        except (OSError, RedisError) as exc:  # Redis stopped answering since the cursor was read
            await self.database.run(rows.delete_queued, tenant, run_id)
            raise QueueUnavailable(f"the run queue (Redis) is not answering ({type(exc).__name__})") from exc
        except BaseException:
            await self.database.run(rows.delete_queued, tenant, run_id)
            raise
        task = asyncio.get_running_loop().create_task(self._follow(tenant, run_id, channel, cursor, listener),
                                                      name=f"akis-follow-{run_id}")
        handle = RemoteRunHandle(run_id, task, lambda: self._spawn(self.cancel(tenant, run_id)))
        entry = ActiveRun(run_id, tenant, flow_id, channel, cursor, handle, remote=True)
        return run_id, handle, entry

    async def _follow(self, tenant: str, run_id: str, channel: str, cursor: int,
                      listener: Listener | None) -> RunResult:
        """Every event of the run to the listener until ``run.finished`` (see :meth:`events`)."""
        transcript = Transcript(run_id)
        async for event in self.events(tenant, run_id, channel, cursor):
            transcript.observe(event)
            if listener is not None:
                try:
                    listener(event)
                except Exception:  # a listener's bug never stops the following
                    log.exception("a run listener failed on %s", event.event)
        return transcript.result()

    async def events(self, tenant: str, run_id: str, channel: str, cursor: int,
                     after_index: int = -1) -> AsyncIterator[Event]:
        """The run's events with an index above ``after_index``, until ``run.finished``, whatever
        the relay does. The channel is read by a task of its own that takes a dropped
        subscription up again from the last cursor it read (Redis slow or away for a while: a
        resuming client used to get a stream that ended early, again and again); an event
        written twice (a write retried after an unclear failure) is passed on once; and when
        nothing comes for ``QUIET_S`` (``POLL_S`` while the channel fails) the run row is read:
        a run that ended while its events could not be relayed ends here too, with a
        ``run.finished`` made from its row, instead of a wait that never ends."""
        inbox: asyncio.Queue[Event | BaseException] = asyncio.Queue()
        stop = asyncio.Event()  # set at run.finished: the reader ends after its read under way
        reader = asyncio.get_running_loop().create_task(self._read(run_id, channel, cursor, inbox, stop))
        self._tasks.add(reader)
        reader.add_done_callback(self._tasks.discard)
        last, quiet_s = after_index, QUIET_S
        try:
            while True:
                try:
                    async with asyncio.timeout(quiet_s):  # not wait_for: it makes a task per event
                        item = await inbox.get()
                except TimeoutError:
                    row = await self.database.run(rows.status_of, tenant, run_id)
                    if row is None or row.status in rows.TERMINAL:
                        finished = finished_from_row(run_id, tenant, row)
                        finished.index = last + 1
                        yield finished
                        return
                    continue
                if isinstance(item, BaseException):
                    quiet_s = POLL_S
                    continue
                quiet_s = QUIET_S
                if item.index <= last:
                    continue  # already passed on (or before what the caller has)
                last = item.index
                if item.event == RUN_FINISHED:
                    stop.set()
                    yield item
                    return
                yield item
        finally:
            if not stop.is_set():  # the caller left early (or the row told the end): no read to wait for
                reader.cancel()

    async def _read(self, run_id: str, channel: str, cursor: int,
                    inbox: asyncio.Queue[Event | BaseException], stop: asyncio.Event) -> None:
        """The run's events from its channel into ``inbox``; a failure is put there too (the
        follower then reads the row more often) and the channel is read again after a pause."""
        position = cursor
        while True:
            try:
                async for event in self.hub.subscribe(channel, after=position, stop=stop):
                    position = int(event.extra.get("cursor", position + 1))
                    if event.run_id == run_id:
                        inbox.put_nowait(event)
                return  # the run finished, or the hub was closed (this process is stopping): the row tells the end
            except ChannelGap as exc:  # trimmed away: what is left, then the row tells the end
                log.warning("run %s: %s", run_id, exc)
                position = exc.oldest - 1
                inbox.put_nowait(exc)
            except (ChannelUnavailable, ChannelError) as exc:
                inbox.put_nowait(exc)
                await asyncio.sleep(RESUBSCRIBE_S)

    async def cancel(self, tenant: str, run_id: str) -> bool:
        """Cancel from any process: a queued run ends here; a running one is stopped by its worker."""
        row = await self.database.run(rows.status_of, tenant, run_id)
        if row is None or row.status in rows.TERMINAL:
            return False
        await self.queue.cancel(run_id)
        if row.status == "queued" and await self.database.run(rows.end_unheld, tenant, run_id, "cancelled",
                                                              "the run was cancelled before it started"):
            self.hub.publish(channel_for(tenant, row.session_id),
                             Event(RUN_FINISHED, run_id, 0.0, status="cancelled", tenant_id=tenant,
                                   flow_id=row.flow_id, error="the run was cancelled before it started"))
        return True

    async def locate(self, tenant: str, run_id: str) -> ActiveRun | None:
        """Where a queued run's events are (any process's run): None for an unknown one."""
        row = await self.database.run(rows.status_of, tenant, run_id)
        request = await self.database.run(rows.request, tenant, run_id) if row is not None else None
        if row is None or request is None:
            return None
        return ActiveRun(run_id, tenant, row.flow_id, channel_for(tenant, row.session_id), request.start_cursor)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):  # readers finishing their last read, cancels under way
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.queue.aclose()




def finished_from_row(run_id: str, tenant: str, row: Run | None) -> Event:
    """``run.finished`` as the run's row tells it (its events could not all be relayed)."""
    if row is None:
        return Event(RUN_FINISHED, run_id, 0.0, status="failed", tenant_id=tenant, error="the run's row is gone")
    output = dict(row.output or {})
    answer = next((v for v in output.values() if isinstance(v, str)), "")
    return Event(RUN_FINISHED, run_id, row.duration_ms or 0.0, status=row.status, error=row.error,
                 duration_ms=row.duration_ms, output=output, tenant_id=tenant, flow_id=row.flow_id,
                 session_id=row.session_id, extra={"answer": answer, "from_row": True})


def queued_runs(settings: AkisSettings, database: Database, hub: object) -> QueuedRuns | None:
    """Queue mode's web side when ``AKIS_RUN_MODE`` asks for it (by default: Redis is set), else None."""
    if not settings.queued_runs:
        return None
    if not settings.redis_url or not isinstance(hub, RedisChannelHub):
        raise ValueError("AKIS_RUN_MODE=queue needs Redis: set AKIS_REDIS_URL (workers take runs from it), "
                         "or AKIS_RUN_MODE=inline")
    return QueuedRuns(database, hub, run_queue(settings), limit=settings.run_queue_limit,
                      tenant_limit=settings.run_queue_tenant_limit)
