"""Starting the web app: context, pages, API routes and lifecycle, then ``ui.run``."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from nicegui import app, ui

from runtime import tracing
from runtime.logs import configure_logging
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
    app.on_shutdown(_flush_traces)
    return context


async def _flush_traces() -> None:
    """Export the spans still buffered (bounded by the exporter's own timeout)."""
    await asyncio.to_thread(tracing.shutdown)


def run_server(settings: AkisSettings) -> None:
    configure_logging(settings)  # text as before, or JSON lines (AKIS_LOG_FORMAT=json)
    if tracing.configure("akis"):  # only the standard OTEL_* variables turn traces on
        log.info("traces: OTLP/HTTP export on (OTEL_* variables)")
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
    # JSON logs: uvicorn's loggers keep no handlers of their own, so their lines are JSON too, and
    # NiceGUI's welcome (a print) is a log line instead
    extra: dict[str, Any] = {}
    if settings.log_format == "json":
        extra = {"log_config": None, "show_welcome_message": False}
        log.info("listening on http://%s:%d", settings.host, settings.port)
    ui.run(host=settings.host, port=settings.port, title="Akis", reload=False, show=False,
           favicon="🌊", storage_secret=storage_secret(settings), **extra)
