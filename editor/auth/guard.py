"""The page guard: once editor users exist, every page needs a signed-in user.

A pure ASGI middleware (it never buffers a response, so streams pass through untouched).
API routes answer 401 themselves; pages redirect to ``/login``; the explicit allowlist below
is everything reachable without a credential.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .pages import PageIdentity, stash

# Reachable without credentials: the login page, static assets and NiceGUI's own transport,
# the health check, the public API description, the example widget (a static page), and
# Prometheus's /metrics (it checks its own token or address: editor/api/metrics_route.py).
PUBLIC_EXACT = frozenset({"/login", "/logout", "/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json",
                          "/healthz/live", "/healthz/ready",
                          "/redoc", "/favicon.ico", "/widget", "/metrics",
                          "/desktop/enter"})  # a route only in desktop mode (editor/auth/local.py)
PUBLIC_PREFIXES = ("/_nicegui/", "/_nicegui_ws/", "/widget/", "/docs/assets/")


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


class PageGuard:
    """``login_required()`` says whether pages need a login now; ``identify(connection,
    login_required)`` answers the request's :class:`~editor.auth.pages.PageIdentity`, or None
    when it needs a login it does not have. The identity is kept on the request: the page and
    its event handlers take their tenant from it and from nothing else."""

    def __init__(self, app: ASGIApp, login_required: Callable[[], Awaitable[bool]],
                 identify: Callable[[HTTPConnection, bool], Awaitable[PageIdentity | None]]) -> None:
        self.app = app
        self.login_required = login_required
        self.identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith("/api/") or path == "/api" or is_public(path):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        identity = await self.identify(connection, await self.login_required())
        if identity is None:
            target = path + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            await response(scope, receive, send)
            return
        stash(connection, identity)
        await self.app(scope, receive, send)
