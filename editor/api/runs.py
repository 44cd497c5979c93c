"""Running flows over HTTP: the result as JSON, or the run's events as Server-Sent Events.

A streamed run is not cancelled when its client goes away: it finishes, is recorded, and the
client can come back with ``Last-Event-ID`` (``GET /api/runs/{run_id}/events``) or follow
the conversation's channel. ``POST /api/runs/{run_id}/cancel`` stops it.

When the cross-process relay (Redis) is down, a run does not wait for it: the hub answers at
once (or within one bounded call that opens its breaker), the run streams to its caller as
always, and says so: a ``relay.degraded`` SSE frame, ``X-Akis-Relay: degraded``, and
``"relay": "degraded"`` in the JSON result. Such a run's events are also kept in this process,
so ``GET /api/runs/{run_id}/events`` still resumes it.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from editor.auth.principal import Principal
from runtime import Engine
from runtime.channels import ChannelHub, ChannelUnavailable
from runtime.channels.names import DEGRADED
from runtime.engine.engine import InputError, channel_for
from runtime.errors import AkisError, FlowLoadError, FlowValidationError
from runtime.events import RUN_FINISHED, Event
from runtime.flow.model import FlowDocument

from . import sse
from .active import ActiveRun, ActiveRuns
from .deps import not_found, principal_dependency
from .documents import DocumentCache, read_stored, unreadable
from .limits import origin_allowed, parse_origins
from .models import RunOut, RunRequest, StoredRun

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
          "description": "The result as JSON, or with Accept: text/event-stream the run's events"},
}


def problems_response(problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(
        {"detail": f"the flow has {len(problems)} problem(s) and cannot run", "problems": problems}, status_code=422
    )


def result_out(result: Any, flow_id: str, channel: str, relay: str | None = None) -> dict[str, Any]:
    from dataclasses import asdict

    nodes = {node_id: asdict(timing) for node_id, timing in (result.nodes or {}).items()}
    return {
        "run_id": result.run_id, "flow_id": flow_id, "status": result.status, "answer": result.answer,
        "output": result.output, "error": result.error, "failed_node": result.failed_node,
        "total_ms": result.total_ms, "first_chunk_ms": result.first_chunk_ms, "usage": result.usage,
        "channel": channel, "nodes": nodes, "relay": relay,
    }


def relay_state(hub: Any, entry: ActiveRun) -> str:
    """``off`` (no hub), ``degraded`` (subscribers elsewhere could not follow all of the run:
    the relay was down at its start, is down now, or lost some of its events), else ``ok``."""
    if hub is None:
        return "off"
    lost = getattr(hub, "lost", None)
    if entry.local is not None or not getattr(hub, "available", True) or (lost and lost(entry.channel, entry.run_id)):
        return "degraded"
    return "ok"


def relay_frame(entry: ActiveRun, detail: str) -> bytes:
    """Told to the run's own stream once: not an event of the run, so it has no ``id:``."""
    return sse.frame("relay.degraded", {"event": "relay.degraded", "run_id": entry.run_id, "channel": entry.channel,
                                        "detail": detail})


