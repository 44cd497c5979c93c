"""Who is signed in, in the header: the user's name, and a menu with their tenant and Sign out.

Compact on purpose (one button) so the header still fits a laptop's 1024 px. Sign out is a plain
form that POSTs to ``/logout`` (same origin), so the session cookie, which is HttpOnly, is
deleted by the server's answer. The desktop window's local user has no session to end, and a
one-person install without users has nobody to show.
"""
from __future__ import annotations

from nicegui import ui

from .pages import NotSignedIn, current_identity


def user_menu() -> ui.button | None:
    """The signed-in user's button and menu; None when nobody is signed in."""
    try:
        principal = current_identity().principal
    except NotSignedIn:
        return None
    if principal is None:
        return None
    with ui.button(icon="account_circle").props("flat no-caps dense data-testid=user-menu").classes(
            "px-2") as button:
        ui.label(principal.name).classes("ellipsis").style("max-width: 120px").props("data-testid=user-name")
        with ui.menu().props("anchor='bottom right' self='top right'"), ui.column().classes("gap-1 q-pa-md"):
            ui.label(f"Signed in as {principal.name}").classes("text-body2 text-weight-medium")
            ui.label(f"tenant {principal.tenant_id}").classes("text-caption akis-muted").props(
                "data-testid=user-tenant")
            if principal.kind == "user":
                ui.separator()
                with ui.element("form").props("method=post action=/logout data-testid=logout-form"):
                    ui.button("Sign out", icon="logout").props(
                        "type=submit flat dense no-caps data-testid=logout")
    return button
