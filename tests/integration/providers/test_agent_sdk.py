"""The agent node through the real SDKs against the fake server (both streaming tool-call
formats): the calls run, their results go back in the API's shape, the answer streams."""
from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.engine.metrics import MemoryMetricsSink
from runtime.events import MESSAGE_CHUNK, NODE_STEP
from runtime.services import MemoryProductCatalog
from tests.fakes.llm_server import FakeLLMServer, normal, stall, tool_calls

from .test_provider_flows import engine_for, run_events


def agent_flow(provider: str, **config: Any) -> dict[str, Any]:
    return {
        "akis": 1, "flow_id": "agent-flow",
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "ag", "type": "agent", "config": {"provider": provider, "model": "model-x", **config}},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "ag"}, {"source": "ag", "target": "out"}],
    }


def tool_results(api: str, body: dict[str, Any]) -> list[str]:
    """The tool results a request sent back, whatever the API's shape."""
    if api == "anthropic":
        return [block["content"] for m in body["messages"] if isinstance(m["content"], list)
                for block in m["content"] if block.get("type") == "tool_result"]
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


@pytest.mark.parametrize("provider", ["anthropic", "openai", "openai_compatible"])
async def test_agent_calls_a_tool_and_streams_the_final_answer(provider: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(tool_calls(("product_search", {"query": "transpalet"}), chunks=["Bakıyorum."], usage=(50, 7)),
                      normal(["TP-2500 ", "öneririm."], usage=(80, 4)))
    metrics = MemoryMetricsSink()
    events = await run_events(engine_for(llm_server, metrics), agent_flow(provider))
    assert events[-1].status == "succeeded", events[-1].error
    assert events[-1].output == {"answer": "TP-2500 öneririm."}
    assert "".join(e.text or "" for e in events if e.event == MESSAGE_CHUNK) == "Bakıyorum.\n\nTP-2500 öneririm."
    assert [(e.extra["step"], e.status) for e in events if e.event == NODE_STEP] == [
        ("model 1", "succeeded"), ("tool 1", "succeeded"), ("model 2", "succeeded")]
    first, second = (r.body for r in llm_server.requests)
    assert "tools" in first and "tools" in second
    [result] = tool_results("anthropic" if provider == "anthropic" else "openai", second)
    assert "TP-2500" in result and json.loads(result)["products"]
    rows = {r.node_id: r for r in metrics.rows}
    assert (rows["ag/model 1"].tokens_in, rows["ag/model 2"].tokens_in) == (50, 80)
    assert rows["ag"].tokens_in == 130


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_invalid_arguments_go_back_to_the_model_as_an_error(provider: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(tool_calls(("product_search", {"limit": 2})), normal(["Which product?"]))
    events = await run_events(engine_for(llm_server), agent_flow(provider))
    assert events[-1].status == "succeeded"
    [result] = tool_results(provider, llm_server.requests[1].body)
    assert result.startswith("error: invalid arguments: query: Field required")
    if provider == "anthropic":
        block = next(b for m in llm_server.requests[1].body["messages"] if isinstance(m["content"], list)
                     for b in m["content"] if b.get("type") == "tool_result")
        assert block["is_error"] is True


async def test_the_models_arguments_are_never_rendered_as_templates(llm_server: FakeLLMServer) -> None:
    searched: list[str] = []

    class Recording(MemoryProductCatalog):
        async def search(self, tenant_id: str, query: str, category: str | None, limit: int) -> list[dict[str, Any]]:
            searched.append(query)
            return await super().search(tenant_id, query, category, limit)

    engine = engine_for(llm_server)
    engine.services.catalogue = Recording()
    llm_server.script(tool_calls(("product_search", {"query": "{{ tenant_id }} {{ session_id }}"})), normal(["ok"]))
    events = await run_events(engine, agent_flow("openai"))
    assert events[-1].status == "succeeded"
    assert searched == ["{{ tenant_id }} {{ session_id }}"]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_stopping_the_run_closes_the_agents_model_stream(provider: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(tool_calls(("product_search", {"query": "forklift"})),
                      stall(1, 30.0, ["first ", "then a long wait"]))
    seen: list[str] = []
    stream = engine_for(llm_server).stream(agent_flow(provider), {"user_message": "forklift", "tenant_id": "2"})
    async for event in stream:
        if event.event == MESSAGE_CHUNK:
            seen.append(event.text or "")
            break  # the person stops the run after the first words of the second turn
    await stream.aclose()
    assert seen == ["first "]
    assert await llm_server.wait_for_close()
    assert llm_server.requests[-1].client_closed_early and len(llm_server.requests) == 2
