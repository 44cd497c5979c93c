"""The run-pane test app (``run_pane_app.py``) as a subprocess on a free port, for browser tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from storage.db import Database
from tests.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("run_pane_app.py")
ARTIFACTS = ROOT / "artifacts" / "run_pane"


class RunPaneServer:
    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        """``env``: settings for this app (the test's own ``AKIS_*`` variables are never passed on)."""
        self.data = data
        self.env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = ARTIFACTS / f"app-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self._database: Database | None = None

    def start(self, timeout: float = 40) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTEST_CURRENT_TEST", "ANTHROPIC_API_KEY", "OPENAI_API_KEY") and not k.startswith("AKIS_")}
        env.update(self.env)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, str(APP), "--port", str(self.port), "--data", str(self.data)],
                                     cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                self.get("/test/state/none")
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"run pane app did not start; its log:\n{self.log_path.read_text()[-3000:]}", pytrace=False)

    def stop(self) -> None:
        if self._database is not None:
            self._database.dispose()
        stop_process(self.proc)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    @property
    def database(self) -> Database:
        """The app's SQLite file, opened from the test process (WAL: both may write)."""
        if self._database is None:
            self._database = Database(f"sqlite:///{self.data / 'akis.db'}")
        return self._database


def shot(page: Any, name: str, selector: str | None = None) -> Path:
    """A screenshot of the page, or of one element, under artifacts/run_pane/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if selector is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        page.locator(selector).screenshot(path=str(path))
    return path
