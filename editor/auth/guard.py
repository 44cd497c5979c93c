"""The page guard: once editor users exist, every page needs a signed-in user.

A pure ASGI middleware (it never buffers a response, so streams pass through untouched).
API routes answer 401 themselves; pages redirect to ``/login``; the explicit allowlist below
is everything reachable without a credential.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Reachable without credentials: the login page, static assets and NiceGUI's own transport,
# the health check, the public API description, and the example widget (a static page).
PUBLIC_EXACT = frozenset({"/login", "/logout", "/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json",
                          "/redoc", "/favicon.ico", "/widget"})
PUBLIC_PREFIXES = ("/_nicegui/", "/_nicegui_ws/", "/widget/", "/docs/assets/")


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


class UsersExist:
    """Whether any editor user exists, asked of the database at most every ``ttl_s``."""

    def __init__(self, database: Any, ttl_s: float = 2.0) -> None:
        self.database = database
        self.ttl_s = ttl_s
        self._value = False
        self._checked = 0.0

    async def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._checked > self.ttl_s:
            from storage.repos.users import any_users

            self._value = await self.database.run(any_users)
            self._checked = now
        return self._value

    def forget(self) -> None:
        self._checked = 0.0


class PageGuard:
    """``login_required()`` says whether pages need a login now; ``identify(connection,
    login_required)`` answers the request's :class:`~editor.auth.pages.PageIdentity`, or None
    when it needs a login it does not have. The identity is kept on the request: the page and
    its event handlers take their tenant from it and from nothing else."""

    def __init__(self, app: ASGIApp, login_required: Callable[[], Awaitable[bool]],
                 identify: Callable[[HTTPConnection, bool], Awaitable[Any]]) -> None:
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
        from .pages import stash

        connection = HTTPConnection(scope)
        identity = await self.identify(connection, await self.login_required())
        if identity is None:
            target = path + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            await response(scope, receive, send)
            return
        stash(connection, identity)
        await self.app(scope, receive, send)
