"""Browser-test helpers: the canvas harness, the editor and the run-pane app as subprocesses,
and headless Debian Chromium.

The browser is launched lazily per module (only after ``chromium_path`` has checked it exists),
so a missing browser skips locally and fails under CI=true, like every other service.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port, slow_but_finished, stop_process

from .editor_app import ARTIFACTS as EDITOR_ARTIFACTS
from .editor_app import EditorApp
from .run_pane_server import RunPaneServer

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("canvas_harness.py")
ARTIFACTS = ROOT / "artifacts" / "canvas"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]




class HarnessApp:
    """The harness app on a free loopback port; ``events()`` is what Python received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = ARTIFACTS / f"harness-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(HARNESS), "--port", str(self.port)], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/events", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"canvas harness did not start; its log:\n{self.log_path.read_text()[-3000:]}", pytrace=False)

    def stop(self) -> None:
        stop_process(self.proc)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.get("/events") if name is None or e["name"] == name]

    def wait_event(self, name: str, where: Callable[[dict], bool] = lambda _: True, timeout: float = 10) -> dict:
        """The first event ``name`` whose args satisfy ``where``; fails naming what did arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events(name):
                if where(event["args"]):
                    return event["args"]
            time.sleep(0.05)
        pytest.fail(f"no {name!r} event arrived in Python; got {self.events()}", pytrace=False)


class _Browser:
    def __init__(self) -> None:
        self.playwright: Any = None
        self.browser: Any = None

    def get(self, executable: str) -> Any:
        if self.browser is None:
            from playwright.sync_api import sync_playwright

            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        return self.browser

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.playwright.stop()


@pytest.fixture(scope="module")
def harness() -> Iterator[HarnessApp]:
    app = HarnessApp()
    app.start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def _browser_holder() -> Iterator[_Browser]:
    holder = _Browser()
    yield holder
    holder.close()


def recorded_page(browser: Any, request: pytest.FixtureRequest, folder: Path, **options: Any) -> Iterator[Any]:
    """A page in a fresh context (1440x860): its screenshot goes to ``folder`` after the test, and
    a JavaScript error on it fails the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 860}, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{request.node.name}.png"))
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(chromium_path: str, _browser_holder: _Browser, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; a screenshot of it is saved under artifacts/canvas/ after the test."""
    yield from recorded_page(_browser_holder.get(chromium_path), request, ARTIFACTS)


# --- the editor (the test_editor_* and run-pane editor modules) -------------------------------
@pytest.fixture(scope="module")
def editor_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EditorApp]:
    """The editor as a subprocess per module; an error in its log fails the module."""
    app = EditorApp(tmp_path_factory.mktemp("akis-editor"))
    try:
        app.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield app
    app.stop()
    errors = [line for line in app.log_text().splitlines()
              if ("Traceback" in line or " ERROR " in f" {line} ") and not slow_but_finished(line)]
    assert not errors, f"the app logged errors:\n{app.log_text()[-4000:]}"




@pytest.fixture
def editor_page(chromium_path: str, _browser_holder: _Browser, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (own cookies, so own drafts); a screenshot is saved after the test."""
    yield from recorded_page(_browser_holder.get(chromium_path), request, EDITOR_ARTIFACTS, accept_downloads=True)


# --- the run pane and dashboard app -----------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunPaneServer]:
    app = RunPaneServer(tmp_path_factory.mktemp("run_pane_app"))
    app.start()
    yield app
    app.stop()
