"""Who is using Akis: editor users (session cookie) and API clients (tenant tokens).

Until editor users exist, every page acts for the default tenant ("1"); once a user exists,
pages require a login and act for that user's tenant. The API always needs a credential.
"""
from __future__ import annotations

from .principal import Principal, authenticate
from .sessions import SESSION_COOKIE, SessionUser, signer

DEFAULT_TENANT = "1"


def current_user() -> SessionUser | None:
    """The signed-in user of the current page request, if any."""
    try:
        from nicegui import context

        request = context.client.request
    except (RuntimeError, AttributeError, AssertionError, LookupError):
        return None
    current = signer()
    return current.read(request.cookies.get(SESSION_COOKIE)) if current else None


def current_tenant() -> str:
    """The tenant the current page request acts for."""
    user = current_user()
    return user.tenant_id if user is not None else DEFAULT_TENANT


__all__ = ["DEFAULT_TENANT", "Principal", "SESSION_COOKIE", "SessionUser", "authenticate", "current_tenant",
           "current_user"]
