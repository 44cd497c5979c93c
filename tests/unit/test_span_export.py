"""The engine's own OTLP encoder (runtime/span_export.py): what it writes decodes with
opentelemetry-proto to the same spans (ids, parent, times, attributes of every type, events,
status, flags), templated spans included; a run's spans encoded are its records; the batch
thread sends, counts and flushes."""
from __future__ import annotations

import threading
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider

from runtime import Engine, tracing
from runtime.span_export import (
    RecordExporter,
    SpanRecord,
    add_templated,
    common_ids,
    encode_request,
    encode_span,
    key_values,
    resource_prefix,
    span_tail,
)

TRACE, SPAN, PARENT = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 0x00F067AA0BA902B7


def decode(spans: list[bytes]) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    message.ParseFromString(encode_request(*resource_prefix({"service.name": "akis-test"}, "akis"), spans))
    return message


def attributes(kvs: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in kvs:  # type: ignore[attr-defined]  # protobuf repeated field
        kind = kv.value.WhichOneof("value")
        value = getattr(kv.value, kind)
        out[kv.key] = [getattr(v, v.WhichOneof("value")) for v in value.values] if kind == "array_value" else value
    return out


def test_a_record_decodes_to_the_same_span() -> None:
    record = SpanRecord("akis.node http_request", TRACE, SPAN, PARENT, True, 1_700_000_000_000_000_000,
                        1_700_000_000_250_000_000,
                        {"akis.node.id": "fetch", "akis.node.attempt": 2, "neg": -5, "ok": True, "ratio": 0.25,
                         "tags": ["a", "b"], "skipped": None, "text": "héllo"},
                        "NodeError: boom", (("exception", 1_700_000_000_200_000_000, {"exception.type": "NodeError"}),),
                        trace_state="vendor=1")
    request = decode([encode_span(record)])
    resource = request.resource_spans[0]
    assert attributes(resource.resource.attributes) == {"service.name": "akis-test"}
    scope = resource.scope_spans[0]
    assert scope.scope.name == "akis"
    span = scope.spans[0]
    assert int.from_bytes(span.trace_id, "big") == TRACE and int.from_bytes(span.span_id, "big") == SPAN
    assert int.from_bytes(span.parent_span_id, "big") == PARENT and span.trace_state == "vendor=1"
    assert span.name == "akis.node http_request" and span.kind == span.SPAN_KIND_INTERNAL
    assert span.start_time_unix_nano == 1_700_000_000_000_000_000
    assert span.end_time_unix_nano == 1_700_000_000_250_000_000
    assert attributes(span.attributes) == {"akis.node.id": "fetch", "akis.node.attempt": 2, "neg": -5, "ok": True,
                                           "ratio": 0.25, "tags": ["a", "b"], "text": "héllo"}
    assert span.status.code == span.status.STATUS_CODE_ERROR and span.status.message == "NodeError: boom"
    assert [(e.name, e.time_unix_nano, attributes(e.attributes)) for e in span.events] == [
        ("exception", 1_700_000_000_200_000_000, {"exception.type": "NodeError"})]
    assert span.flags == 0x300  # has-is-remote, parent remote (as the SDK's encoder writes it)


def test_templated_spans_decode_like_records_and_share_their_tail() -> None:
    out: list[bytes] = []
    key = ("test", "node_2", "delay")

    def tail(k: tuple[str, str, str]) -> bytes:
        made.append(k)
        return span_tail(f"akis.node {k[2]}", {"akis.node.id": k[1], "akis.status": "succeeded"})

    made: list[tuple[str, str, str]] = []
    for n in range(3):
        add_templated(out, key, tail, common_ids(TRACE, PARENT), (SPAN + n).to_bytes(8, "big"), 10 + n, 20 + n,
                      key_values({"akis.run.id": f"run-{n}"}) if n == 2 else b"")
    assert made == [key]  # the tail is made once
    spans = decode([b"".join(out)]).resource_spans[0].scope_spans[0].spans
    assert len(spans) == 3
    for n, span in enumerate(spans):
        assert int.from_bytes(span.span_id, "big") == SPAN + n and int.from_bytes(span.parent_span_id, "big") == PARENT
        assert int.from_bytes(span.trace_id, "big") == TRACE and span.name == "akis.node delay"
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (10 + n, 20 + n)
        expected = {"akis.node.id": "node_2", "akis.status": "succeeded"}
        if n == 2:
            expected["akis.run.id"] = "run-2"
        assert attributes(span.attributes) == expected and span.flags == 0x100
    root: list[bytes] = []
    add_templated(root, ("root",), lambda k: span_tail("akis.run", {}), common_ids(TRACE, 0), b"\x01" * 8, 1, 2)
    assert decode(root).resource_spans[0].scope_spans[0].spans[0].parent_span_id == b""


def test_the_exporter_sends_batches_counts_them_and_flushes() -> None:
    sent: list[ExportTraceServiceRequest] = []
    lock = threading.Lock()

    def send(data: bytes) -> bool:
        message = ExportTraceServiceRequest()
        message.ParseFromString(data)
        with lock:
            sent.append(message)
        return True

    exporter = RecordExporter(send, {"service.name": "t"}, delay_ms=60_000, queue=5, batch=2)
    try:
        for n in range(6):  # the sixth does not fit in a queue of 5
            exporter.add(SpanRecord(f"s{n}", TRACE, SPAN + n, 0, False, 1, 2, {}))
        assert exporter.force_flush(10.0)
        names = [s.name for m in sent for s in m.resource_spans[0].scope_spans[0].spans]
        assert names == ["s0", "s1", "s2", "s3", "s4"] and exporter.sent == 5 and exporter.dropped == 1
        assert max(len(m.resource_spans[0].scope_spans[0].spans) for m in sent) == 2  # batches of 2
    finally:
        exporter.shutdown()
    failing = RecordExporter(lambda data: False, {}, delay_ms=60_000)
    try:
        failing.add(SpanRecord("x", TRACE, SPAN, 0, False, 1, 2, {}))
        assert failing.force_flush(10.0) and failing.failed == 1 and failing.sent == 0
    finally:
        failing.shutdown()


FLOW = {
    "akis": 1, "flow_id": "encoded",
    "nodes": [{"id": "in", "type": "user_input"},
              {"id": "wait", "type": "delay", "config": {"ms": 1}},
              {"id": "ai", "type": "ai_response", "config": {"provider": "mock", "provider_options": {"chunks": 3}}},
              {"id": "bad", "type": "http_request", "config": {"url": "http://127.0.0.1:9/", "timeout_s": 2}},
              {"id": "out", "type": "output"}],
    "edges": [{"source": "in", "target": "wait"}, {"source": "wait", "target": "ai"}, {"source": "ai", "target": "bad"},
              {"source": "bad", "target": "out"}],
}


class Queued:
    """Stands in for the record exporter: keeps what the engine hands over."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, item: Any, spans: int = 1) -> None:
        self.items.append(item)


def as_tuples(message: ExportTraceServiceRequest) -> list[tuple[Any, ...]]:
    """The spans, their ids left out where nothing refers to them (made at random each time)."""
    kept = ("akis.run", "akis.node ai_response")
    return sorted((s.name, s.trace_id, s.span_id if s.name in kept else b"", s.parent_span_id,
                   s.start_time_unix_nano, s.end_time_unix_nano, sorted(attributes(s.attributes).items()),
                   s.status.code, s.status.message, s.flags)
                  for s in message.resource_spans[0].scope_spans[0].spans)


async def test_a_runs_spans_encoded_are_its_records() -> None:
    queued = Queued()
    assert tracing.enable(TracerProvider(), queued)  # type: ignore[arg-type]  # a stand-in exporter
    try:
        for flow in (FLOW, {**FLOW, "nodes": [n for n in FLOW["nodes"] if n["id"] != "bad"],  # type: ignore[union-attr]
                            "edges": [{"source": "in", "target": "wait"}, {"source": "wait", "target": "ai"},
                                      {"source": "ai", "target": "out"}]}):
            labels = {"akis.experiment.id": "exp-1", "akis.experiment.variant": "b"}
            await Engine().start(flow, {"user_message": "hi"}, trace_attributes=labels).result()
    finally:
        tracing.disable()
    runs = [item for item in queued.items if type(item).__name__ == "RunEnd"]
    assert len(runs) == 2
    for run in runs:
        encoded, count = run.encoded()
        records = run.records()
        assert count == len(records) == 5  # the run and four nodes (the failed run skips its output)
        assert as_tuples(decode([encoded])) == as_tuples(decode([encode_span(r) for r in records]))
    encoded_run = next(s for s in decode([runs[1].encoded()[0]]).resource_spans[0].scope_spans[0].spans
                       if s.name == "akis.run")
    assert attributes(encoded_run.attributes)["akis.experiment.variant"] == "b"  # what the run belongs to
    failed = {r.name: r for r in runs[0].records()}
    assert runs[0].status == "failed" and failed["akis.node http_request"].error is not None
    assert failed["akis.run"].attributes["akis.node.failed"] == "bad"
