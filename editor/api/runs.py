"""Running flows over HTTP: the result as JSON, or the run's events as Server-Sent Events.

A streamed run is not cancelled when its client goes away: it finishes, is recorded, and the
client can come back with ``Last-Event-ID`` (``GET /api/runs/{run_id}/events``) or follow
the conversation's channel. ``POST /api/runs/{run_id}/cancel`` stops it. Runs start, and are
found and cancelled, through the runs service (``editor/services/runs.py``), as the editor's
run pane does.

When the cross-process relay (Redis) is down, a run does not wait for it: the hub answers at
once (or within one bounded call that opens its breaker), the run streams to its caller as
always, and says so: a ``relay.degraded`` SSE frame, ``X-Akis-Relay: degraded``, and
``"relay": "degraded"`` in the JSON result. Such a run's events are also kept in this process,
so ``GET /api/runs/{run_id}/events`` still resumes it.

A W3C ``traceparent`` (and ``tracestate``) on the request makes the run's span a child of the
caller's, so the run joins its trace (tracing on only).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from editor.services.active_runs import ActiveRun
from editor.services.queued_runs import Busy
from editor.services.runs import Hub, StartedRun
from runtime import tracing
from runtime.channels import ChannelError, ChannelUnavailable
from runtime.channels.names import DEGRADED
from runtime.engine.buffer import EventBuffer
from runtime.events import RUN_FINISHED, Event

from . import sse
from .deps import ContextDep, PrincipalDep
from .flow_body import PROBLEMS_RESPONSE
from .limits import check_stream_origin
from .models import CancelOut, RunOut, RunRequest, StoredRun

router = APIRouter(prefix="/api", tags=["runs"])

STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
          "description": "The result as JSON, or with Accept: text/event-stream the run's events"},
    **PROBLEMS_RESPONSE,
}


def relay_frame(entry: ActiveRun, detail: str) -> bytes:
    """Told to the run's own stream once: not an event of the run, so it has no ``id:``."""
    return sse.frame("relay.degraded", {"event": "relay.degraded", "run_id": entry.run_id, "channel": entry.channel,
                                        "detail": detail})


@router.post("/flows/{flow_id}/runs", response_model=RunOut, responses=STREAM_RESPONSES,
             summary="Run a flow: JSON result, or SSE events with Accept: text/event-stream")
async def run_flow(flow_id: str, body: RunRequest, request: Request, context: ContextDep,
                   principal: PrincipalDep) -> Any:
    streaming = "text/event-stream" in request.headers.get("accept", "")
    if streaming:
        check_stream_origin(request, context.settings.allowed_origins)
    buffer: EventBuffer[Event | object] | None = EventBuffer() if streaming else None
    try:
        started = await context.runs.start_stored(principal.tenant_id, flow_id, body.inputs,
                                                  session_id=body.session_id, version=body.version,
                                                  listener=buffer.push if buffer is not None else None,
                                                  trace_parent=tracing.incoming(request.headers))
    except Busy as exc:  # queue mode, over a queue limit: nothing was stored
        raise HTTPException(429, exc.detail, headers={"Retry-After": str(exc.retry_after_s)}) from None
    if buffer is None:
        return await _result(context.runs.relay_state, started, flow_id)
    started.handle.add_done_callback(lambda: buffer.push(_ENDED))
    headers = {**sse.HEADERS, "X-Akis-Run-Id": started.run_id, "X-Akis-Channel": started.channel,
               "X-Akis-Relay": context.runs.relay_state(started.entry)}
    frames = _run_frames(buffer, started.entry, context.hub, started.relay_down)
    return StreamingResponse(frames, media_type="text/event-stream", headers=headers)


async def _result(relay_state: Any, started: StartedRun, flow_id: str) -> RunOut:
    try:
        result = await started.handle.result()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this request is being cancelled, not (only) the run
        return RunOut(run_id=started.run_id, flow_id=flow_id, status="cancelled", channel=started.channel,
                      error="the run was cancelled", relay=relay_state(started.entry))
    return RunOut.of(result, flow_id, started.channel, relay_state(started.entry))


@router.get("/runs/{run_id}/events", responses={200: {"content": {"text/event-stream": {}}}},
            summary="Resume a recent run's event stream after Last-Event-ID")
async def run_events(run_id: str, request: Request, context: ContextDep, principal: PrincipalDep,
                     last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None) -> StreamingResponse:
    run = await context.runs.locate(principal.tenant_id, run_id)
    if run is None or context.hub is None:
        raise HTTPException(404, f"run {run_id!r} not found (recent runs of this process, or any queued run; "
                                 "finished runs: GET /api/runs/{id})")
    check_stream_origin(request, context.settings.allowed_origins)
    after = sse.parse_last_event_id(last_event_id)
    after_index = -1 if after is None else after
    frames = _replay(context.runs.events_of(run, after_index), run, after_index)
    return StreamingResponse(sse.with_keepalive(frames), media_type="text/event-stream", headers=sse.HEADERS)


@router.post("/runs/{run_id}/cancel", summary="Cancel a running run")
async def cancel_run(run_id: str, context: ContextDep, principal: PrincipalDep) -> CancelOut:
    return CancelOut(run_id=run_id, cancelled=await context.runs.cancel_any(principal.tenant_id, run_id))


@router.get("/runs/{run_id}", summary="A recorded run")
async def get_run(run_id: str, context: ContextDep, principal: PrincipalDep) -> StoredRun:
    return StoredRun.of(await context.runs.stored(principal.tenant_id, run_id))


@router.get("/runs", summary="Recorded runs, newest first")
async def list_runs(context: ContextDep, principal: PrincipalDep,
                    flow_id: Annotated[str | None, Query(max_length=64)] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[StoredRun]:
    return [StoredRun.of(r) for r in await context.runs.list_stored(principal.tenant_id, flow_id, limit)]


_ENDED = object()


async def _run_frames(buffer: EventBuffer[Event | object], entry: ActiveRun, hub: Hub | None,
                      relay_down: str | None) -> AsyncIterator[bytes]:
    """The run's own events, every one of them, whatever the relay does; the first time the
    relay is seen down (at the start, or later) one ``relay.degraded`` frame says so. What the
    run pushed while the last write went out goes out as one write."""
    told = relay_down is not None
    if told:
        yield relay_frame(entry, relay_down or DEGRADED)
    async for events in sse.batches(buffer):
        if events is None:
            yield sse.KEEPALIVE
            continue
        frames: list[bytes] = []
        for event in events:
            if not told and hub is not None and not hub.available:
                told = True
                frames.append(relay_frame(entry, DEGRADED))
            if not isinstance(event, Event):  # the run's task ended without a run.finished (cancelled early)
                frames.append(sse.frame("run.finished", {"event": "run.finished", "run_id": entry.run_id,
                                                         "status": "cancelled",
                                                         "error": "the run ended without finishing"}))
                yield b"".join(frames)
                return
            frames.append(sse.event_frame(event, event.index))
            if event.event == RUN_FINISHED:
                yield b"".join(frames)
                return
        yield b"".join(frames)


async def _replay(events: AsyncIterator[Event], run: ActiveRun, after_index: int) -> AsyncIterator[bytes]:
    """The run's events with an index above ``after_index`` (the runs service says where they
    are read from: ``RunService.events_of``)."""
    try:
        async for event in events:
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
