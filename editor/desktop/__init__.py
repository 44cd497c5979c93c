"""Desktop mode: the editor in its own window (``akis desktop``, docs/desktop.md).

NiceGUI's native mode shows the pages in a pywebview window (Qt WebEngine) served on a free
loopback port; one person, no login (:mod:`editor.auth.local`), data in the per-user data
folder (:mod:`.paths`), native open/save dialogs (:mod:`.files`). The window's libraries come
with the optional extra ``.[desktop]``; without it :func:`missing` names what to install.
"""
from __future__ import annotations

import importlib.util
import os
import sys

INSTALL_HINT = "pip install 'akis[desktop]' (from a checkout: pip install -e '.[desktop]')"
NEEDS = ("webview", "qtpy", "PyQt6.QtWebEngineWidgets", "platformdirs")


def missing() -> list[str]:
    """The modules the window needs that are not installed (empty: desktop mode can start)."""
    absent = []
    for name in NEEDS:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the parent package (PyQt6) is absent
            found = False
        if not found:
            absent.append(name)
    return absent


def missing_message() -> str | None:
    """One line naming what to install, or None when everything is there."""
    absent = missing()
    if not absent:
        return None
    return f"error: desktop mode needs the desktop extra ({', '.join(absent)} missing): {INSTALL_HINT}"


def display_problem() -> str | None:
    """On Linux a window needs a display server: one line saying so when none is set."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ("error: no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
                "start Akis from a desktop session, or use akis serve and a browser")
    return None
