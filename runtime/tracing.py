"""OpenTelemetry traces, optional: a span per run, per node execution, per model call and per
background job, and the W3C ``traceparent`` carried in and out.

The runtime needs only ``opentelemetry-api`` and runs without it. Tracing is off until
:func:`configure` (the app, the worker and ``akis run`` call it; it looks at the standard
``OTEL_*`` variables only) or :func:`enable` (an embedding program with its own tracer provider)
turns it on. While off, the engine's whole cost is reading :data:`enabled` once per run: every
span helper here is called only when it is True, so none of them checks it again. The engine's
own run and node spans are span contexts while they run and records once they end
(:func:`begin`, :func:`child`, :func:`export`; runtime/span_export.py encodes and sends them).
"""
from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping
from typing import Any

from .span_export import Encodable, RecordExporter, SpanRecord, otlp_sender

log = logging.getLogger(__name__)

enabled = False  # read by the engine once per run; True only with opentelemetry importable
_tracer: Any = None
_wiring: Wiring | None = None  # what configure() made (flushed by shutdown())
_records: RecordExporter | None = None  # where the engine's run and node spans go, when set
_sdk: _Sdk | None = None  # else: made into SDK spans for the provider's span processors
_NoteSpan: Any = None  # a node's span while it runs (a class made once opentelemetry is imported)
_FLAGS: dict[bool, Any] = {}  # TraceFlags by sampled: shared (an int subclass the collector tracks)
_trace: Any = None  # the opentelemetry.trace module, once enabled
_context: Any = None  # opentelemetry.context
_propagator: Any = None  # W3C trace context (traceparent, tracestate)

SCOPE = "akis"
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the standard variables ask for OTLP traces: an OTLP endpoint, or
    ``OTEL_TRACES_EXPORTER=otlp``; ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` wins."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return exporter == "otlp" or any(env.get(name, "").strip() for name in _ENDPOINTS)


class Wiring:
    """A tracer provider as the app wires it, and the exporter of the engine's own spans."""

    def __init__(self, provider: Any, records: RecordExporter | None) -> None:
        self.provider, self.records = provider, records

    def flush(self) -> None:
        if self.records is not None:
            self.records.force_flush()
        self.provider.force_flush()

    def shutdown(self) -> None:
        if self.records is not None:
            self.records.shutdown()
        self.provider.shutdown()


_CREDENTIAL_PROVIDERS = ("OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
                         "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER")
_CERTIFICATES = ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE")


def otlp_exporter(endpoint: str | None = None) -> Any:
    """The OTLP/HTTP span exporter the ``OTEL_*`` variables describe (``endpoint``: instead of
    theirs), over a ``requests`` session whose environment is read once, here.

    ``requests`` reads the whole environment on every post for its proxy, ``.netrc`` and CA
    bundle settings: a post cost 1.45 ms of CPU with it and 1.05 ms without, about 0.02 of the
    throughput bench/bench_tracing.py measures. The proxies for the endpoint (``HTTPS_PROXY``, ``NO_PROXY``...) and
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` are taken now and the session stops looking. A
    credential provider named by the variables brings its own session, left as it is."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if any(os.environ.get(name, "").strip() for name in _CREDENTIAL_PROVIDERS):
        return OTLPSpanExporter(endpoint=endpoint)
    import requests

    session = requests.Session()
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    own_certificate = any(os.environ.get(name, "").strip() for name in _CERTIFICATES)
    exporter = OTLPSpanExporter(endpoint=endpoint, session=session,
                                certificate_file=bundle if bundle and not own_certificate else None)
    session.proxies.update(requests.utils.get_environ_proxies(str(getattr(exporter, "_endpoint", endpoint or ""))))
    session.trust_env = False
    return exporter


