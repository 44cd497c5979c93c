"""Publishing a flow: its publishable keys, and the one route the chat widget calls with one.

``/api/flows/{flow_id}/keys``: create (the key is in the answer once), list and revoke the
caller's tenant's keys; an API token or an editor session, as every route.

``POST /api/widget/flows/{flow_id}/runs``: the route that runs with a publishable key
(``Authorization: Bearer akispub_...``), and it takes nothing else. The key names the tenant;
it runs its own flow only, from an allowed Origin, within its rate. The answer streams as
Server-Sent Events, and only what a visitor should see goes out: the answer's chunks and the
run's end (its status, duration and output), never another node's output or an error's
internals. The answer's chunks are those of the streaming nodes the Output's answer is taken
from (``runtime/engine/answer.py``, once per plan), so a draft another AI node rewrites stays
private; a flow where that cannot be told (no Output mapping a streaming node) streams every
node's chunks, as before. The visitor's session id is kept apart from every other session of
the tenant (``pub-<key id>-<session>``), so a page cannot read a conversation it did not start.

``POST /api/widget/flows/{flow_id}/runs/{run_id}/feedback``: the visitor's thumbs up or down on
an answer, with the same key and checks (ratings have their own window, twice the runs' rate).
Only a run of the visitor's own widget session of that flow can be rated; any other answers 404.

CORS is answered here, for this route only: a preflight is answered for any Origin (it carries
no key to check), and the run itself is refused unless its Origin is on the key's list. A
refusal is JSON ``{"detail", "code"}``; the widget words the ``code`` for the visitor.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from editor.auth.principal import bearer_token
from editor.services.errors import FlowProblems, NotFound, ServiceError
from editor.services.publishing import DEFAULT_RATE, MAX_RATE, MIN_RATE, KeyInfo, Refused, embed_snippet
from editor.services.queued_runs import Busy
from runtime import tracing
from runtime.events import MESSAGE_CHUNK, RUN_FINISHED, Event

from . import sse
from .deps import ContextDep, PrincipalDep
from .experiment_models import FeedbackIn, FeedbackOut

router = APIRouter(tags=["publishing"])
WIDGET_RUNS = "/api/widget/flows/{flow_id}/runs"
WIDGET_FEEDBACK = WIDGET_RUNS + "/{run_id}/feedback"
ALLOW_HEADERS = "Authorization, Content-Type, Accept, traceparent, tracestate"
EXPOSE_HEADERS = "Retry-After, X-Akis-Run-Id"


class KeyIn(BaseModel):
    name: str = Field("", max_length=100, description="What the key is for (a site's name).")
    allowed_origins: list[str] = Field(default_factory=list, max_length=20,
                                       description="Origins whose pages may use the key, like https://shop.example")
    rate_per_minute: int = Field(DEFAULT_RATE, ge=MIN_RATE, le=MAX_RATE,
                                 description="Runs a minute for each visitor address.")


class KeyOut(BaseModel):
    id: str
    flow_id: str
    name: str
    allowed_origins: list[str]
    rate_per_minute: int
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, info: KeyInfo) -> KeyOut:
        return cls(id=info.id, flow_id=info.flow_id, name=info.name, allowed_origins=list(info.allowed_origins),
                   rate_per_minute=info.rate_per_minute, created_by=info.created_by, created_at=info.created_at,
                   last_used_at=info.last_used_at, revoked_at=info.revoked_at)


class CreatedKeyOut(KeyOut):
    key: str = Field(description="The publishable key: shown this once, stored only as a hash.")
    snippet: str = Field(description="The HTML that embeds the chat widget with this key on a page.")


class WidgetRunIn(BaseModel):
    message: str = Field(min_length=1, max_length=4000, description="The visitor's message.")
    session_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$", description="The visitor's conversation id.")


class WidgetFeedbackIn(FeedbackIn):
    session_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$",
                            description="The visitor's conversation id: the run must be one of it.")


@router.post("/api/flows/{flow_id}/keys", status_code=201, summary="Create a publishable key for the flow's widget")
async def create_key(flow_id: str, body: KeyIn, request: Request, context: ContextDep,
                     principal: PrincipalDep) -> CreatedKeyOut:
    created = await context.publishing.create(principal.tenant_id, flow_id, name=body.name,
                                              allowed_origins=body.allowed_origins,
                                              rate_per_minute=body.rate_per_minute, created_by=principal.name)
    snippet = embed_snippet(str(request.base_url), created.key, flow_id, body.name)
    return CreatedKeyOut(**KeyOut.of(created.info).model_dump(), key=created.key, snippet=snippet)


@router.get("/api/flows/{flow_id}/keys", summary="The flow's publishable keys (never the keys themselves)")
async def list_keys(flow_id: str, context: ContextDep, principal: PrincipalDep) -> list[KeyOut]:
    return [KeyOut.of(info) for info in await context.publishing.list(principal.tenant_id, flow_id)]


@router.delete("/api/keys/{key_id}", status_code=204, summary="Revoke a publishable key (the widget stops at once)")
async def revoke_key(key_id: str, context: ContextDep, principal: PrincipalDep) -> Response:
    await context.publishing.revoke(principal.tenant_id, key_id)
    return Response(status_code=204)


def cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if not origin:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSE_HEADERS, "Vary": "Origin"}


@router.options(WIDGET_RUNS, include_in_schema=False)
async def widget_preflight(request: Request) -> Response:
    headers = {**cors_headers(request), "Access-Control-Allow-Methods": "POST",
               "Access-Control-Allow-Headers": ALLOW_HEADERS, "Access-Control-Max-Age": "600"}
    return Response(status_code=204, headers=headers)


def refusal(request: Request, status: int, code: str, detail: str, retry_after_s: int | None = None) -> JSONResponse:
    headers = cors_headers(request)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


@router.post(WIDGET_RUNS, summary="The chat widget's run: a publishable key, its own flow only, events as SSE",
             responses={200: {"content": {"text/event-stream": {}}}},
             openapi_extra={"security": [], "requestBody": {"required": True, "content": {
                 "application/json": {"schema": WidgetRunIn.model_json_schema()}}}})
async def widget_run(flow_id: str, request: Request, context: ContextDep) -> Response:
    key = bearer_token(request) or ""
    try:  # the key first: nothing of the request is looked at for a caller without one
        allowed = await context.publishing.authorize(key, flow_id, request.headers, _address(request))
    except Refused as exc:
        return refusal(request, exc.status, exc.code, exc.detail, exc.retry_after_s)
    try:
        body = WidgetRunIn.model_validate_json(await request.body())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        return refusal(request, 422, "bad_request", f"the request is not a widget message: {problems}")
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    try:
        started = await context.runs.start_stored(
            allowed.tenant_id, allowed.flow_id, {"user_message": body.message},
            session_id=allowed.visitor_session(body.session_id), listener=queue.put_nowait,
            trace_parent=tracing.incoming(request.headers))
    except Busy as exc:
        return refusal(request, 429, "busy", exc.detail, exc.retry_after_s)
    except FlowProblems as exc:
        return refusal(request, 503, "flow_unavailable", exc.detail)
    except ServiceError as exc:  # the flow was deleted since the key was made
        return refusal(request, 404, "flow_unavailable", exc.detail)
    started.handle.add_done_callback(lambda: queue.put_nowait(None))
    headers = {**sse.HEADERS, **cors_headers(request), "X-Akis-Run-Id": started.run_id}
    document = started.document
    answer = context.engine.plan(document, allowed.tenant_id).answer_ids if document is not None else None
    return StreamingResponse(sse.with_keepalive(_visible(queue, started.run_id, answer)),
                             media_type="text/event-stream", headers=headers)


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


async def _visible(queue: asyncio.Queue[Event | None], run_id: str,
                   answer: frozenset[str] | None) -> AsyncIterator[bytes]:
    """The frames a visitor sees: the answer's chunks, then the run's end. ``answer``: the
    nodes whose chunks are the answer (the plan's ``answer_ids``, known before the run); None
    when the flow's Output does not tell, and then every node's chunks go out (as before)."""
    while True:
        event = await queue.get()
        if event is None:  # the run's task ended without a run.finished (cancelled early)
            yield sse.frame(RUN_FINISHED, {"event": RUN_FINISHED, "run_id": run_id, "status": "cancelled"})
            return
        if event.event == MESSAGE_CHUNK:
            if answer is not None and event.node_id not in answer:
                continue  # an intermediate node's text (a draft): not the visitor's
            yield sse.frame(MESSAGE_CHUNK, {"event": MESSAGE_CHUNK, "run_id": run_id, "text": event.text,
                                            "seq": event.seq}, event.index)
        elif event.event == RUN_FINISHED:
            data: dict[str, Any] = {"event": RUN_FINISHED, "run_id": run_id, "status": event.status,
                                    "duration_ms": event.duration_ms}
            if event.status == "succeeded":
                data["output"] = event.output
            yield sse.frame(RUN_FINISHED, data, event.index)
            return


@router.options(WIDGET_FEEDBACK, include_in_schema=False)
async def widget_feedback_preflight(request: Request) -> Response:
    return await widget_preflight(request)


@router.post(WIDGET_FEEDBACK, summary="A widget visitor's thumbs up or down on an answer of their own session",
             responses={200: {"model": FeedbackOut}},
             openapi_extra={"security": [], "requestBody": {"required": True, "content": {
                 "application/json": {"schema": WidgetFeedbackIn.model_json_schema()}}}})
async def widget_feedback(flow_id: str, run_id: str, request: Request, context: ContextDep) -> Response:
    """The run must be the key's tenant's and flow's, and of the visitor's session: else 404, as if absent."""
    try:  # the key first, as for a run
        allowed = await context.publishing.authorize(bearer_token(request) or "", flow_id, request.headers,
                                                     _address(request), feedback=True)
    except Refused as exc:
        return refusal(request, exc.status, exc.code, exc.detail, exc.retry_after_s)
    try:
        body = WidgetFeedbackIn.model_validate_json(await request.body())
    except ValidationError as exc:
        return refusal(request, 422, "bad_request", f"the request is not widget feedback: {_problems(exc)}")
    try:
        given = await context.experiments.feedback(
            allowed.tenant_id, run_id, 1 if body.rating == "up" else -1, body.comment, flow_id=allowed.flow_id,
            session_id=allowed.visitor_session(body.session_id))
    except NotFound as exc:
        return refusal(request, 404, "run_not_found", exc.detail)
    except ServiceError as exc:
        return refusal(request, 422, "bad_request", exc.detail)
    return JSONResponse(FeedbackOut.of(given).model_dump(mode="json"), headers=cors_headers(request))


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
