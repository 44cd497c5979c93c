"""Traces in the runtime: the run's span joins the caller's trace, a span per node, the trace id
in the events and the result, the log lines' ids; off, nothing; without OpenTelemetry, runs."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime import Engine, tracing
from runtime.logs import RunContextFilter

ROOT = Path(__file__).resolve().parents[2]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
FLOW = {
    "akis": 1, "flow_id": "traced",
    "nodes": [{"id": "in", "type": "user_input"},
              {"id": "ai", "type": "ai_response", "config": {"provider": "mock", "provider_options": {"chunks": 3}}},
              {"id": "out", "type": "output"}],
    "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}],
}


async def test_a_run_continues_the_callers_trace(spans: InMemorySpanExporter) -> None:
    events = []
    handle = Engine().start(FLOW, {"user_message": "hi"}, on_event=events.append,
                            trace_parent={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    result = await handle.result()
    assert result.status == "succeeded" and result.trace_id == TRACE
    assert [e.extra["trace_id"] for e in events if e.event in ("run.started", "run.finished")] == [TRACE, TRACE]
    finished = {s.name: s for s in spans.get_finished_spans()}
    run = finished["akis.run"]
    assert format(run.context.trace_id, "032x") == TRACE and format(run.parent.span_id, "016x") == PARENT
    assert run.attributes["akis.status"] == "succeeded" and run.attributes["akis.flow.id"] == "traced"
    for node_type in ("user_input", "ai_response", "output"):
        node = finished[f"akis.node {node_type}"]
        assert node.parent.span_id == run.context.span_id and node.context.trace_id == run.context.trace_id
        assert node.attributes["akis.node.type"] == node_type and node.attributes["akis.status"] == "succeeded"
        assert node.attributes["akis.cache.outcome"] == "off" and node.attributes["akis.tenant.id"] == "1"


async def test_a_failed_node_marks_its_span(spans: InMemorySpanExporter) -> None:
    flow = {"akis": 1, "flow_id": "failing",
            "nodes": [{"id": "in", "type": "user_input"},
                      {"id": "call", "type": "http_request", "config": {"url": "http://127.0.0.1:9/", "timeout_s": 2}},
                      {"id": "out", "type": "output"}],
            "edges": [{"source": "in", "target": "call"}, {"source": "call", "target": "out"}]}
    result = await Engine().run(flow, {"user_message": "hi"})
    assert result.status == "failed" and len(result.trace_id) == 32
    finished = {s.name: s for s in spans.get_finished_spans()}
    call = finished["akis.node http_request"]
    assert call.attributes["akis.status"] == "failed" and call.status.status_code.name == "ERROR"
    assert "akis.node.error" in call.attributes and call.events[0].name == "exception"
    assert finished["akis.run"].attributes["akis.node.failed"] == "call"


async def test_off_no_trace_id_and_no_extra() -> None:
    assert not tracing.enabled
    events = []
    result = await Engine().start(FLOW, {"user_message": "hi"}, on_event=events.append,
                                  trace_parent={"traceparent": f"00-{TRACE}-{PARENT}-01"}).result()
    assert result.trace_id == ""
    assert all("trace_id" not in e.extra for e in events)


def test_log_lines_carry_the_current_span(spans: InMemorySpanExporter) -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", None, None)
    RunContextFilter().filter(record)
    assert (record.trace_id, record.span_id) == (None, None)
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s") as span:
        RunContextFilter().filter(record)
    assert record.trace_id == format(span.get_span_context().trace_id, "032x")
    assert record.span_id == format(span.get_span_context().span_id, "016x")


def test_wanted_only_by_the_standard_variables() -> None:
    assert not tracing.wanted({})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "otlp"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})
    assert not tracing.wanted({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})


def test_the_runtime_runs_without_opentelemetry() -> None:
    """``opentelemetry`` made unimportable: the runtime imports, tracing stays off, a flow runs."""
    code = (
        "import sys, asyncio\n"
        "sys.modules['opentelemetry'] = None\n"
        "from runtime import Engine, tracing\n"
        "assert not tracing.configure() and not tracing.enable()\n"
        f"flow = {FLOW!r}\n"
        "r = asyncio.run(Engine().run(flow, {'user_message': 'hi'}))\n"
        "assert r.status == 'succeeded' and r.trace_id == '', r\n"
        "print('ok')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_sampled_reads_only_the_sampled_flag() -> None:
    assert tracing.sampled(f"00-{TRACE}-{PARENT}-01") and tracing.sampled(f"00-{TRACE}-{PARENT}-03")
    assert not tracing.sampled(f"00-{TRACE}-{PARENT}-00") and not tracing.sampled(f"00-{TRACE}-{PARENT}-02")
    assert not tracing.sampled("") and not tracing.sampled("garbage")


async def test_a_listener_that_raises_leaves_no_span_current(spans: InMemorySpanExporter) -> None:
    """``Engine.run`` runs in the caller's task: however the run ends, its span is not left current."""
    from opentelemetry import trace

    def explode(event: object) -> None:
        raise RuntimeError("listener bug")

    with pytest.raises(RuntimeError):
        await Engine().run(FLOW, {"user_message": "hi"}, on_event=explode)
    assert not trace.get_current_span().get_span_context().is_valid
    run = next(s for s in spans.get_finished_spans() if s.name == "akis.run")
    assert run.attributes["akis.status"] == "failed"


