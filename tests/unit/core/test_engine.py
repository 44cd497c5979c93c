"""Engine semantics: concurrency, sequential mode, branches and joins, policies, background,
cancellation, templates, events."""
from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import Engine, Event, FlowValidationError, load_flow
from runtime.engine.engine import InputError
from runtime.nodes.base import NodeConfig, NodeContext, NodeType
from runtime.nodes.registry import NodeRegistry, builtin_types
from runtime.services import MemoryConversationStore, Services

from .flows import diamond, flow, node


def overlap(result: Any, a: str, b: str) -> bool:
    x, y = result.nodes[a], result.nodes[b]
    return x.start_ms < y.start_ms + y.duration_ms and y.start_ms < x.start_ms + x.duration_ms


async def collect(engine: Engine, data: Any, inputs: dict[str, Any] | None = None, **kw: Any) -> list[Event]:
    return [e async for e in engine.stream(data, inputs or {"user_message": "hi"}, **kw)]


async def test_independent_nodes_run_concurrently_and_join_waits():
    result = await Engine().run(diamond(delay_ms=50), {"user_message": "hi"})
    assert result.status == "succeeded"
    assert result.output == {"joined": "123"}
    assert overlap(result, "a", "b") and overlap(result, "b", "c")
    join_start = result.nodes["join"].start_ms
    for member in "abc":
        timing = result.nodes[member]
        assert join_start >= timing.start_ms + timing.duration_ms - 0.01


async def test_sequential_runs_one_node_at_a_time():
    result = await Engine().run(diamond(delay_ms=20, settings={"execution": "sequential"}), {"user_message": "hi"})
    assert result.output == {"joined": "123"}
    spans = sorted((t.start_ms, t.start_ms + t.duration_ms) for t in result.nodes.values())
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.01


async def test_join_is_discovered_when_omitted():
    from runtime.flow.graph import FlowGraph

    doc = load_flow(diamond())
    graph = FlowGraph.build(doc)
    members = [graph.index[m] for m in "abc"]
    assert graph.ids[graph.discover_join(members)] == "join"


def branching(choice: str) -> dict[str, Any]:
    return flow(
        [node("in", "user_input"),
         node("if", "condition", cases=[{"when": "{{ user_message == 'left' }}", "branch": "left"}], default="right"),
         node("l1", "delay", ms=1, output={"l": 1}), node("l2", "delay", ms=1, output={"l2": 1}),
         node("r1", "delay", ms=1, output={"r": 2}),
         node("join", "template", template="{{ l | default('') }}{{ r | default('') }}", output_key="side"),
         node("out", "output", fields={"side": "{{ side }}"})],
        [("in", "if"), {"source": "if", "target": "l1", "branch": "left"}, ("l1", "l2"),
         {"source": "if", "target": "r1", "branch": "right"}, ("l2", "join"), ("r1", "join"), ("join", "out")],
    )


@pytest.mark.parametrize("choice, ran, skipped", [("left", {"l1", "l2"}, {"r1"}), ("other", {"r1"}, {"l1", "l2"})])
async def test_condition_skips_the_branch_not_taken_and_join_fires_once(choice: str, ran: set[str], skipped: set[str]):
    events = await collect(Engine(), branching(choice), {"user_message": choice})
    started = [e.node_id for e in events if e.event == "node.started"]
    skipped_ids = {e.node_id for e in events if e.event == "node.skipped"}
    assert skipped_ids == skipped
    assert ran <= set(started) and not (skipped & set(started))
    assert started.count("join") == 1
    assert events[-1].event == "run.finished" and events[-1].status == "succeeded"
    assert events[-1].output == {"side": "1" if choice == "left" else "2"}


async def test_ai_response_never_runs_alongside_another_node():
    data = flow(
        [node("in", "user_input"),
         node("slow", "delay", ms=60, output={"slow": 1}),
         node("ai", "ai_response", provider_options={"delay_ms": 5, "tokens_per_second": 500, "text": "one two three"}),
         node("out", "output")],
        [("in", "slow"), ("in", "ai"), ("slow", "out"), ("ai", "out")],
    )
    result = await Engine().run(data, {"user_message": "hi"})
    assert result.status == "succeeded"
    assert not overlap(result, "slow", "ai")


async def test_background_node_runs_after_the_result():
    engine = Engine()
    data = load_flow("examples/seed_scenario.json")
    events = await collect(engine, data, {"user_message": "hi", "session_id": "bg"})
    kinds = [e.event for e in events]
    assert kinds.index("run.finished") < kinds.index("background.finished")
    finished = next(e for e in events if e.event == "run.finished")
    assert "node_7" not in {e.node_id for e in events[: kinds.index("run.finished")]}
    history = await engine.services.conversations.history("1", "bg", 10)
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[1].content == finished.output["answer"]


class SlowStore(MemoryConversationStore):
    async def save(self, tenant_id, session_id, messages):
        await asyncio.sleep(0.05)
        return await super().save(tenant_id, session_id, messages)


