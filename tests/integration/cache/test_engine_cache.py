"""The cache inside real flow runs: hits skip nodes, tenants and tags are honoured, the AI node
is never served from the cache, warm-up fills what a run then hits."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from runtime import Engine
from runtime.cache import CacheEvents, WarmupScheduler, warm_up
from runtime.events import NODE_FINISHED, Event

from .conftest import MakeCache
from .flows import PALLET, pallet_flow

ENGINE_CONFIGS = pytest.mark.parametrize("make_cache", ["memory", "memory+redis"], indirect=True)
INPUTS = {"user_message": "Transpalet arıyorum", "session_id": "abc123"}


async def run(engine: Engine, flow: Any, tenant: str, **inputs: Any) -> dict[str, str]:
    """Cache outcome per node id, read from the node.finished events."""
    events: list[Event] = []
    result = await engine.run(flow, {**INPUTS, **inputs, "tenant_id": tenant}, on_event=events.append)
    assert result.status == "succeeded", result.error
    return {e.node_id: e.cache for e in events if e.event == NODE_FINISHED}  # type: ignore[misc]


@ENGINE_CONFIGS
async def test_second_identical_run_hits_and_other_tenants_miss(make_cache: MakeCache) -> None:
    engine, flow = Engine(cache=make_cache()), pallet_flow()
    first = await run(engine, flow, "2")
    assert (first["node_2"], first["node_3"], first["node_6"]) == ("miss", "miss", "off")
    second = await run(engine, flow, "2")
    assert (second["node_2"], second["node_3"], second["node_6"]) == ("hit", "hit", "off")
    other = await run(engine, flow, "5")
    assert (other["node_2"], other["node_3"]) == ("miss", "miss")


@ENGINE_CONFIGS
async def test_an_event_clears_its_tags_for_one_tenant(make_cache: MakeCache) -> None:
    cache = make_cache()
    engine, flow = Engine(cache=cache), pallet_flow()
    for tenant in ("2", "5"):
        await run(engine, flow, tenant)
    events = CacheEvents(cache)
    events.add_flows("2", [flow])
    assert await events.emit("2", "product.updated") == ["products"]
    after = await run(engine, flow, "2")
    assert (after["node_2"], after["node_3"]) == ("hit", "miss")  # categories untouched
    untouched = await run(engine, flow, "5")
    assert (untouched["node_2"], untouched["node_3"]) == ("hit", "hit")
    assert await events.emit("2", "no.such.event") == []


@ENGINE_CONFIGS
async def test_ai_response_never_hits_even_when_forced_in_code(
    make_cache: MakeCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.engine import plan
    from runtime.flow.model import CacheStrategy

    forced = CacheStrategy(enabled=True, ttl=60)
    monkeypatch.setattr(plan, "_effective_cache", lambda flow, spec, node_type: forced)
    engine, flow = Engine(cache=make_cache()), pallet_flow()
    outcomes = [await run(engine, flow, "2") for _ in range(3)]
    assert all(o["node_6"] != "hit" for o in outcomes)
    assert outcomes[-1]["node_3"] == "hit"


@ENGINE_CONFIGS
async def test_warm_up_fills_the_cacheable_nodes_and_never_calls_the_model(make_cache: MakeCache) -> None:
    cache, flow = make_cache(), pallet_flow()
    results: list[Any] = []

    class Recording(Engine):
        async def run(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            result = await super().run(*args, **kwargs)
            results.append(result)
            return result

    progress: list[tuple[int, int]] = []
    report = await warm_up([flow], cache, engine_factory=lambda c: Recording(cache=c), default_tenant="2",
                           on_progress=lambda done, total, label: progress.append((done, total)))
    assert (report.runs, report.failed, report.flows) == (2, 0, 1)
    assert progress == [(1, 2), (2, 2)]
    assert all(r.nodes["node_6"].status == "skipped" and not r.answer for r in results)
    warmed = await run(Engine(cache=cache), flow, "2", user_message="Transpalet arıyorum")
    assert (warmed["node_2"], warmed["node_3"]) == ("hit", "hit")


async def test_warm_up_reports_bad_inputs_and_failing_runs() -> None:
    flow = pallet_flow()

    class Failing:
        calls = 0

        async def run(self, flow: Any, inputs: dict[str, Any], warmup: bool = False) -> None:
            assert warmup
            Failing.calls += 1
            raise RuntimeError("catalogue down")

    report = await warm_up([flow], None, engine_factory=lambda cache: Failing())
    assert (report.runs, report.failed) == (0, 2) and "no tenant_id" in report.errors[0]
    report = await warm_up([flow], None, engine_factory=lambda cache: Failing(), default_tenant="2")
    assert (report.runs, report.failed, Failing.calls) == (0, 2, 2) and "catalogue down" in report.errors[0]


async def test_warmup_scheduler_repeats_and_stops() -> None:
    flow = pallet_flow()
    seen: list[dict[str, Any]] = []

    class Counting:
        async def run(self, flow: Any, inputs: dict[str, Any], warmup: bool = False) -> None:
            seen.append(inputs)

    async def flows() -> list[Any]:
        return [flow]

    scheduler = WarmupScheduler(0.05, flows, engine_factory=lambda cache: Counting(), default_tenant="2")
    assert scheduler.start() and not scheduler.start()
    while scheduler.rounds < 3:  # noqa: ASYNC110 - the scheduler has no event to wait on, only its counter
        await asyncio.sleep(0.01)
    await scheduler.stop()
    assert not scheduler.running and scheduler.last_report is not None and scheduler.last_report.runs == 2
    assert {s["user_message"] for s in seen} == {i["user_message"] for i in flow.settings.warmup_inputs}
    assert all(s["tenant_id"] == "2" for s in seen)
    assert not WarmupScheduler(0, flows).start()  # the off switch


def test_the_example_flow_has_what_these_tests_rely_on() -> None:
    data = json.loads(PALLET.read_text(encoding="utf-8"))
    assert data["cache_strategy"]["product_search"]["tags"] == ["products"]
    assert len(data["settings"]["warmup_inputs"]) == 2
