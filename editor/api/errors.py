"""Errors as short JSON answers: a person-readable ``detail``, never a traceback.

Every API error is ``{"detail": ...}``: a string, or for request validation a list of
``{loc, msg, type}`` (pydantic's ``input`` and ``ctx`` are dropped: they echo what was sent,
which may be large or sensitive). A flow that cannot be saved or run adds ``problems``, each
naming the node and field. An unexpected exception under ``/api/`` answers 500 with the same
shape and an id; the log gets one line with that id, where it happened and why (no traceback).
"""
from __future__ import annotations

import json
import logging
import traceback
import uuid
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from editor.services.errors import Conflict, FlowProblems, Invalid, NotFound, ServiceError

log = logging.getLogger("akis.api")


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/healthz/")) or path == "/healthz"


def encodable(text: str) -> str:
    """``text`` with anything UTF-8 cannot hold (a lone surrogate) escaped, so the answer renders."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    loc = [part if isinstance(part, int) else encodable(str(part)) for part in error.get("loc", ())]
    return {"loc": loc, "msg": encodable(str(error.get("msg", ""))), "type": str(error.get("type", ""))}


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [_clean(e) for e in errors]}, status_code=422)


STATUS_OF: dict[type[ServiceError], int] = {NotFound: 404, Conflict: 409, Invalid: 422, FlowProblems: 422}


async def service_error(request: Request, exc: Exception) -> JSONResponse:
    """A service's refusal: 404, 409 or 422 with its message (and a flow's problems)."""
    assert isinstance(exc, ServiceError)
    body: dict[str, Any] = {"detail": encodable(exc.detail)}
    if isinstance(exc, FlowProblems):
        body["problems"] = exc.problem_dicts()
    return JSONResponse(body, status_code=STATUS_OF.get(type(exc), 422))


class TrackingSend:
    """An ASGI ``send`` that remembers whether the response has started (then no error answer can follow)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class ApiErrors:
    """Pure ASGI: an exception escaping an API route becomes a JSON 500 and one log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        tracked = TrackingSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for API answers
            error_id = uuid.uuid4().hex[:12]
            log.error("%s %r failed (error %s): %s", scope.get("method"), encodable(scope.get("path", "")[:200]),
                      error_id, describe(exc))
            if not tracked.started:
                body = json.dumps({"detail": f"internal error {error_id}: the server could not answer this request"})
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body.encode()})


def describe(exc: BaseException) -> str:
    """``Type: message (at file:line in function)`` of the innermost frame, on one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {encodable(str(exc)[:200])!r}{where}"


def install(app: Any) -> None:
    """Register the handlers on the app; pages keep NiceGUI's own 404 and 500 pages."""
    page_not_found = app.exception_handlers.get(404)

    async def not_found(request: Request, exc: Exception) -> Any:
        if isinstance(exc, StarletteHTTPException) and (is_api(request.url.path) or page_not_found is None):
            return await http_exception_handler(request, exc)
        return await page_not_found(request, exc)

    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(404, not_found)
    app.add_middleware(ApiErrors)
