"""A model call's span, after the OpenTelemetry GenAI semantic conventions (tracing on only).

The span is a child of the running node's span. It is current only while the request is
opened (the provider's stream is an async generator, whose steps need not share a context):
an SDK that traces its own calls makes its span a child of it and sends that as
``traceparent``; for an SDK that does not, the request's own headers carry this span's.
"""
from __future__ import annotations

import time
from typing import Any

from .. import tracing
from ..ports import LLMRequest, Usage


class ModelSpan:
    """One streamed model call: started before the request, ended once with its usage."""

    __slots__ = ("context", "headers", "span", "t0", "timed")

    def __init__(self, provider: str, where: str, request: LLMRequest) -> None:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.system": provider,  # the older name, still read by many backends
            "gen_ai.request.model": request.model,
            "gen_ai.request.max_tokens": request.max_tokens,
            "server.address": where,
        }
        if request.temperature is not None:
            attributes["gen_ai.request.temperature"] = request.temperature
        self.span = tracing.start(f"chat {request.model}", None, attributes, kind="CLIENT")
        self.context = tracing.context_of(self.span)
        self.headers = {"traceparent": tracing.traceparent(self.context)}
        self.t0 = time.perf_counter()
        self.timed = False

    def first_chunk(self) -> None:
        """Time to first chunk: an attribute (seconds) and an event."""
        if not self.timed:
            self.timed = True
            seconds = time.perf_counter() - self.t0
            self.span.set_attribute("gen_ai.response.time_to_first_chunk", seconds)
            self.span.add_event("gen_ai.first_chunk", {"gen_ai.response.time_to_first_chunk": seconds})

    def finish(self, usage: Usage, error: BaseException | None = None) -> None:
        self.span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        self.span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        if error is not None:
            tracing.record(self.span, error)
        tracing.end(self.span, "failed" if error is not None else "succeeded",
                    f"{type(error).__name__}: {error}" if error is not None else None)