def wire(service: str, exporter: Any = None, sampler: Any = None, queue: int | None = None) -> Wiring:
    """The SDK provider with a batch OTLP/HTTP ``exporter`` (default: :func:`otlp_exporter`),
    and the engine's span records sent through the same exporter's client (span_export.py)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = exporter if exporter is not None else otlp_exporter()
    resource = Resource.create({"service.name": service})
    provider = (TracerProvider(resource=resource) if sampler is None
                else TracerProvider(resource=resource, sampler=sampler))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=queue) if queue
                                else BatchSpanProcessor(exporter))
    send = otlp_sender(exporter)
    records = None if send is None else RecordExporter(send, dict(resource.attributes), SCOPE, queue=queue)
    return Wiring(provider, records)


def configure(default_service: str = "akis") -> bool:
    """Install the SDK with a batch OTLP/HTTP exporter when :func:`wanted`; True when tracing
    is on. Endpoint, headers, sampler and resource come from the ``OTEL_*`` variables (the SDK
    reads them); the service name defaults to ``default_service``."""
    if not wanted():
        return False
    try:
        from opentelemetry import trace
        wiring = wire(os.environ.get("OTEL_SERVICE_NAME", "").strip() or default_service)
    except ImportError as exc:
        log.warning("OTEL_* variables ask for traces but the OpenTelemetry SDK is not installed: %s", exc)
        return False
    global _wiring
    trace.set_tracer_provider(wiring.provider)
    _wiring = wiring
    return enable(wiring.provider, wiring.records)


def enable(provider: Any = None, records: RecordExporter | None = None) -> bool:
    """Turn tracing on with ``provider`` (default: the global tracer provider). The engine's
    run and node spans go to ``records`` when given, else to the provider's span processors."""
    global enabled, _tracer, _trace, _context, _propagator, _records, _sdk, _NoteSpan
    try:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        return False
    _trace, _context, _propagator = trace, context, TraceContextTextMapPropagator()
    _tracer = trace.get_tracer(SCOPE, tracer_provider=provider)
    _records = records
    if _NoteSpan is None:
        _NoteSpan = _note_span_class(trace)
        _FLAGS.update({True: trace.TraceFlags(trace.TraceFlags.SAMPLED), False: trace.TraceFlags(0)})
    _sdk = _Sdk(provider if provider is not None else trace.get_tracer_provider())
    enabled = True
    return True


def disable() -> None:
    global enabled, _tracer, _records, _sdk
    enabled, _tracer, _records, _sdk = False, None, None, None


def shutdown() -> None:
    """Export what is still buffered (the app's and the worker's shutdown)."""
    if _wiring is not None:
        _wiring.shutdown()


# -- context and propagation --------------------------------------------------------------
def extract(carrier: Mapping[str, str] | None) -> Any:
    """The context a W3C carrier (``traceparent``, ``tracestate``) names; the current one when
    it names none (or is malformed), or when the current span already continues that trace (a
    web framework's own server span for the request that carried it)."""
    current = _context.get_current()
    if not carrier:
        return current
    extracted = _propagator.extract(dict(carrier))
    here = _trace.get_current_span(current).get_span_context()
    if here.is_valid and here.trace_id == _trace.get_current_span(extracted).get_span_context().trace_id:
        return current
    return extracted


def incoming(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The W3C headers of an incoming request, to pass to the run (None without ``traceparent``)."""
    parent = headers.get("traceparent")
    if not parent:
        return None
    state = headers.get("tracestate")
    return {"traceparent": parent, "tracestate": state} if state else {"traceparent": parent}


def inject(headers: dict[str, str]) -> None:
    """Add the current span's ``traceparent`` (and ``tracestate``) unless the caller set one."""
    if enabled and "traceparent" not in {k.lower() for k in headers}:
        _propagator.inject(headers)


def traceparent(ctx: Any = None) -> str:
    """The span of ``ctx`` (default: the current one) as a ``traceparent`` value ('' when off
    or outside a span)."""
    if not enabled:
        return ""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=ctx)
    return carrier.get("traceparent", "")


def sampled(parent: str) -> bool:
    """Whether a ``traceparent`` value says its trace is sampled (flag bit 0; other bits, such as
    the random-id flag, vary)."""
    try:
        return bool(int(parent[-2:], 16) & 1)
    except ValueError:
        return False


def attach(ctx: Any) -> Any:
    return _context.attach(ctx)


def detach(token: Any) -> None:
    _context.detach(token)


def log_ids() -> tuple[str | None, str | None]:
    """(trace id, span id) of the current span for a log line; (None, None) when there is none."""
    if not enabled:
        return None, None
    span_context = _trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None, None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


# -- spans ----------------------------------------------------------------------------------
def start(name: str, parent: Any, attributes: dict[str, Any], kind: str = "INTERNAL") -> Any:
    """A started span (not made current), child of the context ``parent``."""
    return _tracer.start_span(name, context=parent, kind=getattr(_trace.SpanKind, kind), attributes=attributes)


def context_of(span: Any, parent: Any = None) -> Any:
    """A context in which ``span`` is the current span."""
    return _trace.set_span_in_context(span, parent)


def end(span: Any, status: str, error: str | None = None, **attributes: Any) -> None:
    """Set ``akis.status`` (and the error, as the span's status) and end ``span``."""
    if not span.is_recording():  # not sampled: nothing to describe
        span.end()
        return
    span.set_attribute("akis.status", status)
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(key, value)
    if error is not None:
        span.set_status(_trace.Status(_trace.StatusCode.ERROR, error))
        span.set_attribute("error.type", error.split(":", 1)[0][:100])
    span.end()


def record(span: Any, exc: BaseException) -> None:
    span.record_exception(exc)


def set_attribute(key: str, value: Any) -> None:
    """On the current span (the running node's): an attribute learnt while it runs."""
    _trace.get_current_span().set_attribute(key, value)


# -- the engine's spans: a context now, a record at the end ---------------------------------
def new_id() -> int:
    """A span id (64 random bits, never 0), as the SDK's id generator makes them."""
    return random.getrandbits(64) or 1


