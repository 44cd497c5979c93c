"""Traces end to end: a real OTLP/HTTP receiver (protobuf decoded with ``opentelemetry-proto``)
gets the spans of a run started over HTTP with a ``traceparent``.

One trace from the caller through the web process (run and node spans), the outgoing
``http_request`` (a loopback server records the ``traceparent`` it received), the model call
(GenAI attributes; the fake LLM server records its ``traceparent``) and the background job
that ``akis worker`` runs from the Redis queue.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.conftest import REDIS_HOST, REDIS_PORT, port_open, require
from tests.fakes.llm_server import FakeLLMServer
from tests.processes import stop_process

from .harness import ROOT, AppServer, server_env

TENANT = "2"
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
REDIS_DB = 11  # a database of its own: the app's default queue name is not shared with other tests


@dataclass
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    events: list[str] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP traces endpoint: every span it is sent, decoded."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.spans: list[Span] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def snapshot(self) -> list[Span]:
        with self.lock:
            return list(self.spans)


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = ExportTraceServiceRequest.FromString(body)
        got = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    got.append(Span(str(resource.get("service.name")), s.name, s.trace_id.hex(), s.span_id.hex(),
                                    s.parent_span_id.hex(), {a.key: _value(a.value) for a in s.attributes},
                                    [e.name for e in s.events], s.start_time_unix_nano, s.end_time_unix_nano))
        with self.server.lock:
            self.server.spans.extend(got)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


class Target(ThreadingHTTPServer):
    """The next service: answers JSON and records the ``traceparent`` of each request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TargetHandler)
        self.traceparents: list[str | None] = []