def build_router(context: Any, active: ActiveRuns) -> APIRouter:
    from storage.errors import StorageError
    from storage.repos import flows as flows_repo
    from storage.repos import runs as runs_repo

    router = APIRouter(prefix="/api", tags=["runs"])
    require = principal_dependency(context)
    engine: Engine = context.engine
    allowed = parse_origins(context.settings.allowed_origins)

    documents = DocumentCache()
    # Events of runs started while the relay was down, kept here so their own stream resumes.
    kept = ChannelHub(max_events=10_000, retention_s=600.0)

    async def load(tenant: str, flow_id: str, version: int | None) -> tuple[FlowDocument, int, list[dict[str, Any]]]:
        """The document to run, its version and its problems (parsed and validated once per version)."""
        try:
            flow = await context.database.run(flows_repo.get_flow, tenant, flow_id)
        except StorageError:
            flow = None
        if flow is None:
            raise not_found(f"flow {flow_id!r}")
        wanted = version or flow.current_version
        created = flow.created_at.isoformat()
        cached = documents.get(tenant, flow.id, created, wanted)
        if cached is not None:
            return cached[0], wanted, cached[1]
        row = await context.database.run(flows_repo.get_version, tenant, flow_id, wanted)
        if row is None:
            raise not_found(f"flow {flow_id!r} version {wanted}")
        document, problems = await run_in_threadpool(read_stored, row.document, context.registry, tenant)
        if document is None:
            raise unreadable(flow_id, wanted, problems)
        documents.put(tenant, flow.id, created, wanted, document, problems)
        return document, wanted, problems

    @router.post("/flows/{flow_id}/runs", response_model=RunOut, responses=STREAM_RESPONSES,
                 summary="Run a flow: JSON result, or SSE events with Accept: text/event-stream")
    async def run_flow(flow_id: str, body: RunRequest, request: Request,
                       principal: Principal = Depends(require)) -> Any:
        tenant = principal.tenant_id
        document, version, problems = await load(tenant, flow_id, body.version)
        if problems:
            return problems_response(problems)
        streaming = "text/event-stream" in request.headers.get("accept", "")
        if streaming and not origin_allowed(request.headers, allowed):
            raise HTTPException(403, "this Origin may not open streams (AKIS_ALLOWED_ORIGINS)")
        inputs = dict(body.inputs)
        given_session = inputs.pop("session_id", None)
        if body.session_id and given_session is not None and str(given_session) != body.session_id:
            raise HTTPException(422, "session_id differs between the body and its inputs")
        session_id = body.session_id or (str(given_session) if given_session is not None else uuid.uuid4().hex)
        run_id = uuid.uuid4().hex
        relay_down: str | None = None
        try:
            channel = channel_for(tenant, session_id)
            try:
                cursor = await context.hub.cursor(channel) if context.hub is not None else 0
            except ChannelUnavailable as exc:  # bounded; the hub logged and counted it
                relay_down, cursor = str(exc), kept.last_cursor(channel)
        except AkisError as exc:
            raise HTTPException(422, str(exc)) from None
        queue: asyncio.Queue[Event] | None = asyncio.Queue() if streaming else None
        local = kept if relay_down is not None else None

        def listen(event: Event) -> None:
            context.recorder.observe(event)
            if local is not None:
                local.publish(channel, event)
            if queue is not None:
                queue.put_nowait(event)

        context.recorder.expect(run_id, {**inputs, "session_id": session_id}, version)
        try:
            handle = engine.start(document, inputs, tenant_id=tenant, session_id=session_id, run_id=run_id,
                                  on_event=listen)
        except (FlowValidationError, FlowLoadError) as exc:
            return problems_response([p.to_dict() for p in exc.problems])
        except (InputError, AkisError) as exc:
            raise HTTPException(422, str(exc)) from None
        entry = ActiveRun(run_id, tenant, str(document.flow_id), channel, cursor, handle, local=local)
        active.add(entry)
        if queue is None:
            try:
                result = await handle.result()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this request is being cancelled, not (only) the run
                return {"run_id": run_id, "flow_id": flow_id, "status": "cancelled", "channel": channel,
                        "error": "the run was cancelled", "relay": relay_state(context.hub, entry)}
            finally:
                entry.handle = None  # keep only where its events went, not the run itself
            return result_out(result, flow_id, channel, relay_state(context.hub, entry))
        ended = asyncio.ensure_future(handle.result())
        ended.add_done_callback(lambda future: _run_ended(future, queue))
        return StreamingResponse(sse.with_keepalive(_from_queue(queue, entry, context.hub, relay_down)),
                                 media_type="text/event-stream",
                                 headers={**sse.HEADERS, "X-Akis-Run-Id": run_id, "X-Akis-Channel": channel,
                                          "X-Akis-Relay": relay_state(context.hub, entry)})

    @router.get("/runs/{run_id}/events", responses={200: {"content": {"text/event-stream": {}}}},
                summary="Resume a recent run's event stream after Last-Event-ID")
    async def run_events(run_id: str, request: Request,
                         last_event_id: str | None = Header(None, alias="Last-Event-ID"),
                         principal: Principal = Depends(require)) -> StreamingResponse:
        run = active.get(principal.tenant_id, run_id)
        if run is None or context.hub is None:
            raise not_found(f"run {run_id!r} (recent runs of this process only; finished runs: GET /api/runs/{{id}})")
        if not origin_allowed(request.headers, allowed):
            raise HTTPException(403, "this Origin may not open streams (AKIS_ALLOWED_ORIGINS)")
        after = sse.parse_last_event_id(last_event_id)
        frames = _replay(run.local if run.local is not None else context.hub, run, -1 if after is None else after)
        return StreamingResponse(sse.with_keepalive(frames), media_type="text/event-stream", headers=sse.HEADERS)

    @router.post("/runs/{run_id}/cancel", summary="Cancel a running run")
    async def cancel_run(run_id: str, principal: Principal = Depends(require)) -> dict[str, Any]:
        run = active.get(principal.tenant_id, run_id)
        if run is None:
            raise not_found(f"run {run_id!r}")
        running = run.handle is not None and not run.handle.done()
        if running:
            run.handle.cancel()
        return {"run_id": run_id, "cancelled": running}

    @router.get("/runs/{run_id}", response_model=StoredRun, summary="A recorded run")
    async def get_run(run_id: str, principal: Principal = Depends(require)) -> dict[str, Any]:
        try:
            row = await context.database.run(runs_repo.get_run, principal.tenant_id, run_id)
        except StorageError:
            row = None
        if row is None:
            raise not_found(f"run {run_id!r}")
        return stored_run(row)

    @router.get("/runs", response_model=list[StoredRun], summary="Recorded runs, newest first")
    async def list_runs(flow_id: str | None = Query(None, max_length=64), limit: int = Query(50, ge=1, le=500),
                        principal: Principal = Depends(require)) -> list[dict[str, Any]]:
        rows = await context.database.run(runs_repo.list_runs, principal.tenant_id, flow_id, limit)
        return [stored_run(r) for r in rows]

    return router