async def test_run_returns_before_background_job_finishes():
    engine = Engine(services=Services(conversations=SlowStore()))
    result = await engine.run("examples/seed_scenario.json", {"user_message": "hi", "session_id": "order"})
    returned_at = time.time()
    assert result.background
    await result.wait_background()
    outcome = result.background[0].result()
    assert outcome.status == "succeeded"
    # judged by the job's own clock: it was still saving when the caller had its result
    assert outcome.started_at + outcome.duration_ms / 1000 > returned_at


class Flaky(NodeType):
    type_id = "flaky"
    outputs = ("flaky",)
    calls = 0

    class Config(NodeConfig):
        fail_times: int = 1

    async def run(self, config: Any, ctx: NodeContext) -> dict[str, Any]:
        Flaky.calls += 1
        if Flaky.calls <= config.fail_times:
            raise RuntimeError(f"boom {Flaky.calls}")
        return {"flaky": Flaky.calls}


def registry_with(*extra: type[NodeType]) -> NodeRegistry:
    registry = NodeRegistry(builtin_types())
    for cls in extra:
        registry.add(cls)
    return registry


def single(node_spec: dict[str, Any]) -> dict[str, Any]:
    return flow(
        [node("in", "user_input"), node_spec, node("out", "output", fields={"v": "{{ flaky | default('none') }}"})],
        [("in", node_spec["id"]), (node_spec["id"], "out")],
    )


async def test_retry_succeeds_within_attempts():
    Flaky.calls = 0
    spec = {**node("f", "flaky", fail_times=2), "retry": {"attempts": 3, "backoff_s": 0.001}}
    result = await Engine(registry=registry_with(Flaky)).run(single(spec), {"user_message": "x"})
    assert result.status == "succeeded" and result.output == {"v": 3}


async def test_failure_fails_the_run_naming_the_node():
    Flaky.calls = 0
    spec = node("f", "flaky", fail_times=5)
    events = await collect(Engine(registry=registry_with(Flaky)), single(spec))
    failed = next(e for e in events if e.event == "node.failed")
    assert failed.node_id == "f" and "boom 1" in failed.error
    assert events[-1].status == "failed" and "'f'" in events[-1].error


async def test_on_error_continue_and_fallback():
    Flaky.calls = 0
    cont = {**node("f", "flaky", fail_times=5), "on_error": "continue"}
    result = await Engine(registry=registry_with(Flaky)).run(single(cont), {"user_message": "x"})
    assert result.status == "succeeded" and result.output == {"v": "none"} and result.nodes["f"].status == "continued"
    Flaky.calls = 0
    fall = {**node("f", "flaky", fail_times=5), "on_error": "fallback", "fallback": {"flaky": "spare"}}
    result = await Engine(registry=registry_with(Flaky)).run(single(fall), {"user_message": "x"})
    assert result.output == {"v": "spare"} and result.nodes["f"].status == "fallback"


async def test_timeout():
    spec = {**node("f", "delay", ms=2000), "timeout_s": 0.05}
    result = await Engine().run(single(spec), {"user_message": "x"})
    assert result.status == "failed" and "timed out after 0.05 s" in result.error


async def test_cancel_cancels_every_running_node():
    engine = Engine()
    handle = engine.start(diamond(delay_ms=5000), {"user_message": "hi"})
    await asyncio.sleep(0.05)
    before = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    assert len(before) >= 4  # run + a, b, c
    handle.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handle.result()
    await asyncio.sleep(0)
    left = {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}
    assert left == set()


async def test_closing_a_stream_early_cancels_the_run():
    engine = Engine()
    stream = engine.stream(diamond(delay_ms=5000), {"user_message": "hi"})
    async for event in stream:
        if event.event == "node.started" and event.node_id == "c":
            break
    await stream.aclose()
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()] == []


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=1, max_size=40).map(lambda s: s + "{{ 7*7 }}{% if true %}x{% endif %}"))
def test_user_text_is_never_rendered_as_a_template(text: str):
    data = flow(
        [node("in", "user_input"),
         node("t", "template", template="[{{ user_message }}]", output_key="echo"),
         node("out", "output", fields={"echo": "{{ echo }}", "raw": "{{ user_message }}"})],
        [("in", "t"), ("t", "out")],
    )
    result = asyncio.run(Engine().run(data, {"user_message": text}))
    assert result.output == {"echo": f"[{text}]", "raw": text}


async def test_sandbox_refuses_unsafe_templates():
    data = single(node("f", "template", template="{{ ''.__class__.__mro__ }}", output_key="flaky"))
    result = await Engine().run(data, {"user_message": "x"})
    assert (result.status == "failed" and "sandbox" in result.error) or "unsafe" in (result.error or "")


async def test_undefined_template_value_names_node_and_field():
    data = single(node("f", "template", template="{{ nothing_here }}", output_key="flaky"))
    result = await Engine().run(data, {"user_message": "x"})
    assert result.status == "failed" and "'f'" in result.error and "config.template" in result.error
    assert "nothing_here" in result.error


