"""The engine's own spans, exported cheaply: finished-span records encoded straight to OTLP
protobuf bytes and sent in batches by one thread, over the OTLP/HTTP exporter's own client
(endpoint, headers, timeout, compression and TLS from the ``OTEL_*`` variables as usual).

Why not the SDK's span objects: with every trace sampled they cost a seed run 0.28 of its
throughput (about 27 us to start and end a span and 33 us to encode it, for nine spans a run);
a record made once at the run's end and this encoder (cached bytes for the attributes that
repeat) keep it within the issue's 15% (bench/bench_tracing.py). Spans made by the SDK (model
calls, background jobs, other libraries) still go through the SDK's batch processor.
"""
from __future__ import annotations

import logging
import os
import struct
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

log = logging.getLogger(__name__)


class SpanRecord(NamedTuple):
    """One finished span, as the engine knows it (ids as ints, times in unix nanoseconds)."""

    name: str
    trace_id: int
    span_id: int
    parent_id: int  # 0: a root span
    remote_parent: bool
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    error: str | None = None  # the span's status is ERROR with this description
    events: tuple[tuple[str, int, dict[str, Any]], ...] = ()  # (name, time_ns, attributes)
    kind: int = 0  # opentelemetry.trace.SpanKind's value (INTERNAL)
    trace_state: str = ""

    def encoded(self) -> tuple[bytes, int]:
        return encode_span(self), 1

    def records(self) -> list[SpanRecord]:
        return [self]


class Encodable(Protocol):
    """What the exporter queues: one span record, or a finished run that makes its spans
    (as protobuf bytes for the record exporter, as records for the SDK's span processors)."""

    def encoded(self) -> tuple[bytes, int]: ...  # (the spans, each a ScopeSpans ``spans`` field; how many)

    def records(self) -> list[SpanRecord]: ...


# -- protobuf wire format (opentelemetry/proto/trace/v1/trace.proto) ----------------------
def _varint_of(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [_varint_of(i) for i in range(1 << 14)]


def _varint(n: int) -> bytes:
    return _SMALL[n] if n < 16384 else _varint_of(n)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    """An AnyValue message."""
    if isinstance(value, str):
        return _field(b"\x0a", value.encode("utf-8", "replace"))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint_of(value & 0xFFFFFFFFFFFFFFFF)  # int64: two's complement
    if isinstance(value, float):
        return b"\x21" + struct.pack("<d", value)
    if isinstance(value, (list, tuple)):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(item)) for item in value))
    return _field(b"\x0a", str(value).encode("utf-8", "replace"))


_KEY_VALUES: dict[tuple[str, Any], bytes] = {}


def _key_value(key: str, value: Any) -> bytes:
    """A KeyValue field (tag included): the same pairs repeat on every run, so they are kept."""
    try:
        return _KEY_VALUES[(key, value)]
    except (KeyError, TypeError):  # TypeError: an unhashable value (a list)
        pass
    encoded = _field(b"\x0a", _field(b"\x0a", key.encode("utf-8", "replace")) + _field(b"\x12", _any_value(value)))
    if type(value) is not list:
        if len(_KEY_VALUES) > 8192:  # run ids and session ids are unique: start again now and then
            _KEY_VALUES.clear()
        _KEY_VALUES[(key, value)] = encoded
    return encoded


def _attributes(tag: bytes, attributes: dict[str, Any]) -> list[bytes]:
    """Each pair as a repeated KeyValue field ``tag`` (the cached form has tag 1: re-tagged here)."""
    if tag == b"\x0a":
        return [_key_value(k, v) for k, v in attributes.items() if v is not None]
    return [tag + _key_value(k, v)[1:] for k, v in attributes.items() if v is not None]


_HEAD = struct.Struct("<2s16s2s8s")
_TIMES = struct.Struct("<BQBQ")
_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)  # flags: has-is-remote, parent local
_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)  # has-is-remote, parent remote


