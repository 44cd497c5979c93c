"""Who is using Akis: editor users (a session cookie naming a server-side session record) and
API clients (tenant tokens).

Until editor users exist, every page acts for the default tenant ("1"); once a user exists,
pages require a login and act for that user's tenant, taken from the session record only.
The API always needs a credential.
"""
from __future__ import annotations

from .pages import (
    DEFAULT_TENANT,
    NotSignedIn,
    PageIdentity,
    current_identity,
    current_tenant,
    current_user,
    watch_page,
)
from .principal import Principal, authenticate
from .sessions import SESSION_COOKIE, SessionUser, signer

__all__ = ["DEFAULT_TENANT", "SESSION_COOKIE", "NotSignedIn", "PageIdentity", "Principal", "SessionUser",
           "authenticate", "current_identity", "current_tenant", "current_user", "signer", "watch_page"]
