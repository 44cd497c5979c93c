"""subflow and iterate offline: another flow of the tenant run inside, its chunks and inner
nodes reported under the node, cache and metrics inside; cycles refused at save and at run
time; other tenants' flows refused; iteration in order, within its concurrency, with a
failure policy per item."""
from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from runtime import Engine, Services, load_flow
from runtime.agents.references import cycle_problems
from runtime.engine.metrics import MemoryMetricsSink
from runtime.errors import FlowValidationError, NodeError
from runtime.events import MESSAGE_CHUNK, NODE_FAILED, NODE_STEP, Event
from runtime.nodes.base import NodeConfig, NodeContext, NodeType
from runtime.nodes.registry import NodeRegistry, builtin_types
from runtime.services import MemoryFlowSource
from runtime.settings import AkisSettings
from runtime.wiring import build_cache

from .agent_flows import FAST, chain

INPUTS = {"user_message": "Transpalet arıyorum", "tenant_id": "2", "session_id": "s1"}


def node(node_id: str, type_: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "config": config}


def answering_flow() -> dict[str, Any]:
    """search -> ai_response: the 'inner' flow a sub-flow calls."""
    return chain("answer", node("search", "product_search", category=None),
                 node("ai", "ai_response", provider_options={**FAST, "text": "TP-2500 it is."}),
                 output={"answer": "{{ answer }}", "count": "{{ products | length }}"})


def engine_with(*documents: dict[str, Any], tenant: str = "2", **parts: Any) -> Engine:
    flows = MemoryFlowSource()
    for document in documents:
        flows.add(tenant, document)
    return Engine(services=Services(flows=flows), **parts)


async def events_of(engine: Engine, document: dict[str, Any]) -> list[Event]:
    return [e async for e in engine.stream(document, INPUTS, include_background=False)]


def subflow(node_id: str = "sub", **config: Any) -> dict[str, Any]:
    return node(node_id, "subflow", **{"flow_id": "answer", **config})


async def test_subflow_streams_its_answer_and_maps_outputs() -> None:
    outer = chain("outer", subflow(outputs={"count": "found"}), output={"found": "{{ found }}", "all": "{{ subflow }}"})
    engine = engine_with(answering_flow())
    events = await events_of(engine, outer)
    finished = events[-1]
    assert finished.status == "succeeded", finished.error
    assert finished.output == {"found": 5, "all": {"answer": "TP-2500 it is.", "count": 5}}
    chunks = [e for e in events if e.event == MESSAGE_CHUNK]
    assert "".join(e.text or "" for e in chunks) == "TP-2500 it is." and {e.node_id for e in chunks} == {"sub"}
    inner = [(e.extra["step"], e.status) for e in events if e.event == NODE_STEP]
    assert inner == [("in", "succeeded"), ("search", "succeeded"), ("ai", "succeeded"), ("out", "succeeded")]
    result = await engine.run(outer, INPUTS)
    assert result.answer == "TP-2500 it is."


async def test_cache_and_metrics_work_inside_a_subflow() -> None:
    metrics = MemoryMetricsSink()
    inner = answering_flow()
    inner["cache_strategy"] = {"product_search": {"ttl": 60}}
    engine = engine_with(inner, metrics=metrics,
                         cache=build_cache(AkisSettings(_env_file=None)))  # type: ignore[call-arg]  # settings file off
    outer = chain("outer", subflow(), output={"all": "{{ subflow }}"})
    for _ in range(2):
        assert (await engine.run(outer, INPUTS)).status == "succeeded"
    searches = [r for r in metrics.rows if r.flow_id == "answer" and r.node_id == "search"]
    assert [r.cache for r in searches] == ["miss", "hit"]
    assert all(r.tenant_id == "2" for r in searches)
    assert not [r for r in metrics.rows if r.node_id.startswith("sub/")]  # inner nodes are recorded once


async def test_a_failing_inner_flow_fails_the_node_naming_where() -> None:
    broken = chain("answer", node("search", "product_search", limit=0))
    broken["nodes"][1]["config"] = {"limit": "{{ 0 }}"}
    events = await events_of(engine_with(broken), chain("outer", subflow()))
    failed = next(e for e in events if e.event == NODE_FAILED and e.node_id == "sub")
    assert "flow 'answer' failed at node 'search'" in (failed.error or "")


async def test_another_tenants_flow_is_refused() -> None:
    events = await events_of(engine_with(answering_flow(), tenant="3"), chain("outer", subflow()))
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert failed.error == "flow 'answer' does not exist for this tenant"


async def test_a_cycle_is_refused_at_run_time() -> None:
    a = chain("a", node("to_b", "subflow", flow_id="b"), output={"x": "{{ subflow }}"})
    b = chain("b", node("to_a", "subflow", flow_id="a"), output={"x": "{{ subflow }}"})
    events = await events_of(engine_with(a, b), a)
    assert events[-1].status == "failed"
    assert "flow 'a' would call itself: a -> b -> a" in (events[-1].error or "")


