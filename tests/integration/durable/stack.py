"""Queue mode on loopback: app instances and ``akis worker`` processes started by the test (by
pid), one private PostgreSQL schema, Redis under a private key prefix, a counting HTTP endpoint."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api.harness import AppServer, server_env
from tests.processes import stop_process

ROOT = Path(__file__).resolve().parents[3]
TENANT, OTHER = "2", "3"
LEASE_S = 3.0  # short leases: a dead worker's run is taken over within seconds


def durable_flow(flow_id: str, effect_url: str, *, chunks: int = 30, tokens_per_second: float = 0,
                 text: str | None = None) -> dict[str, Any]:
    """user_input -> http_request (a counted side effect) -> ai_response (streams) -> output,
    and save_message in the background."""
    answer = text or " ".join(f"w{i}" for i in range(chunks))
    return {
        "akis": 1, "flow_id": flow_id, "name": f"Durable {flow_id}",
        "nodes": [
            {"id": "in", "type": "user_input"},
            {"id": "effect", "type": "http_request", "config": {"url": effect_url, "output_key": "effect"}},
            {"id": "ai", "type": "ai_response", "config": {
                "provider": "mock", "provider_options": {"tokens_per_second": tokens_per_second, "chunks": chunks,
                                                         "text": answer}}},
            {"id": "out", "type": "output"},
            {"id": "save", "type": "save_message"},
        ],
        "edges": [{"source": "in", "target": "effect"}, {"source": "effect", "target": "ai"},
                  {"source": "ai", "target": "out"}, {"source": "out", "target": "save"}],
    }


@dataclass
class Stack:
    workdir: Path
    database_url: str
    redis_url: str
    token: str
    other_token: str
    prefix: str = field(default_factory=lambda: f"akis:t{uuid.uuid4().hex[:10]}:")
    apps: list[AppServer] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {"AKIS_DATABASE_URL": self.database_url, "AKIS_REDIS_URL": self.redis_url,
                "AKIS_QUEUE_PREFIX": self.prefix, "AKIS_RUN_LEASE_S": str(LEASE_S),
                "AKIS_HTTP_ALLOW_HOSTS": "127.0.0.1", "AKIS_SECRET_KEY": "durable-tests", **self.extra_env}

    def start_app(self) -> AppServer:
        workdir = self.workdir / f"app{len(self.apps)}"
        workdir.mkdir()
        app = AppServer(workdir, env=self.env()).start()
        self.apps.append(app)
        return app

    def start_worker(self, concurrency: int = 2, *args: str, cli: str = "storage.cli") -> subprocess.Popen[bytes]:
        """``cli``: ``storage.cli`` (storage's commands alone) or ``app`` (the app's ``akis``)."""
        log = (self.workdir / f"worker{len(self.workers)}.log").open("ab")
        start = [sys.executable, "-m", "storage.cli"] if cli == "storage.cli" else \
            [sys.executable, "-c", "import app; app.main()"]
        command = [*start, "worker", "--queue", f"{self.prefix}jobs",
                   "--concurrency", str(concurrency), "--poll-delay", "0.05", *args]
        worker = subprocess.Popen(command, cwd=ROOT, env=server_env(self.env()), stdout=log,
                                  stderr=subprocess.STDOUT)
        self.workers.append(worker)
        return worker

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def worker_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("worker*.log")))

    def stop(self) -> None:
        for app in self.apps:
            app.stop()
        for worker in self.workers:
            stop_process(worker, 15)


def wait_for(condition: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    """Poll until ``condition()``; the limit only bounds a hung test, it asserts no timing."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def clean_env() -> None:
    os.environ.pop("PYTEST_CURRENT_TEST", None)


def stored_run(stack: Stack, run_id: str) -> Any:
    """The run row as stored (columns the API does not show: worker, lease, attempts)."""
    from storage.db import Database
    from storage.repos.runs import get_run

    database = Database(stack.database_url)
    try:
        return database.call(get_run, TENANT, run_id)
    finally:
        database.dispose()


def messages(stack: Stack, session: str) -> list[tuple[str, str]]:
    """The conversation's stored messages, (role, content) in order."""
    from sqlalchemy import text

    from storage.db import Database

    database = Database(stack.database_url)
    try:
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT role, content FROM conversation_messages "
                                           "WHERE tenant_id = :t AND session_id = :s ORDER BY seq, id"),
                                      {"t": TENANT, "s": session}).all()
        return [(role, content) for role, content in rows]
    finally:
        database.dispose()
