"""Runs the real app (``python app.py``) in a subprocess on a free loopback port, and small
SSE/flow helpers shared by the API tests and the benchmark."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[3]




def server_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without pytest's marker and without any AKIS_ setting of the
    developer's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k != "PYTEST_CURRENT_TEST" and not k.startswith("AKIS_")
           and k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")}
    env.update({"PYTHONPATH": str(ROOT), "AKIS_WARMUP_INTERVAL_S": "0", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@dataclass
class AppServer:
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def start(self, timeout_s: float = 60.0) -> AppServer:
        self.port = self.port or free_port()
        env = server_env({"AKIS_HOST": self.host, "AKIS_PORT": str(self.port), **self.env})
        with open(self.log_path, "ab") as log:  # the child keeps its own handle
            self.process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=self.workdir, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code in (200, 503):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the app did not answer within {timeout_s}s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        stop_process(self.process, 15)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def search_flow(flow_id: str) -> dict[str, Any]:
    """user_input -> product_search (cached, tagged ``products``) -> output."""
    return {
        "akis": 1, "flow_id": flow_id,
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "search", "type": "product_search", "config": {"query": "{{ user_message }}", "limit": 3}},
                  {"id": "out", "type": "output", "config": {"fields": {"n": "{{ products | length }}"}}}],
        "edges": [{"source": "in", "target": "search"}, {"source": "search", "target": "out"}],
        "cache_strategy": {"product_search": {"enabled": True, "ttl": 300, "key_fields": ["query"],
                                              "tags": ["products"]}},
    }


def chat_flow(flow_id: str = "chat", *, chunks: int = 20, text: str | None = None,
              tokens_per_second: float = 0, delay_ms: float = 0) -> dict[str, Any]:
    """user_input -> ai_response (the mock provider, exact chunks) -> output."""
    answer = text or " ".join(f"word{i}" for i in range(chunks * 2))
    return {
        "akis": 1, "flow_id": flow_id, "name": f"Chat {flow_id}",
        "nodes": [
            {"id": "in", "type": "user_input"},
            {"id": "ai", "type": "ai_response", "config": {
                "provider": "mock", "provider_options": {
                    "delay_ms": delay_ms, "tokens_per_second": tokens_per_second, "chunks": chunks, "text": answer}}},
            {"id": "out", "type": "output"},
        ],
        "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}],
    }


def trivial_flow(flow_id: str = "echo") -> dict[str, Any]:
    """user_input -> template -> output: the cheapest flow that still runs three nodes."""
    return {
        "akis": 1, "flow_id": flow_id, "name": "Echo",
        "nodes": [
            {"id": "in", "type": "user_input"},
            {"id": "t", "type": "template", "config": {"template": "echo: {{ user_message }}", "output_key": "answer"}},
            {"id": "out", "type": "output"},
        ],
        "edges": [{"source": "in", "target": "t"}, {"source": "t", "target": "out"}],
    }


@dataclass
class SseEvent:
    id: str | None
    event: str
    data: dict[str, Any]


async def sse_events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """Parse an SSE response body into events (comments and keep-alives skipped)."""
    event_id: str | None = None
    name = "message"
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield SseEvent(event_id, name, json.loads("\n".join(data)))
            event_id, name, data = None, "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
