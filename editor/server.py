"""Starting the web app: context, pages, API routes and lifecycle, then ``ui.run``."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from nicegui import app, ui

from runtime import gc_policy, tracing
from runtime.logs import configure_logging
from runtime.settings import AkisSettings
from storage.crypto import KEY_FILE
from storage.errors import StorageError

from . import pages
from .api import dispatch, register_api, storage_secret
from .auth.bind import UnsafeBind, check_bind
from .context import AkisContext, create_context
from .drain import InFlight

log = logging.getLogger("akis")


def setup(settings: AkisSettings) -> AkisContext:
    """Build the context and register pages, routes and the lifecycle on NiceGUI's app."""
    context = create_context(settings)
    pages.register(context)
    register_api(context)
    context.drain.configure(settings.drain_delay_s, settings.drain_timeout_s,
                            context.runs.active.executing_count)
    app.add_middleware(InFlight, drain=context.drain)  # counts the API requests a drain waits for
    dispatch.install(app)  # API requests skip NiceGUI's page-only BaseHTTPMiddleware layers
    app.on_startup(context.drain.install)  # SIGTERM: readiness fails first, then in-flight work finishes
    app.on_startup(context.startup)
    app.on_shutdown(context.shutdown)
    app.on_shutdown(_flush_traces)
    return context


def warn_unshared_secret(settings: AkisSettings) -> None:
    """With Redis configured this is one of several instances: they must share AKIS_SECRET_KEY,
    or a session signed (or a credential encrypted) by one is refused (or unreadable) by another."""
    if settings.redis_url and not settings.secret_key.get_secret_value():
        log.warning("AKIS_SECRET_KEY is not set: this instance signs sessions and encrypts credentials with the "
                    "key generated in %s on this host. With several instances (AKIS_REDIS_URL is set) give "
                    "every instance the same AKIS_SECRET_KEY (docs/deploy.md), or sign-ins and stored "
                    "credentials work on one instance only", settings.data_dir / KEY_FILE)


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
    warn_unshared_secret(settings)
    try:
        check_bind(settings.host, context.database)
    except UnsafeBind as exc:
        log.error("%s", exc)
        raise SystemExit(f"error: {exc}") from None
    gc_policy.apply(settings.gc_threshold_values)  # many runs in flight: fewer, larger young collections
    if settings.gc_freeze:
        app.on_startup(gc_policy.freeze)  # after every other start-up step: what they made is here to stay
    # JSON logs: uvicorn's loggers keep no handlers of their own, so their lines are JSON too, and
    # NiceGUI's welcome (a print) is a log line instead
    extra: dict[str, Any] = {}
    if settings.log_format == "json":
        extra = {"log_config": None, "show_welcome_message": False}
        log.info("listening on http://%s:%d", settings.host, settings.port)
    # after a drain uvicorn closes what is still open, waiting at most a few seconds for it
    ui.run(host=settings.host, port=settings.port, title="Akis", reload=False, show=False,
           favicon="🌊", storage_secret=storage_secret(settings), timeout_graceful_shutdown=5, **extra)
