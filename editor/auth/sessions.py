"""Signed session cookies for editor users (HttpOnly, SameSite=Lax).

The cookie holds the user's tenant and name, signed with a key derived from the app's secret
and stamped with the time, so it cannot be forged or edited and it expires on its own.
Logout deletes it.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "akis_session"
SESSION_MAX_AGE_S = 12 * 3600


@dataclass(frozen=True, slots=True)
class SessionUser:
    tenant_id: str
    username: str


class SessionSigner:
    """Signs and reads session cookie values."""

    def __init__(self, secret: str, max_age_s: int = SESSION_MAX_AGE_S) -> None:
        # A key of its own: the app secret also encrypts credentials, never reuse it directly.
        key = hmac.new(secret.encode("utf-8"), b"akis-editor-session", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(key, salt="akis.session")
        self.max_age_s = max_age_s

    def sign(self, user: SessionUser) -> str:
        return self._serializer.dumps({"t": user.tenant_id, "u": user.username})

    def read(self, value: str | None) -> SessionUser | None:
        """The user of a cookie value, or None when it is missing, forged or expired."""
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=self.max_age_s)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("t"), str) or not isinstance(data.get("u"), str):
            return None
        return SessionUser(data["t"], data["u"])


_SIGNER: list[SessionSigner] = []


def configure(secret: str, max_age_s: int = SESSION_MAX_AGE_S) -> SessionSigner:
    """Set the process's signer (called once by the server setup)."""
    _SIGNER.clear()
    _SIGNER.append(SessionSigner(secret, max_age_s))
    return _SIGNER[0]


def signer() -> SessionSigner | None:
    return _SIGNER[0] if _SIGNER else None


def cookie_options(secure: bool) -> dict[str, Any]:
    """What every session cookie is set with; ``secure`` when the request came over HTTPS."""
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/", "max_age": SESSION_MAX_AGE_S}
