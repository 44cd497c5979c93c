"""``akis run`` traced: the OTEL_* variables turn traces on for the command too, ``TRACEPARENT``
in its environment makes the run join the caller's trace, the spans reach a real OTLP/HTTP
receiver before the process exits, and the trace id is printed."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from .harness import ROOT, server_env
from .test_tracing import CALLER_SPAN, CALLER_TRACE, Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    serve(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def akis_run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime.cli", "run", "examples/seed_scenario.json", "-m", "hi"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=server_env(env))


def test_akis_run_sends_its_spans_in_the_callers_trace(receiver: Receiver) -> None:
    done = akis_run({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
                     "TRACEPARENT": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    assert done.returncode == 0, done.stderr
    assert f"trace {CALLER_TRACE}" in done.stderr.splitlines()
    spans = receiver.snapshot()  # sent before the command returned: nothing to wait for
    run = next(s for s in spans if s.name == "akis.run")
    assert run.service == "akis-cli" and run.trace_id == CALLER_TRACE and run.parent_id == CALLER_SPAN
    nodes = [s for s in spans if s.name.startswith("akis.node ")]
    assert {s.attributes["akis.node.type"] for s in nodes} >= {"user_input", "delay", "ai_response", "output"}
    assert all(s.trace_id == CALLER_TRACE and s.parent_id == run.span_id for s in nodes)
    background = next(s for s in spans if s.name == "akis.background save_message")
    assert background.trace_id == CALLER_TRACE and background.parent_id == run.span_id


def test_akis_run_without_otel_variables_prints_no_trace(receiver: Receiver) -> None:
    done = akis_run({"TRACEPARENT": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    assert done.returncode == 0, done.stderr
    assert "trace " not in done.stderr and receiver.snapshot() == []