async def test_a_cycle_across_flows_is_found_when_saving() -> None:
    flows = MemoryFlowSource()
    flows.add("2", chain("b", node("to_c", "subflow", flow_id="c")))
    flows.add("2", chain("c", node("loop", "iterate", flow_id="a", items=[1])))
    a = load_flow(chain("a", node("to_b", "subflow", flow_id="b")))
    [problem] = await cycle_problems(a, flows, "2")
    assert problem.code == "subflow_cycle" and problem.node_id == "to_b"
    assert "a -> b -> c -> a" in problem.message
    assert await cycle_problems(a, flows, "3") == []  # tenant 3 has no b: nothing to follow


@pytest.mark.parametrize(("config", "message"), [
    ({"flow_id": ""}, "choose the flow to run"),
    ({"flow_id": "outer"}, "a flow cannot run itself"),
    ({"flow_id": "answer", "outputs": {"count": "not a name"}}, "is not a name templates can read"),
    ({"flow_id": "answer", "outputs": {"count": "session_id"}}, "'session_id' is set by the run itself"),
])
def test_subflow_mistakes_are_found_at_validation(config: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        Engine().plan(load_flow(chain("outer", node("sub", "subflow", **config))), "2")
    assert any(message in p.message and p.node_id == "sub" for p in caught.value.problems), caught.value.problems


# --- iterate ------------------------------------------------------------------------------------
class ProbeConfig(NodeConfig):
    item: Any = None


class Probe(NodeType):
    """Waits a little (later items less), counts how many run at once, fails on item 'bad'."""

    type_id = "probe"
    Config = ProbeConfig
    running = 0
    most: ClassVar[list[int]] = [0]

    async def run(self, config: ProbeConfig, ctx: NodeContext) -> dict[str, Any]:
        Probe.running += 1
        Probe.most[0] = max(Probe.most[0], Probe.running)
        try:
            await asyncio.sleep(0.002 * (10 - int(config.item)) if str(config.item).isdigit() else 0.001)
            if config.item == "bad":
                raise NodeError("bad item")
            return {"seen": f"item {config.item}"}
        finally:
            Probe.running -= 1


def probe_engine() -> Engine:
    flows = MemoryFlowSource()
    flows.add("2", chain("each", node("p", "probe", item="{{ item }}"), output={"seen": "{{ seen }}"}))
    Probe.most = [0]
    return Engine(registry=NodeRegistry([*builtin_types(), Probe]), services=Services(flows=flows))


def iterate(items: Any, **config: Any) -> dict[str, Any]:
    return chain("outer", node("loop", "iterate", flow_id="each", items=items, **config),
                 output={"results": "{{ results }}"})


async def test_iterate_keeps_the_items_order_within_its_concurrency() -> None:
    engine = probe_engine()
    events = await events_of(engine, iterate(list(range(10)), concurrency=3, output="seen"))
    assert events[-1].status == "succeeded", events[-1].error
    assert events[-1].output == {"results": [f"item {i}" for i in range(10)]}
    assert Probe.most[0] == 3
    assert sorted(e.extra["step"] for e in events if e.event == NODE_STEP) == sorted(f"item {i}" for i in range(10))


async def test_iterate_reads_a_list_from_the_values() -> None:
    document = chain("outer", node("search", "product_search", category=None, limit=3),
                     node("loop", "iterate", flow_id="each", items="{{ products | map(attribute='sku') | list }}",
                          output="seen"), output={"results": "{{ results }}"})
    result = await probe_engine().run(document, INPUTS)
    assert result.status == "succeeded", result.error
    assert result.output == {"results": ["item TP-2500", "item TP-3000", "item ETP-1500"]}


@pytest.mark.parametrize(("policy", "expected"), [
    ("skip", [{"seen": "item 1"}, {"seen": "item 3"}]),
    ("keep", [{"seen": "item 1"}, {"error": "flow 'each' failed at node 'p': node 'p' (probe) failed: bad item"},
              {"seen": "item 3"}]),
])
async def test_iterate_failure_policy_per_item(policy: str, expected: list[Any]) -> None:
    result = await probe_engine().run(iterate([1, "bad", 3], on_item_error=policy), INPUTS)
    assert result.status == "succeeded", result.error
    assert result.output == {"results": expected}


async def test_iterate_fails_on_a_failed_item_by_default() -> None:
    events = await events_of(probe_engine(), iterate([1, "bad", 3]))
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert failed.node_id == "loop" and (failed.error or "").startswith("item 1 failed: flow 'each' failed at node 'p'")


@pytest.mark.parametrize(("items", "message"), [("not a list", "must be a list, got str"),
                                                 (list(range(5)), "5 items is more than max_items (4)")])
async def test_iterate_refuses_what_it_cannot_go_over(items: Any, message: str) -> None:
    events = await events_of(probe_engine(), iterate(items, max_items=4))
    failed = next(e for e in events if e.event == NODE_FAILED)
    assert message in (failed.error or "")
