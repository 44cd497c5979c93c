"""Who is using the editor: the tenant of the signed-in user.

Until editor users exist, every page acts for the default tenant ("1"); once a user exists,
pages require a login and act for that user's tenant.
"""
from __future__ import annotations

DEFAULT_TENANT = "1"


def current_tenant() -> str:
    """The tenant the current page request acts for."""
    try:
        from nicegui import app

        tenant = app.storage.user.get("tenant_id")
    except (RuntimeError, AssertionError, KeyError):
        tenant = None
    return str(tenant) if tenant else DEFAULT_TENANT