async def test_events_carry_the_contract_fields():
    events = await collect(Engine(), "examples/seed_scenario.json", {"user_message": "hi"})
    assert events[0].event == "run.started" and [e.index for e in events] == list(range(len(events)))
    run_ids = {e.run_id for e in events}
    assert len(run_ids) == 1
    assert all(e.t_ms >= 0 for e in events)
    chunks = [e for e in events if e.event == "message.chunk"]
    assert [c.seq for c in chunks] == list(range(20)) and all(c.node_id == "node_6" for c in chunks)
    finished = [e for e in events if e.event == "node.finished"]
    assert all(e.duration_ms is not None and e.cache in {"hit", "miss", "off"} and e.status for e in finished)
    done = next(e for e in events if e.event == "run.finished")
    assert "".join(c.text for c in chunks) == done.output["answer"]
    as_dict = chunks[0].to_dict()
    assert {"event", "run_id", "t_ms", "node_id", "node_type", "text", "seq"} <= set(as_dict)
    assert Event.from_dict(as_dict).to_dict() == as_dict


async def test_every_node_execution_produces_a_metrics_row():
    engine = Engine()
    result = await engine.run("examples/seed_scenario.json", {"user_message": "hi", "tenant_id": 2})
    await result.wait_background()
    rows = [r for r in engine.metrics.rows if r.run_id == result.run_id]
    assert sorted(r.node_id for r in rows) == [f"node_{i}" for i in range(1, 9)]
    assert all(r.tenant_id == "2" and r.flow_id == "seed-scenario" for r in rows)


async def test_invalid_flow_raises_with_every_problem():
    data = diamond()
    data["nodes"][1]["type"] = "teleporter"
    with pytest.raises(FlowValidationError) as info:
        await Engine().run(data, {"user_message": "hi"})
    assert "teleporter" in str(info.value)


@pytest.mark.parametrize("inputs", [{"session_id": "a/b"}, {"session_id": "x" * 200}, {"tenant_id": "2_x"}])
async def test_bad_session_or_tenant_ids_are_refused(inputs: dict[str, Any]):
    with pytest.raises(InputError):
        await Engine().run(diamond(), {"user_message": "hi", **inputs})


async def test_missing_required_input_fails_at_user_input():
    result = await Engine().run(diamond(), {})
    assert result.status == "failed" and result.failed_node == "in" and "user_message" in result.error


async def test_plugin_node_runs_for_its_tenant():
    from pathlib import Path

    from runtime.nodes.registry import default_registry

    engine = Engine(registry=default_registry(plugins_dir=Path("plugins")))
    data = flow([node("in", "user_input"), node("pay", "payment_gateway", amount=250),
                 node("out", "output", fields={"r": "{{ payment_result }}", "t": "{{ transaction_id }}"})],
                [("in", "pay"), ("pay", "out")])
    result = await engine.run(data, {"user_message": "buy", "tenant_id": 2})
    assert result.output["r"] == "approved" and result.output["t"].startswith("tx_")
    with pytest.raises(FlowValidationError, match="another tenant"):
        await engine.run(data, {"user_message": "buy", "tenant_id": 5})


class SaysItNeverSuspends(NodeType):
    """Declares ``suspends = False`` (so it is started inline) but awaits anyway."""

    type_id = "says_it_never_suspends"
    suspends = False
    outputs = ("late",)

    async def run(self, config: NodeConfig, ctx: NodeContext) -> dict[str, Any]:
        await asyncio.sleep(0.02)
        return {"late": "yes"}


def inline_chain() -> dict[str, Any]:
    return flow([node("in", "user_input"), node("liar", "says_it_never_suspends"),
                 node("out", "output", fields={"late": "{{ late }}"})], [("in", "liar"), ("liar", "out")])


async def test_an_inline_node_that_suspends_goes_on_in_a_task():
    engine = Engine(registry=registry_with(SaysItNeverSuspends))
    events = await collect(engine, inline_chain())
    kinds = [(e.event, e.node_id) for e in events]
    assert kinds == [("run.started", None), ("node.started", "in"), ("node.finished", "in"),
                     ("node.started", "liar"), ("node.finished", "liar"), ("node.started", "out"),
                     ("node.finished", "out"), ("run.finished", None)]
    assert [e.index for e in events] == list(range(len(events)))
    assert events[-1].output == {"late": "yes"}


@pytest.mark.parametrize("wait_s", [0.0, 0.005])
async def test_cancelling_an_inline_node_that_suspended(wait_s: float):
    engine = Engine(registry=registry_with(SaysItNeverSuspends))
    handle = engine.start(inline_chain(), {"user_message": "hi"})
    await asyncio.sleep(wait_s)
    handle.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handle.result()
    assert handle._run.clock.timings()["liar"].status == "cancelled"
    assert all(task.done() for task in handle._run.running.values())