def encode_span(record: SpanRecord) -> bytes:
    """A Span message, as a ScopeSpans ``spans`` field (tag 2)."""
    parts = [_HEAD.pack(b"\x0a\x10", record.trace_id.to_bytes(16, "big"), b"\x12\x08",
                        record.span_id.to_bytes(8, "big"))]
    if record.trace_state:
        parts.append(_field(b"\x1a", record.trace_state.encode()))
    if record.parent_id:
        parts.append(b"\x22\x08" + record.parent_id.to_bytes(8, "big"))
    parts.append(_field(b"\x2a", record.name.encode("utf-8", "replace")))
    parts.append(b"\x30" + _SMALL[record.kind + 1])  # the protocol's kinds start at 1 (INTERNAL)
    parts.append(_TIMES.pack(0x39, record.start_ns, 0x41, record.end_ns))
    parts.extend(_attributes(b"\x4a", record.attributes))
    for name, time_ns, attributes in record.events:
        parts.append(_field(b"\x5a", b"".join([b"\x09" + struct.pack("<Q", time_ns),
                                              _field(b"\x12", name.encode()), *_attributes(b"\x1a", attributes)])))
    if record.error is not None:
        parts.append(_field(b"\x7a", _field(b"\x12", record.error.encode("utf-8", "replace")) + b"\x18\x02"))
    parts.append(_FLAGS_REMOTE if record.remote_parent else _FLAGS_LOCAL)
    return _field(b"\x12", b"".join(parts))


def span_tail(name: str, attributes: dict[str, Any], trace_state: str = "", remote_parent: bool = False) -> bytes:
    """What follows the ids and times in a span of this name, attributes and trace state
    (protobuf fields may come in any order): the same for every execution of a node that ends
    the same way, so :func:`encode_templated` keeps it."""
    parts = [_field(b"\x2a", name.encode("utf-8", "replace")), b"\x30\x01"]  # kind: INTERNAL
    if trace_state:
        parts.append(_field(b"\x1a", trace_state.encode()))
    parts.extend(_attributes(b"\x4a", attributes))
    parts.append(_FLAGS_REMOTE if remote_parent else _FLAGS_LOCAL)
    return b"".join(parts)


_SPAN_TIMES = struct.Struct("<BQBQ")  # start and end (fixed64)
_TAILS: dict[Any, tuple[bytes, bytes]] = {}


def common_ids(trace_id: int, parent_id: int) -> bytes:
    """The trace id and parent span id fields, the same for all the node spans of a run."""
    ids = b"\x0a\x10" + trace_id.to_bytes(16, "big")
    return ids + b"\x22\x08" + parent_id.to_bytes(8, "big") if parent_id else ids


def add_templated(out: list[bytes], key: Any, make_tail: Callable[[Any], bytes], common: bytes, span_id: bytes,
                  start_ns: int, end_ns: int, extra: bytes = b"") -> None:
    """Append a span's pieces to ``out`` (a ScopeSpans ``spans`` field once joined): its
    ``span_id`` (8 bytes), times, ``common`` ids and ``extra`` (encoded fields), then the fields
    ``key`` names (the tail made once by ``make_tail(key)``: protobuf fields may come in any
    order, and every node execution that ends the same way shares them).
    bench/bench_tracing.py: encode_span costs a node span about 6 times as much."""
    try:
        prefix, tail = _TAILS[key]
    except KeyError:
        if len(_TAILS) > 4096:
            _TAILS.clear()
        tail = make_tail(key)
        prefix = b"\x12" + _varint(10 + _SPAN_TIMES.size + len(common) + len(tail)) + b"\x12\x08"
        _TAILS[key] = prefix, tail
    if extra:
        prefix = b"\x12" + _varint(10 + _SPAN_TIMES.size + len(common) + len(extra) + len(tail)) + b"\x12\x08"
    out += (prefix, span_id, _SPAN_TIMES.pack(0x39, start_ns, 0x41, end_ns), common, extra, tail)


def key_values(attributes: dict[str, Any]) -> bytes:
    """Span attributes as encoded fields (for ``extra``: the ones that differ every time)."""
    return b"".join(_attributes(b"\x4a", attributes))


def resource_prefix(resource: dict[str, Any], scope: str) -> tuple[bytes, bytes]:
    """(the Resource field of a ResourceSpans, the scope field of a ScopeSpans), encoded once."""
    encoded = b"".join(_field(b"\x0a", _field(b"\x0a", k.encode()) + _field(b"\x12", _any_value(v)))
                       for k, v in resource.items())
    return _field(b"\x0a", encoded), _field(b"\x0a", _field(b"\x0a", scope.encode()))


