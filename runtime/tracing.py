"""OpenTelemetry traces, optional: a span per run, per node execution, per model call and per
background job, and the W3C ``traceparent`` carried in and out.

The runtime needs only ``opentelemetry-api`` and runs without it. Tracing is off until
:func:`configure` (the app and the worker call it; it looks at the standard ``OTEL_*``
variables only) or :func:`enable` (an embedding program with its own tracer provider) turns it
on. While off, the engine's whole cost is reading :data:`enabled` once per run: every span
helper here is called only when it is True, so none of them checks it again.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

enabled = False  # read by the engine once per run; True only with opentelemetry importable
_tracer: Any = None
_provider: Any = None  # the SDK provider configure() made (flushed by shutdown())
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


def configure(default_service: str = "akis") -> bool:
    """Install the SDK with a batch OTLP/HTTP exporter when :func:`wanted`; True when tracing
    is on. Endpoint, headers, sampler and resource come from the ``OTEL_*`` variables (the SDK
    reads them); the service name defaults to ``default_service``."""
    if not wanted():
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.warning("OTEL_* variables ask for traces but the OpenTelemetry SDK is not installed: %s", exc)
        return False
    global _provider
    service = os.environ.get("OTEL_SERVICE_NAME", "").strip() or default_service
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return enable(provider)


def enable(provider: Any = None) -> bool:
    """Turn tracing on with ``provider`` (default: the global tracer provider)."""
    global enabled, _tracer, _trace, _context, _propagator
    try:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        return False
    _trace, _context, _propagator = trace, context, TraceContextTextMapPropagator()
    _tracer = trace.get_tracer(SCOPE, tracer_provider=provider)
    enabled = True
    return True


def disable() -> None:
    global enabled, _tracer
    enabled, _tracer = False, None


def shutdown() -> None:
    """Export what is still buffered (the app's and the worker's shutdown)."""
    if _provider is not None:
        _provider.shutdown()


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


def trace_id(span: Any) -> str:
    return format(span.get_span_context().trace_id, "032x")


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
