"""Starting the web app: context, pages, API routes and lifecycle, then ``ui.run``."""
from __future__ import annotations

import logging

from nicegui import app, ui

from runtime.settings import AkisSettings
from storage.errors import StorageError

from . import pages
from .api import register_api, storage_secret
from .auth.bind import UnsafeBind, check_bind
from .context import AkisContext, create_context

log = logging.getLogger("akis")


def setup(settings: AkisSettings) -> AkisContext:
    """Build the context and register pages, routes and the lifecycle on NiceGUI's app."""
    context = create_context(settings)
    pages.register(context)
    register_api(context)
    app.on_startup(context.startup)
    app.on_shutdown(context.shutdown)
    return context


def run_server(settings: AkisSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin, every start
    try:
        context = setup(settings)
    except StorageError as exc:  # the database is unreachable or refused: one line, no traceback
        raise SystemExit(f"error: {exc}") from None
    try:
        check_bind(settings.host, context.database)
    except UnsafeBind as exc:
        log.error("%s", exc)
        raise SystemExit(f"error: {exc}") from None
    ui.run(host=settings.host, port=settings.port, title="Akis", reload=False, show=False,
           favicon="🌊", storage_secret=storage_secret(settings))