def encode_request(resource: bytes, scope: bytes, spans: Sequence[bytes]) -> bytes:
    """An ExportTraceServiceRequest with one resource and one scope."""
    scope_spans = _field(b"\x12", scope + b"".join(spans))
    return _field(b"\x0a", resource + scope_spans)


# -- batching -------------------------------------------------------------------------------
def _env_int(name: str, default: int) -> int:
    try:
        value = int(os.environ.get(name, "").strip() or default)
    except ValueError:
        return default
    return value if value > 0 else default


class RecordExporter:
    """A queue of span records and the thread that encodes and sends them in batches, sized
    like the SDK's batch processor (``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_BSP_MAX_QUEUE_SIZE``,
    ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``). A full queue drops new spans (counted, logged once)."""

    def __init__(self, send: Callable[[bytes], bool], resource: dict[str, Any], scope: str = "akis", *,
                 delay_ms: int | None = None, queue: int | None = None, batch: int | None = None) -> None:
        self.send = send
        self.resource, self.scope = resource_prefix(resource, scope)
        self.delay = (delay_ms or _env_int("OTEL_BSP_SCHEDULE_DELAY", 5000)) / 1000.0
        self.limit = queue or _env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        self.batch = batch or _env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)
        self.queue: deque[tuple[Encodable, int]] = deque()  # (item, its spans)
        self.added = self.taken = 0  # spans queued (by the loop) and taken (by the thread): each written by one
        self.sent = self.failed = self.dropped = 0
        self.wake = threading.Event()
        self.flushes: deque[threading.Event] = deque()  # force_flush callers waiting
        self.closed = False
        self.thread = threading.Thread(target=self._work, name="akis-span-export", daemon=True)
        self.thread.start()

    def add(self, item: Encodable, spans: int = 1) -> None:
        """Queue ``item`` (``spans`` spans at most): called on the event loop, an append and no more."""
        if self.added - self.taken + spans > self.limit:
            if not self.dropped:
                log.warning("the span export queue is full (%d spans): dropping spans", self.limit)
            self.dropped += spans
            return
        self.queue.append((item, spans))
        self.added += spans
        if self.added - self.taken >= self.batch and not self.wake.is_set():
            self.wake.set()  # once: the thread may be waiting for the interpreter lock to take them

    def _work(self) -> None:
        while True:
            self.wake.wait(self.delay)
            self.wake.clear()
            waiting = [self.flushes.popleft() for _ in range(len(self.flushes))]  # before draining
            self._drain()
            for flushed in waiting:
                flushed.set()
            if self.closed:
                return

    def _drain(self) -> None:
        queue, batch = self.queue, self.batch
        while queue:
            taken: list[bytes] = []
            count = 0
            while queue and count < batch:
                item, spans = queue.popleft()
                self.taken += spans
                encoded, made = item.encoded()
                taken.append(encoded)
                count += made
            try:
                ok = self.send(encode_request(self.resource, self.scope, taken))
            except Exception:  # an exporter never takes the process down
                log.exception("span export failed")
                ok = False
            if ok:
                self.sent += count
            else:
                self.failed += count

    def force_flush(self, timeout_s: float = 30.0) -> bool:
        """Send everything queued before this call; True when done within ``timeout_s``."""
        flushed = threading.Event()
        self.flushes.append(flushed)
        self.wake.set()
        return flushed.wait(timeout_s)

    def shutdown(self) -> None:
        self.closed = True
        self.wake.set()
        self.thread.join(30.0)


def otlp_sender(exporter: Any) -> Callable[[bytes], bool] | None:
    """The OTLP/HTTP span exporter's client as a function of the encoded bytes (None when this
    version of the exporter has no such client: the engine's spans then go through the SDK)."""
    client = getattr(exporter, "_client", None)  # opentelemetry-exporter-otlp-proto-http >= 1.40
    if client is None or not callable(getattr(client, "export", None)):
        return None

    def send(data: bytes) -> bool:
        return bool(getattr(client.export(data), "success", False))

    return send
