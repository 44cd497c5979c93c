"""Desktop mode's window under Xvfb: an X server per test session, and ``akis desktop`` as a
subprocess with its own HOME and XDG folders (so the per-user data folder is the test's).

Without Xvfb or the desktop extra the tests skip; under CI=true they fail instead."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from editor.desktop import missing
from tests.conftest import require
from tests.ui.conftest import editor_user  # noqa: F401 - the editor pages' User fixture (test_native_dialogs.py)

from .harness import DesktopApp

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "desktop"


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """A private X display (``:N``) served by Xvfb for the whole session."""
    require(shutil.which("Xvfb") is not None, "Xvfb (Debian package xvfb: the display server for the window)")
    require(not missing(), f"the desktop extra ({', '.join(missing())} missing: pip install -e '.[desktop]')")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as answer:
            number = answer.readline().strip()  # Xvfb writes the display number once it accepts clients
        if not number.isdigit():
            pytest.fail(f"Xvfb did not start (exit code {server.poll()})", pytrace=False)
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


@pytest.fixture
def desktop(x_display: str, tmp_path: Path) -> Iterator[DesktopApp]:
    """``akis desktop`` for one test (not started yet: the test calls ``start``); stopped after."""
    app = DesktopApp(x_display, tmp_path, ARTIFACTS)
    try:
        yield app
    finally:
        app.stop()
