"""Which tier answered: lookups counted by tier and node type (hits where it answered, misses
in the tiers asked before it), and the tier named on the cached node's span."""
from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime import Engine

from .conftest import CONFIGS, MakeCache
from .flows import pallet_flow
from .test_contract import Upstream, policy

LAYERED = pytest.mark.parametrize("make_cache", [c for c in CONFIGS if c.startswith("memory+")], indirect=True)


@LAYERED
async def test_lookups_are_counted_by_the_tier_that_answered(make_cache: MakeCache) -> None:
    first, second = make_cache(), make_cache()  # two processes: their own memory, the shared tiers
    shared = first.tier_names[1]
    upstream = Upstream()
    await first.get_or_compute(2, "product_search", policy(), upstream())  # computed: every tier missed
    assert first.tier_counts == {("product_search", name, "miss"): 1 for name in first.tier_names}
    await first.get_or_compute(2, "product_search", policy(), upstream())  # its memory has it
    assert first.tier_counts[("product_search", "memory", "hit")] == 1
    await second.get_or_compute(2, "product_search", policy(), upstream())  # memory misses, the shared tier has it
    assert second.tier_counts == {("product_search", "memory", "miss"): 1, ("product_search", shared, "hit"): 1}
    await second.get_or_compute(2, "product_search", policy(), upstream())  # filled into its memory
    assert second.tier_counts[("product_search", "memory", "hit")] == 1
    assert upstream.calls == 1


@pytest.mark.parametrize("make_cache", ["memory"], indirect=True)
async def test_a_cached_nodes_span_names_the_tier(make_cache: MakeCache, spans: InMemorySpanExporter) -> None:
    engine, flow = Engine(cache=make_cache()), pallet_flow()
    inputs = {"user_message": "Transpalet arıyorum", "session_id": "abc123", "tenant_id": "2"}
    for _ in range(2):
        assert (await engine.run(flow, inputs)).status == "succeeded"
    cached = [s for s in spans.get_finished_spans() if s.attributes and s.attributes.get("akis.node.id") == "node_2"]
    assert [s.attributes["akis.cache.outcome"] for s in cached] == ["miss", "hit"]  # type: ignore[index]
    assert "akis.cache.tier" not in cached[0].attributes  # type: ignore[operator]
    assert cached[1].attributes["akis.cache.tier"] == "memory"  # type: ignore[index]