async def test_warm_up_runs_are_not_traced(spans: InMemorySpanExporter) -> None:
    result = await Engine().run(FLOW, {"user_message": "hi"}, warmup=True)
    assert result.trace_id == "" and not spans.get_finished_spans()


async def test_the_run_span_names_the_experiment_variant_it_ran(spans: InMemorySpanExporter) -> None:
    """A/B tests (issue 17): the runs service passes a run's labels as its span's attributes."""
    from storage.recorder import NO_LABELS, RunLabels

    labels = RunLabels(experiment_id="exp-7", variant="short")
    assert NO_LABELS.span_attributes() is None
    assert RunLabels(evaluation_id="ev-1").span_attributes() == {"akis.evaluation.id": "ev-1"}
    handle = Engine().start(FLOW, {"user_message": "hi"}, trace_attributes=labels.span_attributes())
    assert (await handle.result()).status == "succeeded"
    plain = Engine().start(FLOW, {"user_message": "hi"})
    assert (await plain.result()).status == "succeeded"
    runs = [s for s in spans.get_finished_spans() if s.name == "akis.run"]
    assert len(runs) == 2
    assert runs[0].attributes["akis.experiment.id"] == "exp-7"
    assert runs[0].attributes["akis.experiment.variant"] == "short"
    assert "akis.experiment.id" not in runs[1].attributes and "akis.evaluation.id" not in runs[1].attributes


async def test_the_default_sampler_follows_the_caller_and_keeps_its_trace_state(spans: InMemorySpanExporter) -> None:
    """The SDK's default sampler (ParentBased(ALWAYS_ON)) is decided without its objects: the
    same decisions: a caller's unsampled trace stays unsampled, its trace state is carried."""
    quiet = await Engine().run(FLOW, {"user_message": "hi"}, trace_parent={"traceparent": f"00-{TRACE}-{PARENT}-00"})
    assert quiet.trace_id == TRACE and not spans.get_finished_spans()
    kept = await Engine().run(FLOW, {"user_message": "hi"},
                              trace_parent={"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": "vendor=blue"})
    run = next(s for s in spans.get_finished_spans() if s.name == "akis.run")
    assert kept.trace_id == TRACE and run.context.trace_state.get("vendor") == "blue"
    assert run.context.trace_flags.sampled
    root = await Engine().run(FLOW, {"user_message": "hi"})  # no caller: a new trace, sampled
    assert len(root.trace_id) == 32 and root.trace_id != TRACE
    assert any(format(s.context.trace_id, "032x") == root.trace_id for s in spans.get_finished_spans())


async def test_a_sampler_of_the_operators_choice_is_asked() -> None:
    """Another sampler (here OTEL_TRACES_SAMPLER=traceidratio with 0) still decides each run."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=TraceIdRatioBased(0.0))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert tracing.enable(provider)
    try:
        result = await Engine().run(FLOW, {"user_message": "hi"})
    finally:
        tracing.disable()
    assert len(result.trace_id) == 32 and not exporter.get_finished_spans()


def test_the_otlp_exporter_reads_proxies_and_ca_bundle_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests would read the whole environment on every post; the exporter's session takes
    what applies to its endpoint when it is made (NO_PROXY, the proxies, the CA bundle)."""
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "collector.internal")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    for name in ("OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                 "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
                 "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    proxied = tracing.otlp_exporter("http://otel.example:4318/v1/traces")._client._transport._session
    assert proxied.trust_env is False and proxied.proxies.get("http") == "http://proxy.invalid:3128"
    assert proxied.verify == "/etc/ssl/company-ca.pem"
    direct = tracing.otlp_exporter("http://collector.internal:4318/v1/traces")._client._transport._session
    assert direct.trust_env is False and not direct.proxies.get("http")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/otel/ca.pem")  # OTel's own variable wins
    assert tracing.otlp_exporter("https://otel.example:4318/v1/traces")._client._transport._session.verify == (
        "/etc/otel/ca.pem")


def test_the_otlp_exporter_posts_to_its_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the session sends still arrives: headers from OTEL_EXPORTER_OTLP_HEADERS included."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[tuple[str, str | None, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append((self.path, self.headers.get("x-team"), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=search")
    try:
        exporter = tracing.otlp_exporter(f"http://127.0.0.1:{server.server_port}/v1/traces")
        assert exporter._client.export(b"\x0a\x00").success
    finally:
        server.shutdown()
        server.server_close()
    assert received == [("/v1/traces", "search", b"\x0a\x00")]
