"""Editor sessions: a signed cookie naming a server-side session record.

The cookie (HttpOnly, SameSite=Lax) holds only the session's public id and a random secret,
signed with a key derived from the app's secret and stamped with the time: it cannot be forged,
edited or kept past its age. Who the browser is (user, tenant) comes from the record in the
database (``storage.repos.sessions``), read on every request and remembered for at most
``LOOKUP_TTL_S``; logout, ``akis user sessions --revoke``, a password change or deleting the user
end it there, so a copied cookie stops working everywhere (on this instance at once, on others
within ``LOOKUP_TTL_S``).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from itsdangerous import BadSignature, URLSafeTimedSerializer

from storage.db import Database
from storage.errors import StorageError
from storage.repos.sessions import (
    ActiveSession,
    create_session,
    lookup_session,
    revoke_session,
    revoke_user_sessions,
)

SESSION_COOKIE = "akis_session"
SESSION_MAX_AGE_S = 12 * 3600
LOOKUP_TTL_S = 1.0  # how long a session check is remembered (also how late another instance sees a revocation)


@dataclass(frozen=True, slots=True)
class SessionUser:
    tenant_id: str
    username: str


@dataclass(frozen=True, slots=True)
class SessionRef:
    """What the cookie carries: the record's public id and the secret only the browser knows."""

    id: str
    secret: str


def derive_key(secret: str, purpose: bytes) -> str:
    """A key of its own for each use: the app secret also encrypts credentials, never reuse it."""
    return hmac.new(secret.encode("utf-8"), purpose, hashlib.sha256).hexdigest()


class SessionSigner:
    """Signs and reads session cookie values."""

    def __init__(self, secret: str, max_age_s: int = SESSION_MAX_AGE_S) -> None:
        self._serializer = URLSafeTimedSerializer(derive_key(secret, b"akis-editor-session"), salt="akis.session")
        self.csrf_key = derive_key(secret, b"akis-editor-csrf").encode("ascii")
        self.max_age_s = max_age_s
        self.secret = secret

    def sign(self, ref: SessionRef) -> str:
        return self._serializer.dumps({"s": ref.id, "k": ref.secret})

    def read(self, value: str | None) -> SessionRef | None:
        """The session a cookie value names, or None when it is missing, forged or expired."""
        if not value or len(value) > 1000:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=self.max_age_s)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("s"), str) or not isinstance(data.get("k"), str):
            return None
        return SessionRef(data["s"], data["k"])

    def token(self, purpose: str, bound_to: str) -> str:
        """An anti-forgery token for a form, bound to something only this browser holds."""
        return hmac.new(self.csrf_key, f"{purpose}:{bound_to}".encode(), hashlib.sha256).hexdigest()

    def check_token(self, purpose: str, bound_to: str, token: str | None) -> bool:
        return bool(token) and bool(bound_to) and hmac.compare_digest(self.token(purpose, bound_to), str(token))


class SessionStore:
    """Session records through the database, each check remembered for ``ttl_s``.

    Revoking through this store forgets every remembered check at once; a revocation made
    elsewhere (another instance, the CLI) is seen after ``ttl_s`` at most."""

    def __init__(self, database: Database, ttl_s: float = LOOKUP_TTL_S, max_entries: int = 10_000) -> None:
        self.database = database
        self._cache: TTLCache[tuple[str, str], ActiveSession | None] = TTLCache(maxsize=max_entries, ttl=ttl_s)

    @staticmethod
    def _key(ref: SessionRef) -> tuple[str, str]:
        return ref.id, hashlib.sha256(ref.secret.encode("utf-8")).hexdigest()

    async def lookup(self, ref: SessionRef) -> ActiveSession | None:
        """The live session or None."""
        key = self._key(ref)
        if key in self._cache:
            return self._cache[key]
        try:
            found = await self.database.run(lookup_session, ref.id, ref.secret)
        except StorageError:
            found = None
        self._cache[key] = found
        return found

    def lookup_sync(self, ref: SessionRef) -> ActiveSession | None:
        """:meth:`lookup` for code that cannot await (a page's synchronous helpers)."""
        key = self._key(ref)
        if key in self._cache:
            return self._cache[key]
        found = self.database.call(lookup_session, ref.id, ref.secret)
        self._cache[key] = found
        return found

    async def create(self, tenant_id: str, username: str, *, user_agent: str, address: str,
                     max_age_s: int = SESSION_MAX_AGE_S) -> SessionRef:
        row, secret = await self.database.run(create_session, tenant_id, username, max_age_s=max_age_s,
                                              user_agent=user_agent, address=address)
        return SessionRef(row.id, secret)

    async def revoke(self, tenant_id: str, username: str, session_id: str) -> bool:
        try:
            return await self.database.run(revoke_session, tenant_id, username, session_id)
        finally:
            self.forget()

    async def revoke_all(self, tenant_id: str, username: str, keep: str | None = None) -> int:
        try:
            return await self.database.run(revoke_user_sessions, tenant_id, username, keep=keep)
        finally:
            self.forget()

    def forget(self) -> None:
        """Drop every remembered check (after a revocation through this instance)."""
        self._cache.clear()


_STATE: dict[str, Any] = {"signer": None, "store": None, "allowed_origins": frozenset()}


def configure(secret: str, max_age_s: int = SESSION_MAX_AGE_S, database: Database | None = None,
              allowed_origins: set[str] | frozenset[str] = frozenset()) -> SessionSigner:
    """Set the process's signer, its session store when ``database`` is given, and the other
    origins whose pages may send state changes with the cookie (server setup)."""
    _STATE["signer"] = SessionSigner(secret, max_age_s)
    _STATE["allowed_origins"] = frozenset(allowed_origins)
    if database is not None:
        use_database(database)
    return _STATE["signer"]


def allowed_origins() -> set[str]:
    """Origins besides the app's own (``AKIS_ALLOWED_ORIGINS``)."""
    return set(_STATE["allowed_origins"])


def use_database(database: Database) -> SessionStore:
    """Read session records from ``database`` (the pages and the API share one store)."""
    store = _STATE["store"]
    if store is None or store.database is not database:
        store = _STATE["store"] = SessionStore(database)
    return store


def reset() -> None:
    """Forget the signer and the store (tests)."""
    _STATE.update(signer=None, store=None, allowed_origins=frozenset())


def signer() -> SessionSigner | None:
    return _STATE["signer"]


def store() -> SessionStore | None:
    return _STATE["store"]


def cookie_options(secure: bool) -> dict[str, Any]:
    """What every session cookie is set with; ``secure`` when the request came over HTTPS."""
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/", "max_age": SESSION_MAX_AGE_S}
