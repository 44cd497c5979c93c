"""Starting the web app: context, pages, API routes and lifecycle, then ``ui.run``."""
from __future__ import annotations

import logging

from runtime.settings import AkisSettings

log = logging.getLogger("akis")

_CONTEXT: list = []


def get_context():  # type: ignore[no-untyped-def]
    """The app's shared context (created by :func:`setup`)."""
    if not _CONTEXT:
        raise RuntimeError("the Akis app is not set up")
    return _CONTEXT[0]


def setup(settings: AkisSettings):  # type: ignore[no-untyped-def]
    """Build the context and register pages and routes on NiceGUI's app (idempotent per process)."""
    from nicegui import app

    from . import pages
    from .context import create_context

    if _CONTEXT:
        return _CONTEXT[0]
    context = create_context(settings)
    _CONTEXT.append(context)
    pages.register(context)
    from .api import register_api

    register_api(context)
    app.on_startup(context.startup)
    app.on_shutdown(context.shutdown)
    return context


def run_server(settings: AkisSettings) -> None:
    from nicegui import ui

    from storage.errors import StorageError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin, every start
    try:
        context = setup(settings)
    except StorageError as exc:  # the database is unreachable or refused: one line, no traceback
        raise SystemExit(f"error: {exc}") from None
    from .api import storage_secret
    from .auth.bind import UnsafeBind, check_bind

    try:
        check_bind(settings.host, context.database)
    except UnsafeBind as exc:
        log.error("%s", exc)
        raise SystemExit(f"error: {exc}") from None
    ui.run(host=settings.host, port=settings.port, title="Akis", reload=False, show=False,
           favicon="🌊", storage_secret=storage_secret(settings))
