"""A model call's span through each SDK provider: GenAI attributes, the node's span as parent,
and the call's trace sent to the model's API as ``traceparent``."""
from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime import tracing
from runtime.ports import LLMRequest
from runtime.providers.anthropic_provider import AnthropicProvider
from runtime.providers.openai_provider import OpenAIProvider
from tests.fakes.llm_server import FakeLLMServer


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_model_span(kind: str, llm_server: FakeLLMServer, spans: InMemorySpanExporter) -> None:
    made = (AnthropicProvider("test-key", base_url=llm_server.anthropic_url) if kind == "anthropic"
            else OpenAIProvider("test-key", base_url=llm_server.openai_url))
    node = tracing.start("akis.node ai_response", None, {})
    token = tracing.attach(tracing.context_of(node))
    try:
        text = "".join([part async for part in made.stream(LLMRequest("m-1", [{"role": "user", "content": "hi"}]))
                        if isinstance(part, str)])
    finally:
        tracing.detach(token)
        node.end()
        await made.aclose()
    assert text == "Hello from the fake server."
    finished = spans.get_finished_spans()
    model = next(s for s in finished if s.name == "chat m-1")
    assert model.parent.span_id == node.get_span_context().span_id
    attrs = model.attributes
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == kind
    assert attrs["gen_ai.request.model"] == "m-1" and attrs["gen_ai.usage.input_tokens"] == 11
    assert attrs["gen_ai.usage.output_tokens"] == 6 and attrs["gen_ai.response.time_to_first_chunk"] > 0
    _, trace_id, span_id, _ = llm_server.requests[-1].headers["traceparent"].split("-")
    assert trace_id == format(model.context.trace_id, "032x")
    parents = {format(s.context.span_id, "016x"): s.parent for s in finished}
    chain = [span_id]  # the model span, or the SDK's own call span under it
    while chain[-1] in parents and parents[chain[-1]] is not None:
        chain.append(format(parents[chain[-1]].span_id, "016x"))
    assert format(model.context.span_id, "016x") in chain
