"""The desktop window's local user: one person on their own machine, no login.

Only ``akis desktop`` turns it on (:func:`enable`); in web mode nothing here is reachable:
:func:`identity` answers None and ``/desktop/enter`` is not a route. The window opens
``/desktop/enter?key=...`` with a random key made at start; that sets an HttpOnly cookie with
the key, and a page whose request carries it acts for the configured tenant
(``AKIS_DESKTOP_TENANT``, default 1) even when editor users exist. Another program on the same
machine that reaches the loopback port without the key is treated as in web mode.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from starlette.requests import HTTPConnection

from .principal import Principal

LOCAL_COOKIE = "akis_desktop"
ENTER_PATH = "/desktop/enter"
LOCAL_NAME = "local user"


@dataclass(frozen=True, slots=True)
class LocalUser:
    tenant_id: str
    key: str

    @property
    def principal(self) -> Principal:
        return Principal(self.tenant_id, "local", LOCAL_NAME)


_LOCAL: list[LocalUser] = []  # at most one: set once by the desktop launcher


def enable(tenant_id: str) -> LocalUser:
    """Desktop mode only: the window's user acts for ``tenant_id``. Returns it (with its key)."""
    _LOCAL.clear()
    _LOCAL.append(LocalUser(tenant_id, secrets.token_urlsafe(32)))
    return _LOCAL[0]


def disable() -> None:
    _LOCAL.clear()


def current() -> LocalUser | None:
    return _LOCAL[0] if _LOCAL else None


def identity(connection: HTTPConnection) -> Principal | None:
    """The local user's principal when desktop mode is on and the request carries its key."""
    local = current()
    if local is None:
        return None
    offered = connection.cookies.get(LOCAL_COOKIE, "")
    if offered and hmac.compare_digest(offered.encode("utf-8"), local.key.encode("utf-8")):
        return local.principal
    return None


def is_active(principal: Principal) -> bool:
    """A page built for the local user stays valid while desktop mode is on for its tenant."""
    local = current()
    return principal.kind == "local" and local is not None and local.tenant_id == principal.tenant_id


router = APIRouter(include_in_schema=False)


@router.get(ENTER_PATH)
async def enter(key: str = "") -> Response:
    """The window's first request: the key from the launcher becomes the window's cookie."""
    local = current()
    if local is None or not hmac.compare_digest(key.encode("utf-8"), local.key.encode("utf-8")):
        return Response("Not found", status_code=404)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(LOCAL_COOKIE, local.key, httponly=True, samesite="strict", path="/")
    return response