class _TargetHandler(BaseHTTPRequestHandler):
    server: Target

    def do_GET(self) -> None:
        self.server.traceparents.append(self.headers.get("traceparent"))
        body = json.dumps({"stock": 7}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


class LlmThread:
    """The fake LLM server on a loop of its own thread (the test's loop blocks while the app starts)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(FakeLLMServer().start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def traced_flow(target: str) -> dict[str, Any]:
    return {
        "akis": 1, "flow_id": "traced",
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "call", "type": "http_request", "config": {"url": f"{target}/stock", "timeout_s": 5}},
                  {"id": "ai", "type": "ai_response", "config": {"provider": "anthropic", "model": "claude-test"}},
                  {"id": "save", "type": "save_message"},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "call"}, {"source": "call", "target": "ai"},
                  {"source": "ai", "target": "out"}, {"source": "ai", "target": "save"}],
    }


@dataclass
class Stack:
    app: AppServer
    token: str
    receiver: Receiver
    target: Target
    llm: FakeLLMServer
    worker_log: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from storage.db import init_db
    from storage.repos import tokens

    require(port_open(REDIS_HOST, REDIS_PORT), f"Redis at {REDIS_HOST}:{REDIS_PORT}")
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    workdir: Path = tmp_path_factory.mktemp("akis-tracing")
    database_url = f"sqlite:///{workdir / 'akis.db'}"
    database = init_db(database_url, seed_demo=False)
    _, token = database.call(tokens.create_token, TENANT, "tracing tests")
    database.dispose()
    receiver, target, llm = Receiver(), Target(), LlmThread()
    serve(receiver)
    serve(target)
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    env = {"AKIS_DATABASE_URL": database_url, "AKIS_REDIS_URL": redis_url, "AKIS_HTTP_ALLOW_HOSTS": "127.0.0.1",
           "AKIS_RUN_MODE": "inline",  # runs in the app, jobs in the worker (queue mode: tests/integration/durable)
           "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": llm.server.anthropic_url,
           "AKIS_LOG_FORMAT": "json", **otel}
    worker_log = workdir / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "storage.cli", "worker", "--poll-delay", "0.05"], cwd=ROOT,
                              env=server_env(env), stdout=worker_log.open("ab"), stderr=subprocess.STDOUT)
    app = AppServer(workdir, env=env)
    try:
        app.start()
        yield Stack(app, token, receiver, target, llm.server, worker_log)
    finally:
        app.stop()
        stop_process(worker, 15)
        llm.stop()
        receiver.shutdown()
        target.shutdown()


def wait_for_spans(receiver: Receiver, trace_id: str, names: set[str], limit_s: float = 30.0) -> list[Span]:
    """The spans of ``trace_id`` once every name in ``names`` has arrived (the limit only bounds a hang)."""
    deadline = time.monotonic() + limit_s
    while True:
        spans = [s for s in receiver.snapshot() if s.trace_id == trace_id]
        if names <= {s.name for s in spans} or time.monotonic() > deadline:
            return spans
        time.sleep(0.1)


def full_lineage(receiver: Receiver, span_id: str, limit_s: float = 15.0) -> tuple[list[Span], list[str]]:
    """The trace's spans and ``span_id``'s ancestors, once they reach the caller's span (or the
    limit, which only bounds a hang: then the assertion on the chain says where it stopped)."""
    deadline = time.monotonic() + limit_s
    while True:
        spans = [s for s in receiver.snapshot() if s.trace_id == CALLER_TRACE]
        chain = lineage(spans, span_id)
        if chain[-1] == CALLER_SPAN or time.monotonic() > deadline:
            return spans, chain
        time.sleep(0.1)


def by_name_id(spans: list[Span], span_id: str) -> Span:
    return next(s for s in spans if s.span_id == span_id)


def lineage(spans: list[Span], span_id: str) -> list[str]:
    """``span_id`` and its ancestors' ids, nearest first, up to the first one not received (the caller's)."""
    parents = {s.span_id: s.parent_id for s in spans}
    chain = [span_id]
    while chain[-1] in parents and parents[chain[-1]]:
        chain.append(parents[chain[-1]])
    return chain


async def test_one_trace_from_the_caller_through_app_model_next_service_and_worker(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.token}",
               "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "tracestate": "caller=1"}
    async with httpx.AsyncClient(base_url=stack.app.url, headers=headers, timeout=30.0) as client:
        assert (await client.post("/api/flows", json=traced_flow(
            f"http://127.0.0.1:{stack.target.server_address[1]}"))).status_code in (201, 409)
        response = await client.post("/api/flows/traced/runs", json={"inputs": {"user_message": "pallet jack"}})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "succeeded", result

    wanted = {"akis.run", "akis.node user_input", "akis.node http_request", "akis.node ai_response",
              "akis.node output", "chat claude-test", "akis.background save_message"}
    spans = wait_for_spans(stack.receiver, CALLER_TRACE, wanted)
    by_name = {s.name: s for s in spans}
    worker_log = stack.worker_log.read_text(errors="replace")[-3000:]
    assert wanted <= set(by_name), (sorted(by_name), stack.app.log()[-3000:], worker_log)

    run = by_name["akis.run"]
    # a child of the caller's span, directly or through the web framework's own spans for the request
    # (those end with the response, after the run: their batch may arrive after the run's spans)
    spans, chain = full_lineage(stack.receiver, run.span_id)
    assert run.service == "akis" and chain[-1] == CALLER_SPAN, chain
    assert all(by_name_id(spans, between).service == "akis" for between in chain[1:-1])
    assert run.attributes["akis.run.id"] == result["run_id"] and run.attributes["akis.tenant.id"] == TENANT
    for name in ("akis.node user_input", "akis.node http_request", "akis.node ai_response", "akis.node output"):
        assert by_name[name].parent_id == run.span_id, name
    call = by_name["akis.node http_request"]
    assert call.attributes["akis.node.id"] == "call" and call.attributes["akis.status"] == "succeeded"
    assert call.attributes["akis.cache.outcome"] == "off"

    # the next service continues the trace from the http_request node's span
    assert stack.target.traceparents == [f"00-{CALLER_TRACE}-{call.span_id}-01"]

    # the model call: GenAI attributes, child of the AI node, its traceparent sent to the model's API
    model = by_name["chat claude-test"]
    assert model.parent_id == by_name["akis.node ai_response"].span_id
    attrs = model.attributes
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.model"] == "claude-test"
    assert attrs["gen_ai.usage.input_tokens"] == 11 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0 and "gen_ai.first_chunk" in model.events
    received = stack.llm.requests[-1].headers["traceparent"].split("-")
    assert received[1] == CALLER_TRACE and model.span_id in lineage(spans, received[2])

    # the background job, run by `akis worker` from the queue, continues the run's trace
    job = by_name["akis.background save_message"]
    assert job.service == "akis-worker" and job.parent_id == run.span_id
    assert job.attributes["akis.run.id"] == result["run_id"]

