"""Inspected runs: per-node records (inputs, rendered config, output, cache, attempts), runs that
reuse known outputs (run from here) and one-node runs with pinned inputs."""
from __future__ import annotations

from typing import Any

from runtime import Engine, load_flow
from runtime.cache.tiered import TieredCache
from runtime.cache.tiers.memory_tier import MemoryTier
from runtime.engine.inspect import REUSED, NodeRecord, start_inspected

from .flows import diamond, flow, node
from .test_engine import Flaky, registry_with


async def inspected(engine: Engine, data: dict[str, Any], inputs: dict[str, Any],
                    **kw: Any) -> tuple[Any, list[NodeRecord]]:
    got: list[NodeRecord] = []
    handle = start_inspected(engine, load_flow(data), inputs, tenant_id="1", session_id="s",
                             run_id=kw.pop("run_id", "r1"), on_event=None,
                             sink=lambda _run, records: got.extend(records), **kw)
    return await handle.result(), got


async def test_each_node_records_what_it_read_its_rendered_config_and_output() -> None:
    result, records = await inspected(Engine(), diamond(delay_ms=1), {"user_message": "hi"})
    assert result.status == "succeeded"
    by_id = {r.node_id: r for r in records}
    assert set(by_id) == {"in", "a", "b", "c", "join", "out"}
    join = by_id["join"]
    assert join.inputs == {"a": 1, "b": 2, "c": 3}
    assert join.config == {"template": "123", "output_key": "joined"}  # as rendered for the node
    assert join.output == {"joined": "123"} and join.status == "succeeded" and join.attempts == 1
    assert by_id["out"].config == {"fields": {"joined": "123"}}  # rendered: what the node was given
    assert records[0].node_id == "in"  # start order


async def test_attempts_and_errors_are_recorded() -> None:
    Flaky.calls = 0
    spec = {**node("f", "flaky", fail_times=2), "retry": {"attempts": 3, "backoff_s": 0.001}}
    data = flow([node("in", "user_input"), spec, node("out", "output")], [("in", "f"), ("f", "out")])
    _, records = await inspected(Engine(registry=registry_with(Flaky)), data, {"user_message": "x"})
    flaky = next(r for r in records if r.node_id == "f")
    assert flaky.attempts == 3 and flaky.output == {"flaky": 3}
    Flaky.calls = 0
    data = flow([node("in", "user_input"), node("f", "flaky", fail_times=5), node("out", "output")],
                [("in", "f"), ("f", "out")])
    _, records = await inspected(Engine(registry=registry_with(Flaky)), data, {"user_message": "x"})
    failed = next(r for r in records if r.node_id == "f")
    assert failed.status == "failed" and failed.error == "RuntimeError: boom 1" and failed.output is None
    Flaky.calls = 0
    spec = {**node("f", "flaky", fail_times=5), "on_error": "fallback", "fallback": {"flaky": "spare"}}
    data = flow([node("in", "user_input"), spec, node("out", "output")], [("in", "f"), ("f", "out")])
    _, records = await inspected(Engine(registry=registry_with(Flaky)), data, {"user_message": "x"})
    spare = next(r for r in records if r.node_id == "f")
    assert (spare.status, spare.output, spare.error) == ("fallback", {"flaky": "spare"}, "RuntimeError: boom 1")


async def test_a_cached_node_records_its_key_and_ttl() -> None:
    cache = TieredCache([MemoryTier()])
    data = flow([node("in", "user_input"), node("t", "delay", ms=1, output={"x": "{{ user_message }}!"}),
                 node("out", "output")], [("in", "t"), ("t", "out")],
                cache_strategy={"delay": {"enabled": True, "ttl": 120}})
    engine = Engine(cache=cache)
    _, first = await inspected(engine, data, {"user_message": "hi"})
    _, second = await inspected(engine, data, {"user_message": "hi"}, run_id="r2")
    miss, hit = (next(r for r in rs if r.node_id == "t") for rs in (first, second))
    assert (miss.cache, hit.cache) == ("miss", "hit")
    assert hit.cache_key == miss.cache_key and hit.cache_key is not None and hit.cache_key.startswith("tenant_1_delay_")
    assert hit.cache_ttl == 120 and cache.ttl_left(hit.cache_key) in (119, 120)


async def test_known_outputs_are_reused_and_seeded_nodes_are_read() -> None:
    _, records = await inspected(Engine(), diamond(delay_ms=1), {"user_message": "hi"},
                                 known={"a": ({"a": 7}, None), "b": ({"b": 8}, None), "c": ({"c": 9}, None)})
    by_id = {r.node_id: r for r in records}
    assert by_id["a"].cache == REUSED and by_id["a"].output == {"a": 7}
    assert by_id["join"].output == {"joined": "789"}
    one = flow([node("in", "user_input", fields=[]),
                node("t", "template", template="{{ nodes.up.v }}-{{ user_message }}", output_key="x"),
                node("out", "output", fields={})], [("in", "t"), ("t", "out")])
    result, records = await inspected(Engine(), one, {"user_message": "m"}, seed={"up": {"v": "pinned"}})
    pinned = next(r for r in records if r.node_id == "t")
    assert result.status == "succeeded" and pinned.output == {"x": "pinned-m"}
    assert pinned.inputs["nodes"]["up"] == {"v": "pinned"} and pinned.inputs["user_message"] == "m"
