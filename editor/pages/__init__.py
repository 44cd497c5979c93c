"""The editor's pages. Each module registers its routes in ``register``."""
from __future__ import annotations

from editor.auth import pages as auth_pages
from editor.context import AkisContext

from . import dashboard, flow_editor, home, settings


def register(context: AkisContext) -> None:
    auth_pages.use_database(context.database)  # where pages check their session (editor.auth.pages)
    home.register(context)
    flow_editor.register(context)
    dashboard.register(context)
    settings.register(context)
