"""Conversation channels for subscribers such as a chat widget: SSE and WebSocket.

A channel is ``tenant.<tenant>.conversation.<session>``; only the caller's own tenant's
channels exist for it (another tenant's answers 404). Events carry the channel cursor as
their id, so a subscriber resumes with ``Last-Event-ID`` (SSE) or ``?after=`` (both). With
Redis configured, a run in any process or worker is seen here; while Redis is not answering,
subscribing answers 503 with ``Retry-After`` (WebSocket: close 1013) at once, and a subscriber
already following gets an ``error`` frame with ``"relay": "degraded"`` (resume later with its
last cursor). Runs are not held up by any of this.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from editor.auth.principal import WS_TOKEN_PROTOCOL, authenticate, bearer_token
from editor.services.errors import NotFound
from editor.services.runs import Hub
from runtime.channels import ChannelError, ChannelGap, ChannelUnavailable, parse_channel
from runtime.settings import AkisSettings

from . import sse
from .deps import ContextDep, PrincipalDep
from .limits import check_stream_origin, origin_allowed, parse_origins


def own_channel(channel: str, tenant: str) -> str:
    """The channel when it is one of ``tenant``'s, else 404 (no hint that it exists)."""
    try:
        owner, _session = parse_channel(channel)
    except ChannelError:
        raise NotFound(f"channel {channel[:200]!r}") from None
    if owner != tenant:
        raise NotFound(f"channel {channel[:200]!r}")
    return channel


async def _events(hub: Hub, channel: str, after: int | None) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    async for event in hub.subscribe(channel, after=after):
        cursor = int(event.extra.get("cursor", 0))
        data = event.to_dict()
        data.pop("cursor", None)
        yield cursor, data


def relay_unavailable(settings: AkisSettings, exc: ChannelUnavailable) -> HTTPException:
    retry = settings.redis_retry_after_s
    return HTTPException(503, str(exc), headers={"Retry-After": str(max(1, round(retry)))})


def error_data(exc: ChannelError) -> dict[str, Any]:
    if isinstance(exc, ChannelGap):
        return {"detail": str(exc), "oldest": exc.oldest}
    if isinstance(exc, ChannelUnavailable):
        return {"detail": str(exc), "relay": "degraded"}
    return {"detail": str(exc)}


router = APIRouter(prefix="/api/channels", tags=["channels"])


@router.get("/{channel}/events", responses={200: {"content": {"text/event-stream": {}}}},
            summary="Follow a channel as Server-Sent Events (resumable with Last-Event-ID)")
async def channel_events(
    channel: str, request: Request, context: ContextDep, principal: PrincipalDep,
    after: Annotated[int | None, Query(ge=0, le=2**53, description="Start after this cursor (0: all kept).")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    own_channel(channel, principal.tenant_id)
    hub = context.hub
    if hub is None:
        raise HTTPException(503, "channels are not configured")
    check_stream_origin(request, context.settings.allowed_origins)
    resume = sse.parse_last_event_id(last_event_id)
    start = resume if resume is not None else after
    if start is None:
        try:
            start = await hub.cursor(channel)  # fixed now: nothing published after this is missed
        except ChannelUnavailable as exc:
            raise relay_unavailable(context.settings, exc) from None

    async def frames() -> AsyncIterator[bytes]:
        try:
            async for cursor, data in _events(hub, channel, start):
                yield sse.frame(str(data.get("event", "message")), data, cursor)
        except ChannelError as exc:
            yield sse.frame("error", error_data(exc))

    return StreamingResponse(sse.with_keepalive(frames()), media_type="text/event-stream", headers=sse.HEADERS)


@router.websocket("/{channel}/ws")
async def channel_ws(websocket: WebSocket, channel: str, context: ContextDep) -> None:
    """Origin first (a browser page from elsewhere is refused before anything else), then
    the credential, then the tenant of the channel. Refusals close before accepting (403)."""
    if not origin_allowed(websocket.headers, parse_origins(context.settings.allowed_origins)):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    principal = await authenticate(websocket, context.database)
    if principal is None:
        await websocket.close(code=1008, reason="authentication required")
        return
    try:
        own_channel(channel, principal.tenant_id)
    except NotFound:
        await websocket.close(code=1008, reason="channel not found")
        return
    if context.hub is None:
        await websocket.close(code=1011, reason="channels are not configured")
        return
    after_text = websocket.query_params.get("after")
    after = int(after_text) if after_text and after_text.isdigit() and len(after_text) < 18 else None
    if after is None:
        try:
            after = await context.hub.cursor(channel)
        except ChannelUnavailable:
            await websocket.close(code=1013, reason="channel relay unavailable, try again later")
            return
    used_protocol = bearer_token(websocket) is not None and "authorization" not in websocket.headers
    await websocket.accept(subprotocol=WS_TOKEN_PROTOCOL if used_protocol else None)
    await _pump(websocket, context.hub, channel, after)


async def _pump(websocket: WebSocket, hub: Hub, channel: str, after: int) -> None:
    """Send events until the client leaves; a message from the client is ignored."""

    async def send_all() -> None:
        try:
            async for cursor, data in _events(hub, channel, after):
                await websocket.send_text(json.dumps({"id": cursor, **data}, ensure_ascii=False, default=str))
        except ChannelError as exc:
            await websocket.send_text(json.dumps({"event": "error", **error_data(exc)}))
            await websocket.close(code=1013 if isinstance(exc, ChannelUnavailable) else 1011)

    async def until_closed() -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
        except (WebSocketDisconnect, RuntimeError):
            return

    sender = asyncio.ensure_future(send_all())
    watcher = asyncio.ensure_future(until_closed())
    try:
        await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, watcher):
            task.cancel()
        await asyncio.gather(sender, watcher, return_exceptions=True)
