"""Starting desktop mode: the web app on a free loopback port, shown in a native window.

Closing the window stops the server through NiceGUI (``app.stop``), which runs the context's
shutdown: background jobs drained, buffered metrics and runs written, then the process ends.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
from pathlib import Path
from typing import ClassVar

from nicegui import app, ui
from nicegui.events import NativeEventArguments

from editor.auth import DEFAULT_TENANT, local
from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS
from runtime import tracing
from runtime.logs import configure_logging
from runtime.settings import AkisSettings
from storage.errors import StorageError

from . import display_problem
from .paths import apply_desktop_defaults
from .window import MIN_SIZE, GeometryKeeper, free_port, load_geometry

log = logging.getLogger("akis.desktop")

TITLE = "Akis"
ICON = Path(__file__).resolve().parent / "icon.png"


def _follow_geometry(keeper: GeometryKeeper) -> None:
    def resized(event: NativeEventArguments) -> None:
        keeper.resized(event.args.get("width"), event.args.get("height"))

    def moved(event: NativeEventArguments) -> None:
        keeper.moved(event.args.get("x"), event.args.get("y"))

    app.native.on("resized", resized)
    app.native.on("moved", moved)
    app.native.on("closed", keeper.save)
    app.on_shutdown(keeper.save)


class _Window:
    """Whether the window ever showed (if it never did, it could not open: the app exits 1) and
    whether it was closed."""

    shown = False
    closed = False
    processes: ClassVar[list[multiprocessing.process.BaseProcess]] = []


def _note_window_process() -> None:
    """At start-up the only child is the window's (NiceGUI starts it before the server)."""
    _Window.processes = multiprocessing.active_children()


def _log_window(event: NativeEventArguments) -> None:
    if event.type == "shown":
        _Window.shown = True
    if event.type == "closed":
        _Window.closed = True
    log.log(logging.DEBUG if event.type == "loaded" else logging.INFO, "desktop: window %s", event.type)


async def _close_window() -> None:
    """Stopped from elsewhere (Ctrl+C, SIGTERM): close the window too instead of leaving it open
    on a page nobody serves; its process gets 5 s to end, then it is terminated."""
    window = app.native.main_window
    if window is not None and not _Window.closed:
        window.destroy()
    for child in _Window.processes:
        await asyncio.to_thread(child.join, 5.0)
        if child.is_alive():
            child.terminate()


def _stopped() -> None:
    """The last shutdown step: say so, and fail the process when the window never opened."""
    log.info("desktop: stopped (background jobs drained, runs and metrics written)")
    if not _Window.shown:
        log.error("desktop: the window could not be opened (see the lines above); "
                  "is a display available (DISPLAY or WAYLAND_DISPLAY)?")
        logging.shutdown()
        os._exit(1)  # NiceGUI ends the process with 0 right after the shutdown steps


def seed_local_examples(context: AkisContext, tenant_id: str) -> None:
    """The window's tenant starts with the example flows, like tenant 1 (the flows page seeds that
    one), when it has no flow and no run yet."""
    if tenant_id == DEFAULT_TENANT:
        return
    try:
        added = context.flows.seed_examples(tenant_id)
    except DATABASE_ERRORS as exc:  # the flows page reports a database problem
        log.warning("example flows not added for tenant %s: %s", tenant_id, exc)
        return
    if added:
        log.info("first start: added the example flows %s for tenant %s", ", ".join(added), tenant_id)


def _quiet_window() -> None:
    """The window process inherits these: the page's console messages and Chromium's informational
    lines stay out of the terminal (a variable the person set is left alone)."""
    os.environ.setdefault("QT_LOGGING_RULES", "js=false;qt.webenginecontext=false")
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
    if "--log-level" not in flags:
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} --log-level=3".strip()


def run_desktop(settings: AkisSettings) -> None:
    """Open the editor in its own window and serve it until the window is closed."""
    if multiprocessing.current_process().name != "MainProcess":
        return  # the window's own process re-imports the main module: it must not start a second app
    from editor.server import setup  # lazy: the web stack loads only here

    problem = display_problem()
    if problem is not None:
        raise SystemExit(problem)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--no-sandbox" not in os.environ.get(
            "QTWEBENGINE_CHROMIUM_FLAGS", ""):
        log.warning("desktop: running as root; Qt WebEngine shows nothing unless "
                    "QTWEBENGINE_CHROMIUM_FLAGS=--no-sandbox is set (better: start Akis as your own user)")
    try:
        apply_desktop_defaults(settings)
    except OSError as exc:  # the data folder cannot be made (a file in the way, no permission)
        raise SystemExit(f"error: the data folder {exc.filename or settings.data_dir} cannot be created "
                         f"({exc.strerror or exc}); choose another with AKIS_DATA_DIR") from None
    configure_logging(settings)
    tracing.configure("akis")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    user = local.enable(settings.desktop_tenant)
    try:
        context = setup(settings)
    except StorageError as exc:  # the database cannot be opened: one line, no traceback
        raise SystemExit(f"error: {exc}") from None
    seed_local_examples(context, user.tenant_id)
    app.include_router(local.router)
    port = free_port(settings.host)
    settings.port = port
    geometry = load_geometry(settings.data_dir)
    _follow_geometry(GeometryKeeper(settings.data_dir, geometry))
    for event in ("shown", "loaded", "closed"):
        app.native.on(event, _log_window)
    app.native.window_args.update(url=f"http://{settings.host}:{port}{local.ENTER_PATH}?key={user.key}",
                                  min_size=MIN_SIZE, text_select=True)
    if geometry.x is not None and geometry.y is not None:
        app.native.window_args.update(x=geometry.x, y=geometry.y)
    _quiet_window()
    app.on_startup(_note_window_process)
    app.on_shutdown(_close_window)
    app.on_shutdown(_stopped)  # the last step: after the context's shutdown and the geometry's save
    app.native.start_args["icon"] = str(ICON)
    if sys.platform.startswith("linux") and not os.environ.get("PYWEBVIEW_GUI"):
        app.native.start_args["gui"] = "qt"  # what the desktop extra installs (pywebview would try GTK first)
    log.info("desktop: data in %s, serving the window on http://%s:%d", settings.data_dir, settings.host, port)
    from editor.api import storage_secret

    ui.run(host=settings.host, port=port, title=TITLE, native=True, window_size=(geometry.width, geometry.height),
           reload=False, favicon=ICON, storage_secret=storage_secret(settings), show_welcome_message=False)