def begin(name: str, parent: Any, attributes: dict[str, Any]) -> tuple[Any, Any]:
    """A span of the engine: (a non-recording span with a fresh span context, made current
    by the caller for what runs inside; the parent's span context or None). The sampler of
    the provider decides whether it is sampled, as it would for an SDK span; the span itself
    is exported as a :class:`SpanRecord` by :func:`export` when it ends."""
    parent_span = _trace.get_current_span(parent).get_span_context()
    if not parent_span.is_valid:
        parent_span = None
    trace_id = parent_span.trace_id if parent_span is not None else random.getrandbits(128) or 1
    assert _sdk is not None
    sampled, state = _sdk.sample(parent, parent_span, trace_id, name, attributes)
    context = _trace.SpanContext(trace_id, new_id(), False, _FLAGS[sampled], state)
    return _trace.NonRecordingSpan(context), parent_span


def child(span: Any, span_id: int, notes: dict[str, Any]) -> Any:
    """A span with ``span_id`` in ``span``'s trace (a node's, made current while it runs): what
    is set on it goes to ``notes``, for the record made at the run's end."""
    here = span.get_span_context()
    return _NoteSpan(_trace.SpanContext(here.trace_id, span_id, False, here.trace_flags, here.trace_state), notes)


def export(item: Encodable, spans: int = 1) -> None:
    """Hand finished engine spans (``spans`` of them, at most) to the record exporter, or to
    the SDK's span processors."""
    if _records is not None:
        _records.add(item, spans)
    elif _sdk is not None:
        _sdk.end(item.records())


class _Sdk:
    """The SDK side of the engine's spans: the provider's sampler, and its span processors for
    the records when no record exporter is wired (an embedding program's provider, tests)."""

    def __init__(self, provider: Any) -> None:
        sampler = getattr(provider, "sampler", None)
        self.sampler = None if _parent_or_on(sampler) else sampler  # None: decided here, without its objects
        self.processor = getattr(provider, "_active_span_processor", None)  # the SDK's; absent elsewhere
        self.resource = getattr(provider, "resource", None)

    def sample(self, parent: Any, parent_span: Any, trace_id: int, name: str,
               attributes: dict[str, Any]) -> tuple[bool, Any]:
        """(sampled, trace state) as the provider's sampler decides; without one (or with the
        SDK's default), the parent's flag and state: a root span is sampled."""
        if self.sampler is None:
            if parent_span is None:
                return True, None
            return parent_span.trace_flags.sampled, parent_span.trace_state
        result = self.sampler.should_sample(parent, trace_id, name, _trace.SpanKind.INTERNAL, attributes)
        return result.decision.is_sampled(), result.trace_state

    def end(self, records: list[SpanRecord]) -> None:
        if self.processor is None:
            return
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        scope = InstrumentationScope(SCOPE)
        for r in records:
            state = _trace.TraceState.from_header([r.trace_state]) if r.trace_state else None  # the caller's vendors
            context = _trace.SpanContext(r.trace_id, r.span_id, False, _trace.TraceFlags(1), state)
            parent = _trace.SpanContext(r.trace_id, r.parent_id, r.remote_parent) if r.parent_id else None
            status = (_trace.Status(_trace.StatusCode.ERROR, r.error) if r.error is not None
                      else _trace.Status(_trace.StatusCode.UNSET))
            self.processor.on_end(ReadableSpan(
                r.name, context, parent, self.resource, r.attributes,
                tuple(Event(name, attributes, time_ns) for name, time_ns, attributes in r.events),
                kind=_trace.SpanKind(r.kind), status=status, start_time=r.start_ns, end_time=r.end_ns,
                instrumentation_scope=scope,
            ))


def _parent_or_on(sampler: Any) -> bool:
    """Whether ``sampler`` is the SDK's default, ``ParentBased(ALWAYS_ON)`` (every trace, the
    parent's decision followed): :meth:`_Sdk.sample` then decides the same without the SDK's
    sampling result objects, one set per run (bench/bench_tracing.py)."""
    if sampler is None:
        return False
    try:
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
    except ImportError:
        return False
    return type(sampler) is ParentBased and sampler.get_description() == ParentBased(ALWAYS_ON).get_description()


def _note_span_class(trace: Any) -> Any:
    class NoteSpan(trace.NonRecordingSpan):  # a base read from the module: opentelemetry is optional
        """A node's span while it runs: not an SDK span; attributes set on it are kept in
        ``notes`` and land on the node's span record."""

        def __init__(self, context: Any, notes: dict[str, Any]) -> None:
            super().__init__(context)
            self._notes = notes

        def set_attribute(self, key: str, value: Any) -> None:
            self._notes[key] = value

        def set_attributes(self, attributes: Mapping[str, Any]) -> None:
            self._notes.update(attributes)

    return NoteSpan
