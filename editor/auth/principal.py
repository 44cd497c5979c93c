"""Who is calling the API: a tenant, taken only from the credential.

An API token (``Authorization: Bearer akis_...``) or an editor user's session cookie names the
tenant. Nothing in a body, path or header other than the credential can change it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from cachetools import TTLCache
from fastapi import HTTPException
from starlette.requests import HTTPConnection

from storage.db import Database
from storage.repos.tokens import verify_token

from .sessions import SESSION_COOKIE, allowed_origins, signer, store, use_database

# A WebSocket from a browser cannot set headers: it may send the token as a subprotocol pair
# ("akis-token", "<token>"), the same trick Kubernetes uses for its bearer tokens.
WS_TOKEN_PROTOCOL = "akis-token"


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    kind: Literal["token", "user", "local"]  # "local": the desktop window's user (editor/auth/local.py)
    name: str  # the token id (public part) or the username
    session_id: str | None = None  # an editor user's session record (kind "user")


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if connection.scope.get("type") == "websocket":
        # Servers hand the offered subprotocols over in the scope (uvicorn drops the header).
        offered = [str(p).strip() for p in connection.scope.get("subprotocols") or ()]
        if not offered:
            offered = [p.strip() for p in connection.headers.get("sec-websocket-protocol", "").split(",")]
        if WS_TOKEN_PROTOCOL in offered:
            position = offered.index(WS_TOKEN_PROTOCOL)
            if position + 1 < len(offered) and offered[position + 1]:
                return offered[position + 1]
    return None


class TokenCache:
    """Recently verified tokens, for ``ttl_s`` seconds: verifying is a database round trip (and
    a write of ``last_used_at``) that a busy client would otherwise pay on every request. A
    revoked token stops working within ``ttl_s``. Only successes are kept, by digest, at most
    ``max_entries`` (the least recently used go first)."""

    def __init__(self, ttl_s: float = 2.0, max_entries: int = 10_000) -> None:
        self._tenants: TTLCache[str, str] = TTLCache(maxsize=max_entries, ttl=ttl_s)

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def get(self, token: str) -> str | None:
        return self._tenants.get(self._key(token))

    def put(self, token: str, tenant_id: str) -> None:
        self._tenants[self._key(token)] = tenant_id


TOKENS = TokenCache()


async def authenticate(connection: HTTPConnection, database: Database) -> Principal | None:
    """The caller's principal, or None. A token that is present but wrong is never
    overridden by a cookie: it answers None, so a mistake is not silently another identity.
    A state change authenticated by the cookie but sent by another site's page raises
    :class:`CrossSiteRefused` (403)."""
    token = bearer_token(connection)
    if token is not None:
        if len(token) > 200:
            return None
        tenant = TOKENS.get(token)
        if tenant is None:
            tenant = await database.run(verify_token, token)
            if tenant is None:
                return None
            TOKENS.put(token, tenant)
        return Principal(tenant, "token", token.split("_", 2)[1])
    principal = await session_principal(connection, database)
    if principal is not None:
        # The browser sends the cookie on its own: a state change must come from our own pages.
        check_same_origin(connection)
    return principal


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CrossSiteRefused(HTTPException):
    """A state change sent with the session cookie by a page of another origin (403)."""

    def __init__(self) -> None:
        super().__init__(403, "refused: a page of another site may not change anything with your session "
                              "(Origin, Referer or Sec-Fetch-Site names another site)")


async def session_principal(connection: HTTPConnection, database: Database) -> Principal | None:
    """The signed-in editor user of a request: a validly signed cookie naming a live session
    record (not revoked, not expired, its user still there)."""
    current = signer()
    ref = current.read(connection.cookies.get(SESSION_COOKIE)) if current else None
    if ref is None:
        return None
    found = await (store() or use_database(database)).lookup(ref)
    if found is None:
        return None
    return Principal(found.tenant_id, "user", found.username, found.id)


def check_same_origin(connection: HTTPConnection) -> None:
    """Raise :class:`CrossSiteRefused` for a state-changing HTTP request that Origin, Referer
    or Sec-Fetch-Site says another site sent (the app's own origin, or one on
    ``AKIS_ALLOWED_ORIGINS``, passes). Every request the session cookie authenticates goes
    through here."""
    from editor.api.limits import same_origin_request  # here: editor.api's package imports editor.auth

    if connection.scope.get("type") != "http" or connection.scope.get("method", "GET") not in UNSAFE_METHODS:
        return
    if not same_origin_request(connection.headers, allowed_origins()):
        raise CrossSiteRefused()
