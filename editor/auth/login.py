"""``/login`` and ``/logout``: a plain HTML form, so the session cookie can be HttpOnly
(a cookie set from a NiceGUI event handler could not be)."""
from __future__ import annotations

import html
import time
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from .sessions import SESSION_COOKIE, SessionUser, cookie_options, signer

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Akis: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ font-family: system-ui, sans-serif; background: #f4f6f8; display: flex; justify-content: center;
        align-items: center; min-height: 100vh; margin: 0; }}
 form {{ background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 2px 12px #0002; width: 320px; }}
 label {{ display: block; margin-top: .8rem; font-size: .9rem; color: #333; }}
 input {{ width: 100%; box-sizing: border-box; padding: .5rem; margin-top: .25rem; }}
 button {{ margin-top: 1.2rem; width: 100%; padding: .6rem; background: #1565c0; color: #fff; border: 0;
          border-radius: 4px; font-size: 1rem; cursor: pointer; }}
 .error {{ color: #b00020; margin-top: .8rem; }}
</style></head>
<body><form method="post" action="/login">
 <h2>Akis</h2>
 <input type="hidden" name="next" value="{next}">
 <label>Tenant <input name="tenant" value="{tenant}" required maxlength="64"></label>
 <label>User name <input name="username" value="{username}" required maxlength="100" autofocus></label>
 <label>Password <input name="password" type="password" required maxlength="1000"></label>
 <button type="submit">Sign in</button>
 {error}
</form></body></html>"""


class Throttle:
    """At most ``limit`` failed sign-ins per client address in ``window_s``: argon2 already
    makes each guess slow; this makes guessing in bulk impossible."""

    def __init__(self, limit: int = 10, window_s: float = 300.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, list[float]] = {}

    def blocked(self, client: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self._failures.get(client, []) if now - t < self.window_s]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return len(recent) >= self.limit

    def failed(self, client: str) -> None:
        if len(self._failures) > 100_000:
            self._failures.clear()
        self._failures.setdefault(client, []).append(time.monotonic())


def _safe_next(target: str | None) -> str:
    """Only a local path: never redirect to another site after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_path: str = "/", tenant: str = "1", username: str = "", error: str = "") -> str:
    block = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return _PAGE.format(next=html.escape(_safe_next(next_path)), tenant=html.escape(tenant),
                        username=html.escape(username), error=block)


def build_router(context: Any, on_change: Any = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    throttle = Throttle()

    @router.get("/login", response_class=HTMLResponse)
    async def show_login(next: str = "/") -> HTMLResponse:  # noqa: A002 - the query parameter's name
        return HTMLResponse(login_page(next))

    @router.post("/login")
    async def do_login(
        request: Request,
        tenant: str = Form("1", max_length=64),
        username: str = Form(..., max_length=100),
        password: str = Form(..., max_length=1000),
        next: str = Form("/", max_length=2000),  # noqa: A002
    ) -> Any:
        from storage.errors import StorageError
        from storage.repos.users import authenticate

        client = request.client.host if request.client else "?"
        if throttle.blocked(client):
            page = login_page(next, tenant, username, "Too many failed sign-ins: wait a few minutes.")
            return HTMLResponse(page, status_code=429)
        try:
            user = await context.database.run(authenticate, tenant.strip(), username.strip(), password)
        except StorageError:
            user = None
        current = signer()
        if user is None or current is None:
            throttle.failed(client)
            page = login_page(next, tenant, username, "Wrong tenant, user name or password.")
            return HTMLResponse(page, status_code=401)
        response = RedirectResponse(_safe_next(next), status_code=303)
        value = current.sign(SessionUser(user.tenant_id, user.username))
        response.set_cookie(SESSION_COOKIE, value, **cookie_options(request.url.scheme == "https"))
        return response

    @router.api_route("/logout", methods=["GET", "POST"])
    async def do_logout(request: Request) -> RedirectResponse:
        response = RedirectResponse("/login", status_code=303)
        options = cookie_options(request.url.scheme == "https")
        options.pop("max_age")
        response.delete_cookie(SESSION_COOKIE, **options)
        return response

    return router
