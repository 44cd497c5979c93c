"""Native tool calling through both official SDKs against the fake server: the streamed
tool-call formats read back into whole calls, and a conversation with tool results sent in
each API's own shape."""
from __future__ import annotations

from typing import Any

import pytest

from runtime.ports import LLMRequest, ToolCall, ToolSpec, Usage
from runtime.providers.anthropic_provider import AnthropicProvider
from runtime.providers.openai_provider import OpenAIProvider
from runtime.providers.streaming import StreamingProvider
from tests.fakes.llm_server import FakeLLMServer, normal, tool_calls

SEARCH = ToolSpec("product_search", "Searches the catalogue.",
                  {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})


def provider_for(api: str, server: FakeLLMServer) -> StreamingProvider:
    if api == "anthropic":
        return AnthropicProvider("test-key", base_url=server.anthropic_url)
    return OpenAIProvider("test-key", base_url=server.openai_url)


async def collect(provider: StreamingProvider, request: LLMRequest) -> list[Any]:
    return [item async for item in provider.stream_tools(request)]


@pytest.mark.parametrize("api", ["anthropic", "openai"])
async def test_streamed_tool_calls_arrive_whole_after_the_text(api: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(tool_calls(("product_search", {"query": "transpalet çift"}), ("stock", {"sku": "TP-2500"}),
                                 chunks=["Let me ", "look."], usage=(40, 9)))
    request = LLMRequest("model-x", [{"role": "user", "content": "Transpalet?"}], tools=[SEARCH])
    items = await collect(provider_for(api, llm_server), request)
    assert "".join(i for i in items if isinstance(i, str)) == "Let me look."
    calls = [i for i in items if isinstance(i, ToolCall)]
    assert [(c.name, c.arguments) for c in calls] == [("product_search", {"query": "transpalet çift"}),
                                                      ("stock", {"sku": "TP-2500"})]
    assert len({c.id for c in calls}) == 2 and all(c.id for c in calls)
    assert isinstance(items[-1], Usage) and items[-1].input_tokens == 40
    body = llm_server.requests[0].body
    if api == "anthropic":
        assert body["tools"] == [{"name": "product_search", "description": "Searches the catalogue.",
                                  "input_schema": SEARCH.parameters}]
    else:
        assert body["tools"] == [{"type": "function", "function": {
            "name": "product_search", "description": "Searches the catalogue.", "parameters": SEARCH.parameters}}]


@pytest.mark.parametrize("api", ["anthropic", "openai"])
async def test_tool_results_go_back_in_the_apis_own_shape(api: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(normal(["TP-2500 ", "is in stock."]))
    call = ToolCall("id_1", "product_search", {"query": "tp"}, '{"query": "tp"}')
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Transpalet?"},
        {"role": "assistant", "content": "Looking.", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "id_1", "name": "product_search", "content": "[TP-2500]", "is_error": False},
    ]
    items = await collect(provider_for(api, llm_server), LLMRequest("model-x", messages, tools=[SEARCH]))
    assert "".join(i for i in items if isinstance(i, str)) == "TP-2500 is in stock."
    assert not [i for i in items if isinstance(i, ToolCall)]
    sent = llm_server.requests[0].body["messages"]
    if api == "anthropic":
        assert sent[1] == {"role": "assistant", "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "id_1", "name": "product_search", "input": {"query": "tp"}}]}
        assert sent[2] == {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "id_1", "content": "[TP-2500]"}]}
    else:
        assert sent[1]["tool_calls"] == [{"id": "id_1", "type": "function",
                                          "function": {"name": "product_search", "arguments": '{"query": "tp"}'}}]
        assert sent[2] == {"role": "tool", "tool_call_id": "id_1", "content": "[TP-2500]"}


@pytest.mark.parametrize("api", ["anthropic", "openai"])
async def test_plain_stream_is_unchanged_without_tools(api: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(normal(["Hel", "lo"]))
    request = LLMRequest("model-x", [{"role": "user", "content": "hi"}])
    items = [item async for item in provider_for(api, llm_server).stream(request)]
    assert items[:-1] == ["Hel", "lo"] and isinstance(items[-1], Usage)
    assert "tools" not in llm_server.requests[0].body
