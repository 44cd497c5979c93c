"""Who a page acts for, and ending a page whose session ended.

A page's tenant comes only from its request's credential: the signed-in user's session record
(checked by the page guard, or here when no guard ran), or, while no editor user exists, the
single-user default tenant. Nothing on the page (an input, a select, a value sent over the
page's socket) can change it.

An open page keeps a socket to the server after the request that built it; ``watch_page``
re-checks its session every ``WATCH_S`` and, once the session is revoked or expired (or, for a
page opened without a login, once users exist), empties the page and reloads it, which the page
guard answers with ``/login``: a copied cookie's open page dies with the session too.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from nicegui import context, ui
from starlette.requests import HTTPConnection

from storage.db import Database
from storage.repos.users import any_users

from . import local, sessions
from .principal import Principal, session_principal
from .sessions import SESSION_COOKIE, SessionUser

log = logging.getLogger("akis.auth")

DEFAULT_TENANT = "1"
IDENTITY_KEY = "akis_identity"
WATCH_S = 1.0
_WATCHED: weakref.WeakSet[Any] = weakref.WeakSet()


class NotSignedIn(Exception):
    """A page was asked for its tenant, users exist and the request has no live session."""


@dataclass(frozen=True, slots=True)
class PageIdentity:
    tenant_id: str
    principal: Principal | None = None  # None: no editor user exists, one person's install

    @property
    def single_user(self) -> bool:
        """No login: the default tenant, and the pages may offer every tenant (one person's install)."""
        return self.principal is None


SINGLE_USER = PageIdentity(DEFAULT_TENANT)


def stash(connection: HTTPConnection, identity: PageIdentity) -> None:
    """Remember the identity on the request (the page and its event handlers read it)."""
    connection.scope.setdefault("state", {})[IDENTITY_KEY] = identity


async def resolve(connection: HTTPConnection, database: Database, login_required: bool) -> PageIdentity | None:
    """The identity of a page request, or None when it needs a login it does not have."""
    desktop = local.identity(connection)  # desktop mode's window only (never in web mode)
    if desktop is not None:
        return PageIdentity(desktop.tenant_id, desktop)
    principal = await session_principal(connection, database)
    if principal is not None:
        return PageIdentity(principal.tenant_id, principal)
    return None if login_required else SINGLE_USER


class UsersExist:
    """Whether any editor user exists, asked of the database at most every ``ttl_s``: the
    first user (or the last one's removal) is seen within that delay."""

    def __init__(self, database: Database, ttl_s: float = 2.0) -> None:
        self.database = database
        self._answer: TTLCache[str, bool] = TTLCache(maxsize=1, ttl=ttl_s)

    async def __call__(self) -> bool:
        found = self._answer.get("users")
        if found is None:
            found = self._answer["users"] = bool(await self.database.run(any_users))
        return found


@dataclass
class _Users:
    database: Database | None = None
    check: UsersExist | None = None


_USERS = _Users()


def use_database(database: Database) -> None:
    """Where pages read sessions and whether users exist (``editor.pages.register`` calls it)."""
    sessions.use_database(database)
    if _USERS.database is not database:
        _USERS.database, _USERS.check = database, UsersExist(database)


def reset() -> None:
    """Forget the signer, the session store and the users' database (tests: the next test's app
    must not see the users of a disposed database)."""
    sessions.reset()
    _USERS.database, _USERS.check = None, None


def _users_exist_now() -> bool:
    if _USERS.database is None:
        return False
    return bool(_USERS.database.call(any_users))


def _page_request() -> Any:
    try:
        return context.client.request
    except (RuntimeError, AttributeError, AssertionError, LookupError):
        return None


def current_identity() -> PageIdentity:
    """The identity of the current page (see the module docstring). Raises
    :class:`NotSignedIn` when users exist and the page's request has no live session."""
    request = _page_request()
    if request is None:
        return SINGLE_USER
    found = request.scope.get("state", {}).get(IDENTITY_KEY)
    if isinstance(found, PageIdentity):
        return found
    identity = _resolve_now(request)
    stash(request, identity)
    return identity


def _resolve_now(request: Any) -> PageIdentity:
    """No guard looked at this request (an app without the API): check its cookie here."""
    current, store = sessions.signer(), sessions.store()
    ref = current.read(request.cookies.get(SESSION_COOKIE)) if current else None
    if ref is not None and store is not None:
        found = store.lookup_sync(ref)
        if found is not None:
            return PageIdentity(found.tenant_id, Principal(found.tenant_id, "user", found.username, found.id))
    if _users_exist_now():
        raise NotSignedIn("sign in first: editor users exist")
    return SINGLE_USER


def current_tenant() -> str:
    """The tenant the current page acts for."""
    return current_identity().tenant_id


def current_user() -> SessionUser | None:
    """The signed-in user of the current page, if any."""
    principal = current_identity().principal
    return SessionUser(principal.tenant_id, principal.name) if principal is not None else None


async def still_valid(identity: PageIdentity, request: Any) -> bool:
    """Whether a page built for ``identity`` may go on: its session is live (or, without a
    login, still no user exists)."""
    if identity.principal is None:
        check = _USERS.check
        return not (await check()) if check is not None else True
    if identity.principal.kind == "local":
        return local.is_active(identity.principal)
    current, store = sessions.signer(), sessions.store()
    ref = current.read(request.cookies.get(SESSION_COOKIE)) if current else None
    if ref is None or store is None:
        return False
    found = await store.lookup(ref)
    return found is not None and found.id == identity.principal.session_id


def end_page(client: Any, reload_path: str = "/login") -> None:
    """Empty the page (no element is left to take an event) and reload it: the page guard sends
    a browser without a live session to ``/login?next=...``."""
    if client.is_deleted:
        return
    client.layout.clear()
    client.open(reload_path)


def _local_path(request: Any) -> str:
    try:
        path = request.url.path or "/"
        query = request.url.query
    except Exception:  # noqa: BLE001 - a request without a URL: the login page will do
        return "/login"
    return path + (f"?{query}" if query else "") if path.startswith("/") and not path.startswith("//") else "/login"


def watch_page() -> None:
    """Re-check the current page's identity every ``WATCH_S``; end the page when it lapses."""
    try:
        client = context.client
        request = client.request
    except (RuntimeError, AttributeError, AssertionError, LookupError):
        return
    if client in _WATCHED:
        return
    _WATCHED.add(client)
    identity = current_identity()

    async def check() -> None:
        if client.is_deleted:
            return
        try:
            valid = await still_valid(identity, request)
        except Exception as exc:  # noqa: BLE001 - the database is away: keep the page, say so once
            log.warning("the page's session could not be checked: %s", exc)
            return
        if not valid:
            log.info("ending a page of %s: its session ended",
                     identity.principal.name if identity.principal else "the single user")
            end_page(client, _local_path(request))

    with client.layout:
        ui.timer(WATCH_S, check, immediate=False)
