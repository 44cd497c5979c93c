"""The extract node through both SDKs against the fake server: JSON mode retried with the
validation error after invalid JSON, tool mode read from a streamed tool call."""
from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.llm_server import FakeLLMServer, normal, tool_calls

from .test_provider_flows import engine_for, run_events

SCHEMA = {"type": "object", "properties": {"product": {"type": "string"}, "quantity": {"type": "integer"}},
          "required": ["product", "quantity"]}


def extract_flow(provider: str, mode: str) -> dict[str, Any]:
    return {
        "akis": 1, "flow_id": "extract-flow",
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "ex", "type": "extract", "config": {"provider": provider, "model": "model-x", "mode": mode,
                                                             "data_schema": SCHEMA}},
                  {"id": "out", "type": "output", "config": {"fields": {"order": "{{ quantity }} x {{ product }}"}}}],
        "edges": [{"source": "in", "target": "ex"}, {"source": "ex", "target": "out"}],
    }


def sent_text(body: dict[str, Any]) -> str:
    return str(body["messages"])


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_json_mode_retries_with_the_validation_error(provider: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(normal(['{"product": ', '"TP-2500"}']), normal(['{"product": "TP-2500", ', '"quantity": 2}']))
    events = await run_events(engine_for(llm_server), extract_flow(provider, "json"))
    assert events[-1].status == "succeeded", events[-1].error
    assert events[-1].output == {"order": "2 x TP-2500"}
    retry = sent_text(llm_server.requests[1].body)
    assert "That was not valid: quantity: Field required" in retry


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_tool_mode_reads_the_streamed_call(provider: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(tool_calls(("record_data", {"product": "TP-2500", "quantity": 3})))
    events = await run_events(engine_for(llm_server), extract_flow(provider, "tool"))
    assert events[-1].output == {"order": "3 x TP-2500"}
    body = llm_server.requests[0].body
    names = [t.get("name") or t["function"]["name"] for t in body["tools"]]
    assert names == ["record_data"]
