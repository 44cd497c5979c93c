"""The agent node offline: the mock plays scripted tool-calling conversations; each model turn
and tool call is a node.step event and a metrics row; tool errors go back to the model; the
step, call and time limits end the node with a clear message; flow tools stay in the tenant."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runtime import Engine, Services, load_flow
from runtime.engine.metrics import MemoryMetricsSink
from runtime.errors import FlowValidationError
from runtime.events import NODE_FAILED, NODE_STEP, Event
from runtime.services import MemoryFlowSource, MemoryProductCatalog
from runtime.settings import AkisSettings
from runtime.wiring import build_cache

from .agent_flows import agent, call, chain

INPUTS = {"user_message": "Transpalet arıyorum", "tenant_id": "2", "session_id": "s1"}


async def events_of(engine: Engine, document: dict[str, Any], **inputs: Any) -> list[Event]:
    return [e async for e in engine.stream(document, {**INPUTS, **inputs}, include_background=False)]


def steps(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.extra["step"], e.extra["kind"], e.status or "") for e in events if e.event == NODE_STEP]


async def test_scripted_conversation_calls_the_tool_and_streams_the_answer() -> None:
    script = [{"text": "Let me look.", "tool_calls": [call("product_search", query="transpalet")]},
              {"text": "The TP-2500 suits you."}]
    metrics = MemoryMetricsSink()
    engine = Engine(metrics=metrics)
    events = await events_of(engine, chain("f", agent(script)))
    finished = events[-1]
    assert finished.status == "succeeded"
    assert finished.output == {"answer": "The TP-2500 suits you."}
    text = "".join(e.text or "" for e in events if e.event == "message.chunk")
    assert text == "Let me look.\n\nThe TP-2500 suits you."
    assert steps(events) == [("model 1", "model", "succeeded"), ("tool 1", "tool", "succeeded"),
                             ("model 2", "model", "succeeded")]
    tool_step = next(e for e in events if e.event == NODE_STEP and e.extra["kind"] == "tool")
    assert tool_step.extra["tool"] == "product_search" and tool_step.extra["arguments"] == {"query": "transpalet"}
    rows = {row.node_id: row for row in metrics.rows}
    assert rows["ag/model 1"].node_type == "agent.model" and rows["ag/model 1"].tokens_in > 0
    assert rows["ag/tool 1"].node_type == "agent.tool"
    assert rows["ag"].tokens_out == rows["ag/model 1"].tokens_out + rows["ag/model 2"].tokens_out


async def test_agent_result_lists_its_tool_calls_for_later_nodes() -> None:
    script = [{"tool_calls": [call("product_search", query="forklift"), call("product_search", query="akü")]},
              {"text": "done"}]
    document = chain("f", agent(script), output={"calls": "{{ tool_calls | length }}", "answer": "{{ answer }}"})
    result = await Engine().run(document, INPUTS)
    assert result.status == "succeeded", result.error
    assert result.output == {"calls": 2, "answer": "done"}


@pytest.mark.parametrize(("bad_call", "error"), [
    (call("no_such_tool", query="x"), "there is no tool 'no_such_tool'"),
    (call("product_search", limit=3), "invalid arguments: query: Field required"),
])
async def test_a_tool_error_goes_back_to_the_model(bad_call: dict[str, Any], error: str) -> None:
    script = [{"tool_calls": [bad_call]}, {"text": "Sorry, I could not search."}]
    events = await events_of(Engine(), chain("f", agent(script)))
    assert events[-1].status == "succeeded"
    failed = [e for e in events if e.event == NODE_STEP and e.status == "failed"]
    assert len(failed) == 1 and error in (failed[0].error or "")


async def test_the_demo_mock_agent_calls_the_first_tool_without_a_script() -> None:
    result = await Engine().run(chain("f", agent()), INPUTS)
    assert result.status == "succeeded", result.error
    assert "TP-2500" in result.output["answer"] and "offline mock" in result.output["answer"]


@pytest.mark.parametrize(("config", "message"), [
    ({"max_steps": 2}, "no final answer within its limit of 2 model step(s)"),
    ({"max_tool_calls": 1}, "more than its limit of 1 tool call(s)"),
])
async def test_step_and_call_limits_end_with_a_clear_message(config: dict[str, Any], message: str) -> None:
    forever = [{"tool_calls": [call("product_search", query="x")]}] * 5
    events = await events_of(Engine(), chain("f", agent(forever, **config)))
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert failed.node_id == "ag" and message in (failed.error or "")
    assert events[-1].status == "failed"


@pytest.mark.parametrize(("config", "last_step"), [
    ({"max_steps": 2}, "model 3: answer at the limit"),
    ({"max_tool_calls": 1}, "model 3: answer at the limit"),
])
async def test_on_limit_answer_lets_the_model_answer_with_what_it_has(config: dict[str, Any], last_step: str) -> None:
    script = [{"tool_calls": [call("product_search", query="a")]}, {"tool_calls": [call("product_search", query="b")]},
              {"text": "The TP-2500, from what I found so far."}]
    events = await events_of(Engine(), chain("f", agent(script, on_limit="answer", **config)))
    assert events[-1].status == "succeeded", events[-1].error
    assert events[-1].output == {"answer": "The TP-2500, from what I found so far."}
    labels = [e.extra["label"] for e in events if e.event == NODE_STEP]
    assert labels[-1] == last_step
    tools_called = [e for e in events if e.event == NODE_STEP and e.extra["kind"] == "tool"]
    assert len(tools_called) == (2 if "max_steps" in config else 1)


async def test_on_limit_answer_without_an_answer_still_fails_clearly() -> None:
    forever = [{"tool_calls": [call("product_search", query="x")]}] * 5
    events = await events_of(Engine(), chain("f", agent(forever, max_steps=1, on_limit="answer")))
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert "within its limit of 1 model step(s), and gave no answer when told so" in (failed.error or "")


async def test_an_empty_model_turn_is_an_error_not_an_empty_answer() -> None:
    events = await events_of(Engine(), chain("f", agent([{"text": ""}])))
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert "model step 1 gave neither text nor a tool call" in (failed.error or "")


async def test_time_limit_ends_the_agent_with_a_clear_message() -> None:
    slow = agent([{"text": "slow"}], time_limit_s=0.05)
    slow["config"]["provider_options"] = {"delay_ms": 5000, "script": [{"text": "slow"}]}
    events = await events_of(Engine(), chain("f", slow))
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert "time limit of 0.05 s ran out during model step 1" in (failed.error or "")


def flow_tool(flow_id: str = "stock") -> dict[str, Any]:
    return {"name": "stock", "kind": "flow", "flow_id": flow_id, "description": "Stock of a product.",
            "parameters": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}}


def stock_flow() -> dict[str, Any]:
    return chain("stock", {"id": "t", "type": "template",
                           "config": {"template": "{{ sku }}: 7 in stock", "output_key": "stock"}},
                 output={"stock": "{{ stock }}"})


async def test_a_flow_tool_runs_another_flow_of_the_tenant() -> None:
    flows = MemoryFlowSource()
    flows.add("2", stock_flow())
    engine = Engine(services=Services(flows=flows))
    script = [{"tool_calls": [call("stock", sku="TP-2500")]}, {"text": "ok"}]
    events = await events_of(engine, chain("f", agent(script, tools=[flow_tool()])))
    assert events[-1].status == "succeeded"
    tool = [e for e in events if e.event == NODE_STEP][1]
    assert (tool.extra["step"], tool.status, tool.error) == ("tool 1", "succeeded", None)


async def test_a_flow_tool_of_another_tenant_is_refused() -> None:
    flows = MemoryFlowSource()
    flows.add("3", stock_flow())  # tenant 3's flow; the run is tenant 2's
    engine = Engine(services=Services(flows=flows))
    script = [{"tool_calls": [call("stock", sku="TP-2500")]}, {"text": "ok"}]
    events = await events_of(engine, chain("f", agent(script, tools=[flow_tool()])))
    failed = [e for e in events if e.event == NODE_STEP and e.status == "failed"]
    assert "flow 'stock' does not exist for this tenant" in (failed[0].error or "")


@pytest.mark.parametrize(("tools", "message"), [
    ([{"name": "a", "kind": "product_search"}, {"name": "a", "kind": "product_search"}], "two tools are called 'a'"),
    ([{"name": "s", "kind": "product_search", "parameters": {"type": "object", "properties": {"q": {"type": "date"}}}}],
     "type 'date' is not supported"),
    ([{"name": "f", "kind": "flow"}], "a flow tool needs flow_id"),
    ([{"name": "f", "kind": "flow", "flow_id": "f"}], "would run this flow itself"),
    ([{"name": "h", "kind": "http_request"}], "needs config.url"),
    ([{"name": "k", "kind": "knowledge_retrieval"}], "needs config.knowledge_bases"),
])
def test_tool_mistakes_are_found_when_the_flow_is_validated(tools: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        Engine().plan(load_flow(chain("f", agent(tools=tools))), "2")
    assert any(message in p.message and p.node_id == "ag" for p in caught.value.problems), caught.value.problems


async def test_http_preset_tool_fills_arguments_into_the_url(http_server: str) -> None:
    tool = {"name": "api", "kind": "http_request", "config": {"url": http_server + "/stock/{sku}"}}  # sku: from the url
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    script = [{"tool_calls": [call("api", sku="TP 2500")]}, {"text": "ok"}]
    events = await events_of(engine, chain("f", agent(script, tools=[tool]), output={"calls": "{{ tool_calls }}"}))
    assert events[-1].status == "succeeded"
    assert steps(events)[1] == ("tool 1", "tool", "succeeded")
    assert StockHandler.paths == ["/stock/TP%202500"]


class StockHandler(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        StockHandler.paths.append(self.path)
        body = json.dumps({"sku": self.path.rsplit("/", 1)[-1], "stock": 7}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    StockHandler.paths = []
    httpd = HTTPServer(("127.0.0.1", 0), StockHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class CountingCatalog(MemoryProductCatalog):
    def __init__(self) -> None:
        super().__init__()
        self.searches: list[tuple[str, str]] = []

    async def search(self, tenant_id: str, query: str, category: str | None, limit: int) -> list[dict[str, Any]]:
        self.searches.append((tenant_id, query))
        return await super().search(tenant_id, query, category, limit)


async def test_tool_lookups_are_cached_per_tenant_and_the_answer_never() -> None:
    catalogue = CountingCatalog()
    engine = Engine(services=Services(catalogue=catalogue),
                    cache=build_cache(AkisSettings(_env_file=None)))  # type: ignore[call-arg]  # settings file off
    script = [{"tool_calls": [call("product_search", query="forklift")]}, {"text": "answer"}]
    document = load_flow(chain("f", agent(script)))
    for tenant in ("2", "2", "3"):
        result = await engine.run(document, {**INPUTS, "tenant_id": tenant})
        assert result.status == "succeeded" and result.answer == "answer"
    assert catalogue.searches == [("2", "forklift"), ("3", "forklift")]  # tenant 2's second run: a cache hit



EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "agent_assistant.json"


async def test_the_shipped_agent_example_runs_offline() -> None:
    document = load_flow(EXAMPLE)
    for spec in document.nodes:
        if "provider_options" in spec.config:
            spec.config["provider_options"] = {"delay_ms": 0, "tokens_per_second": 0}
    events = await events_of(Engine(), document.dump(), user_message="I need a forklift for 4 m racks")
    finished = events[-1]
    assert finished.status == "succeeded", finished.error
    assert finished.output is not None and "FL-" in finished.output["answer"]
    assert finished.output["order"]["product"] == "I need a forklift for 4 m racks"
    assert finished.output["tools_used"] == ["product_search"]
    assert [s[0] for s in steps(events)] == ["model 1", "tool 1", "model 2"]


async def test_a_knowledge_tool_searches_the_tenants_base() -> None:
    tool = {"name": "docs", "kind": "knowledge_retrieval", "config": {"knowledge_bases": ["support-docs"], "top_k": 2}}
    script = [{"tool_calls": [call("docs", query="restocking fee returns")]}]  # then the demo answers from it
    events = await events_of(Engine(), chain("f", agent(script, tools=[tool])))
    assert events[-1].status == "succeeded", events[-1].error
    assert events[-1].output is not None and 'returns.html: "Returns and refunds' in events[-1].output["answer"]
    tool_step = next(e for e in events if e.event == NODE_STEP and e.extra["kind"] == "tool")
    assert tool_step.status == "succeeded" and tool_step.extra["arguments"] == {"query": "restocking fee returns"}


async def test_an_http_tool_keeps_the_ssrf_guards() -> None:
    tool = {"name": "api", "kind": "http_request", "config": {"url": "http://{host}/latest/meta-data"}}
    script = [{"tool_calls": [call("api", host="169.254.169.254")]}, {"text": "ok"}]
    events = await events_of(Engine(), chain("f", agent(script, tools=[tool])))
    assert events[-1].status == "succeeded"
    [failed] = [e for e in events if e.event == NODE_STEP and e.status == "failed"]
    assert "169.254.169.254" in (failed.error or "") and "refused" in (failed.error or "").lower()