def stored_run(row: Any) -> dict[str, Any]:
    return {
        "run_id": row.id, "flow_id": row.flow_id, "flow_version": row.flow_version, "session_id": row.session_id,
        "status": row.status, "output": row.output, "error": row.error, "started_at": row.started_at,
        "finished_at": row.finished_at, "duration_ms": row.duration_ms, "first_chunk_ms": row.first_chunk_ms,
        "tokens_in": row.tokens_in, "tokens_out": row.tokens_out,
    }


_ENDED = object()


def _run_ended(future: asyncio.Future[Any], queue: asyncio.Queue[Any]) -> None:
    """The run's task is over: wake the stream even if no ``run.finished`` was emitted (a run
    cancelled before it started emits nothing)."""
    if not future.cancelled():
        future.exception()  # retrieved: a failure is reported by the run's own events
    queue.put_nowait(_ENDED)


async def _from_queue(queue: asyncio.Queue[Any], entry: ActiveRun, hub: Any,
                      relay_down: str | None) -> AsyncIterator[bytes]:
    """The run's own events, every one of them, whatever the relay does; the first time the
    relay is seen down (at the start, or later) one ``relay.degraded`` frame says so."""
    told = relay_down is not None
    if told:
        yield relay_frame(entry, relay_down)  # type: ignore[arg-type]
    while True:
        event = await queue.get()
        if not told and not getattr(hub, "available", True):
            told = True
            yield relay_frame(entry, DEGRADED)
        if event is _ENDED:
            entry.handle = None
            yield sse.frame("run.finished", {"event": "run.finished", "run_id": entry.run_id, "status": "cancelled",
                                             "error": "the run ended without finishing"})
            return
        if event.event == RUN_FINISHED:
            entry.handle = None
        yield sse.event_frame(event, event.index)
        if event.event == RUN_FINISHED:
            return


async def _replay(hub: Any, run: ActiveRun, after_index: int) -> AsyncIterator[bytes]:
    """The run's events with an index above ``after_index``, from the channel it streamed on
    (or from this process's copy, for a run started while the relay was down)."""
    from runtime.channels import ChannelError

    try:
        async for event in hub.subscribe(run.channel, after=run.start_cursor):
            if event.run_id != run.run_id:
                continue
            if event.index > after_index:
                yield sse.event_frame(event, event.index)
            if event.event == RUN_FINISHED:
                return
    except ChannelUnavailable as exc:
        yield sse.frame("error", {"detail": f"{exc}; the finished run is at GET /api/runs/{run.run_id}",
                                  "relay": "degraded"})
    except ChannelError as exc:
        yield sse.frame("error", {"detail": str(exc)})
