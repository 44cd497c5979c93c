"""Who is calling the API: a tenant, taken only from the credential.

An API token (``Authorization: Bearer akis_...``) or an editor user's session cookie names the
tenant. Nothing in a body, path or header other than the credential can change it.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import HTTPConnection

from .sessions import SESSION_COOKIE, signer

# A WebSocket from a browser cannot set headers: it may send the token as a subprotocol pair
# ("akis-token", "<token>"), the same trick Kubernetes uses for its bearer tokens.
WS_TOKEN_PROTOCOL = "akis-token"


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    kind: Literal["token", "user"]
    name: str  # the token id (public part) or the username


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
    revoked token stops working within ``ttl_s``. Only successes are kept, by digest."""

    def __init__(self, ttl_s: float = 2.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[str, float]] = {}

    def get(self, token: str) -> str | None:
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[0]

    def put(self, token: str, tenant_id: str) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[hashlib.sha256(token.encode("utf-8")).hexdigest()] = (tenant_id, time.monotonic() + self.ttl_s)


TOKENS = TokenCache()


async def authenticate(connection: HTTPConnection, database: Any) -> Principal | None:
    """The caller's principal, or None. A token that is present but wrong is never
    overridden by a cookie: it answers None, so a mistake is not silently another identity."""
    token = bearer_token(connection)
    if token is not None:
        from storage.repos.tokens import verify_token

        if len(token) > 200:
            return None
        tenant = TOKENS.get(token)
        if tenant is None:
            tenant = await database.run(verify_token, token)
            if tenant is None:
                return None
            TOKENS.put(token, tenant)
        return Principal(tenant, "token", token.split("_", 2)[1])
    return await session_principal(connection, database)


class UserPresence:
    """Whether a session's user still exists, remembered for ``ttl_s``: deleting a user ends
    their sessions within that time, without a database read on every request."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._seen: dict[tuple[str, str], tuple[bool, float]] = {}

    async def exists(self, database: Any, tenant_id: str, username: str) -> bool:
        key = (tenant_id, username)
        entry = self._seen.get(key)
        now = time.monotonic()
        if entry is not None and entry[1] > now:
            return entry[0]
        from storage.errors import StorageError
        from storage.repos.users import get_user

        try:
            found = await database.run(get_user, tenant_id, username) is not None
        except StorageError:
            found = False
        if len(self._seen) >= self.max_entries:
            self._seen.clear()
        self._seen[key] = (found, now + self.ttl_s)
        return found


USERS = UserPresence()


async def session_principal(connection: HTTPConnection, database: Any) -> Principal | None:
    """The signed-in editor user of a request (a valid cookie of a user who still exists)."""
    current = signer()
    user = current.read(connection.cookies.get(SESSION_COOKIE)) if current else None
    if user is None or not await USERS.exists(database, user.tenant_id, user.username):
        return None
    return Principal(user.tenant_id, "user", user.username)
