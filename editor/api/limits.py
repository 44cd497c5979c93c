"""Request limits and browser origin checks for the API and the login form.

``BodyLimit`` is pure ASGI (no buffering of responses, so streams are untouched): a declared
``Content-Length`` over the limit answers 413 at once; a chunked body is counted as it arrives.
"""
from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from editor.api.errors import TrackingSend

DEFAULT_MAX_BODY = 6 * 1024 * 1024  # a flow document may be 5 MiB (runtime.flow.loader.MAX_BYTES)


def max_body_bytes() -> int:
    try:
        return int(os.environ.get("AKIS_API_MAX_BODY_BYTES", DEFAULT_MAX_BODY))
    except ValueError:
        return DEFAULT_MAX_BODY


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: FastAPI passes an HTTPException through as its own answer."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: at most {limit} bytes")


async def _reply_413(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body too large: at most {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int | None = None) -> None:
        self.app = app
        self.limit = limit if limit is not None else max_body_bytes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await _reply_413(send, self.limit)
                    return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        tracked = TrackingSend(send)
        try:
            await self.app(scope, counting_receive, tracked)
        except BodyTooLarge:
            if not tracked.started:
                await _reply_413(send, self.limit)


def parse_origins(text: str) -> set[str]:
    return {o.strip().rstrip("/").lower() for o in (text or "").split(",") if o.strip()}


def origin_allowed(headers: Any, allowed: set[str]) -> bool:
    """No Origin (not a browser), the app's own origin, or one on the configured allowlist."""
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if "*" in allowed or origin in allowed:
        return True
    host = (headers.get("host") or "").lower()
    parts = urlsplit(origin)
    return bool(host) and parts.netloc == host and parts.scheme in ("http", "https")


FORBIDDEN_ORIGIN = "this Origin may not open streams (AKIS_ALLOWED_ORIGINS)"


def check_stream_origin(request: Request, allowed_origins: str) -> None:
    """403 for a stream opened from a browser Origin not allowed (see :func:`origin_allowed`)."""
    if not origin_allowed(request.headers, parse_origins(allowed_origins)):
        raise HTTPException(403, FORBIDDEN_ORIGIN)


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def same_origin_request(headers: Any, allowed: set[str]) -> bool:
    """Whether a state change (sent with the session cookie) comes from the app's own pages.

    Origin decides when present (``null``, sent by sandboxed and privacy-redirected pages, is
    refused); else the Referer's origin; else ``Sec-Fetch-Site`` must not say another site.
    With none of the three the sender is not a browser page (a script or curl holding the
    cookie), which a forged cross-site request cannot be: browsers send Origin on every
    cross-origin POST, PUT and DELETE."""
    origin = headers.get("origin")
    if origin is not None:
        if origin.strip().lower() in ("", "null"):
            return False
        return origin_allowed(headers, allowed)
    referer = headers.get("referer")
    if referer:
        referer_origin = _origin_of(referer)
        if referer_origin is None:
            return False
        return origin_allowed({"origin": referer_origin, "host": headers.get("host")}, allowed)
    return (headers.get("sec-fetch-site") or "").lower() not in ("cross-site", "same-site")
