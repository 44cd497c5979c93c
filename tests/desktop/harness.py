"""``akis desktop`` as a person starts it, in a test: its own HOME and XDG folders, the X
display from the fixture, and Qt WebEngine's DevTools port so the test can read and drive the
window's page (tests/desktop/cdp.py)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.processes import free_port, stop_process

from .cdp import WindowPage, pages
from .xwindow import XDisplay, screenshot

ROOT = Path(__file__).resolve().parents[2]


class DesktopApp:
    def __init__(self, display: str, folder: Path, artifacts: Path) -> None:
        self.display = display
        self.home = folder / "home"
        self.data_home = folder / "xdg-data"
        self.work = folder / "work"  # the working folder: web mode's defaults would land here
        for path in (self.home, self.data_home, self.work):
            path.mkdir(parents=True, exist_ok=True)
        self.artifacts = artifacts
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "desktop.log"
        self.debug = ""

    @property
    def data_dir(self) -> Path:
        """Where platformdirs puts Akis's data under the test's XDG_DATA_HOME."""
        return self.data_home / "akis"

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AKIS_", "ANTHROPIC_", "OPENAI_", "OTEL_", "QTWEBENGINE_", "XDG_", "PYTEST_",
                                     "NICEGUI_"))}
        env.update(DISPLAY=self.display, HOME=str(self.home), XDG_DATA_HOME=str(self.data_home),
                   XDG_CONFIG_HOME=str(self.home / ".config"), XDG_CACHE_HOME=str(self.home / ".cache"),
                   XDG_RUNTIME_DIR=str(self.home / "runtime"), QTWEBENGINE_REMOTE_DEBUGGING=self.debug,
                   QT_QPA_PLATFORM="xcb", PYTHONUNBUFFERED="1")
        (self.home / "runtime").mkdir(mode=0o700, exist_ok=True)
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # Chromium's sandbox refuses to run as root
            env["QTWEBENGINE_CHROMIUM_FLAGS"] = "--no-sandbox"
        env.update(extra)
        return env

    def start(self, *args: str, **env: str) -> None:
        """``akis desktop``: the installed console script (else its entry point through ``-c``)."""
        self.debug = f"127.0.0.1:{free_port()}"
        script = Path(sys.executable).with_name("akis")
        command = ([sys.executable, str(script)] if script.exists()
                   else [sys.executable, "-c", "import sys; from app import main; sys.argv[0] = 'akis'; main()"])
        command += ["desktop", *args]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=self.work, env={**self.environment(**env),
                                            "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def window_page(self, timeout_s: float = 90.0) -> WindowPage:
        """Wait for the window to show Akis's flows page; connect to it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"akis desktop ended (exit {self.process.returncode}) before its window "
                                     f"showed:\n{self.log()[-3000:]}")
            shown = [p for p in pages(self.debug) if p.get("title", "").endswith("Flows")]
            if shown:
                page = WindowPage(shown[0]["webSocketDebuggerUrl"])
                page.wait_for("document.readyState === 'complete' && !!document.querySelector('[data-testid=import]')")
                return page
            time.sleep(0.3)
        raise AssertionError(f"no window within {timeout_s:g} s:\n{self.log()[-3000:]}")

    def windows(self) -> list[int]:
        x = XDisplay(self.display)
        try:
            return x.windows_titled("Akis")
        finally:
            x.close()

    def geometry(self) -> tuple[int, int, int, int]:
        """The window's (x, y, width, height) on the X screen."""
        x = XDisplay(self.display)
        try:
            (window,) = x.windows_titled("Akis")
            return x.geometry(window)
        finally:
            x.close()

    def icon_sizes(self) -> list[tuple[int, int]]:
        x = XDisplay(self.display)
        try:
            return [size for window in x.windows_titled("Akis") for size in x.icon_sizes(window)]
        finally:
            x.close()

    def move_resize(self, left: int, top: int, width: int, height: int) -> None:
        x = XDisplay(self.display)
        try:
            (window,) = x.windows_titled("Akis")
            x.move_resize(window, left, top, width, height)
        finally:
            x.close()

    def answer_dialog(self, title: str, path: Path, timeout_s: float = 30.0) -> None:
        """Wait for the system's file dialog called ``title``, type ``path`` into it and press Return."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            x = XDisplay(self.display)
            try:
                found = [window for window, name in x.titles().items() if name == title]
                if found:
                    time.sleep(0.5)  # the dialog maps, then takes keys: let it finish showing
                    x.type_into(found[0], str(path))
                    return
            finally:
                x.close()
            time.sleep(0.2)
        raise AssertionError(f"no {title!r} dialog within {timeout_s:g} s")

    def screenshot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        target = self.artifacts / f"{name}.png"
        screenshot(self.display, target)
        return target

    def close_window(self, timeout_s: float = 60.0) -> int:
        """Click the close button (WM_DELETE_WINDOW); the exit code of the process once it ends."""
        assert self.process is not None
        x = XDisplay(self.display)
        try:
            windows = x.windows_titled("Akis")
            assert windows, f"no Akis window to close; windows: {x.titles()}"
            for window in windows:
                x.request_close(window)
        finally:
            x.close()
        return self.process.wait(timeout_s)

    def children(self) -> list[int]:
        """The app's child processes (the window's among them), from /proc."""
        assert self.process is not None
        found = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in found.read_text().split()] if found.exists() else []

    def terminate(self, timeout_s: float = 60.0) -> int:
        """What Ctrl+C in the terminal or a system shutdown does: SIGTERM to the app."""
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout_s)

    @staticmethod
    def gone(pids: list[int], timeout_s: float = 15.0) -> bool:
        """Whether these processes end (multiprocessing's helper ends once it reads its pipe's end)."""
        def running(pid: int) -> bool:
            try:
                return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
            except OSError:  # ended (and reaped) meanwhile
                return False

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not [pid for pid in pids if running(pid)]:
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        stop_process(self.process)

    def runs(self) -> list[dict[str, Any]]:
        """The run rows in the per-user folder's database."""
        with sqlite3.connect(self.data_dir / "akis.db") as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM runs")]
