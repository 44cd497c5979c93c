"""The whole Akis app as a subprocess for the editor's browser tests (and bench/bench_editor.py).

It runs ``app.py`` on a free loopback port with its own working directory and SQLite file, so
tests can seed and read flows through the storage layer while the browser edits them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "editor"
EXAMPLE = ROOT / "examples" / "pallet_assistant.json"




class EditorApp:
    """``python app.py`` in ``workdir``; ``database`` reads and writes the same SQLite file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_url = f"sqlite:///{workdir / 'akis.db'}"
        self.log_path = workdir / "app.log"
        self.proc: subprocess.Popen | None = None
        self._database: Any = None

    def start(self, timeout: float = 40) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST" and not k.startswith("AKIS_")}
        env.update(AKIS_PORT=str(self.port), AKIS_HOST="127.0.0.1", AKIS_DATABASE_URL=self.db_url,
                   AKIS_WARMUP_INTERVAL_S="0", AKIS_SECRET_KEY="editor-tests-secret",
                   AKIS_DATA_DIR=str(self.workdir / "data"), AKIS_PLUGINS_DIR=str(self.workdir / "plugins"),
                   PYTHONPATH=str(ROOT))
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=self.workdir, env=env,
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the app did not start; its log:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        stop_process(self.proc, 15)
        if self._database is not None:
            self._database.dispose()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ---------- storage, from the test process ----------
    @property
    def database(self) -> Any:
        if self._database is None:
            from storage.db import Database

            self._database = Database(self.db_url)
        return self._database

    def put_flow(self, flow_id: str, document: dict[str, Any] | None = None, tenant: str = "1") -> dict[str, Any]:
        """Save a flow (the demo flow under ``flow_id`` by default); returns the saved document."""
        from storage.repos.flows import save_flow

        data = dict(document or json.loads(EXAMPLE.read_text(encoding="utf-8")))
        data["flow_id"] = flow_id
        self.database.call(save_flow, tenant, data, "test seed")
        return data

    def stored(self, flow_id: str, tenant: str = "1") -> dict[str, Any] | None:
        from storage.repos.flows import get_version

        row = self.database.call(get_version, tenant, flow_id)
        return dict(row.document) if row else None

    def version(self, flow_id: str, tenant: str = "1") -> int | None:
        from storage.repos.flows import get_flow

        flow = self.database.call(get_flow, tenant, flow_id)
        return flow.current_version if flow else None

