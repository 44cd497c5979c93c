"""API requests skip the middleware that only pages need.

NiceGUI adds three ``BaseHTTPMiddleware`` layers for its pages: a ``Location`` prefix for
redirects, cache headers for its own assets, and a browser-storage session per request. An API
route needs none of them (it sends no redirect with a path ``Location``, serves no NiceGUI
asset, reads no browser storage), but each such layer runs the rest of the request in an anyio
task group with memory streams, which was about a third of the app's CPU per API request
(docs/benchmarks.md, "The HTTP JSON run"). Everything else stays: the same exception handlers,
our own middleware (errors, page guard, CORS, body limit, drain), NiceGUI's session cookie and
compression, all pure ASGI.

``install(app)`` makes the app's middleware stack :class:`ApiFirst`: API paths (``is_api``) go
to the stack built without the ``BaseHTTPMiddleware`` layers, every other request (pages,
assets, NiceGUI's socket) to the full one.
"""
from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import is_api


class ApiFirst:
    """Pure ASGI: an API request to ``api``, anything else to ``app`` (the full stack)."""

    def __init__(self, app: ASGIApp, api: ASGIApp) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and is_api(scope["path"]):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Build the app's stack as :class:`ApiFirst` when it is first built (after NiceGUI's ``ui.run``
    added its middleware): both stacks from the same list, one without the BaseHTTPMiddleware layers."""
    build_full = app.build_middleware_stack

    def build() -> ASGIApp:
        full = build_full()
        everything = app.user_middleware
        app.user_middleware = [m for m in everything if not _buffers(m.cls)]
        try:
            api = build_full()
        finally:
            app.user_middleware = everything
        return ApiFirst(full, api)

    app.build_middleware_stack = build  # type: ignore[method-assign]  # the stack is built lazily, on first call


def _buffers(cls: object) -> bool:
    return isinstance(cls, type) and issubclass(cls, BaseHTTPMiddleware)
