"""Optimisation suggestions and the scheduler estimate they rest on (pure: no I/O)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.estimate import estimate
from runtime.flow.loader import load_flow
from runtime.flow.model import FlowDocument
from runtime.flow.validate import validate_flow
from runtime.reads import key_inputs, template_names
from runtime.suggestions import NodeStats, suggest

ROOT = Path(__file__).resolve().parents[2]
SEED = {"node_1": 0, "node_2": 800, "node_3": 600, "node_4": 500, "node_5": 50, "node_6": 525, "node_7": 100,
        "node_8": 1}


def example(name: str) -> FlowDocument:
    return load_flow(ROOT / "examples" / name)


def stats(durations: dict[str, float], count: int = 20, **extra: dict[str, Any]) -> dict[str, NodeStats]:
    return {node: NodeStats(node, "", count, ms, ms * 1.2, **extra.get(node, {})) for node, ms in durations.items()}


def crafted(**changes: Any) -> FlowDocument:
    """Search waits for category detection but its category is fixed: it reads nothing the first writes."""
    edges = [("in", "cat"), ("cat", "search"), ("in", "hist"), ("search", "ctx"), ("hist", "ctx"), ("ctx", "ai"),
             ("ai", "out")]
    doc: dict[str, Any] = {
        "flow_id": "crafted",
        "nodes": [{"id": "in", "type": "user_input", "label": "In"},
                  {"id": "cat", "type": "category_detection", "label": "Category"},
                  {"id": "search", "type": "product_search", "label": "Search", "config": {"category": ""}},
                  {"id": "hist", "type": "conversation_history", "label": "History"},
                  {"id": "ctx", "type": "template", "label": "Context",
                   "config": {"template": "{{ category }} {{ products }} {{ history }}"}},
                  {"id": "ai", "type": "ai_response", "label": "AI"},
                  {"id": "out", "type": "output", "label": "Out"}],
        "edges": [{"source": s, "target": t} for s, t in edges],
    }
    doc.update(changes)
    return load_flow(doc)


CRAFTED = {"in": 1, "cat": 300, "search": 400, "hist": 20, "ctx": 1, "ai": 900, "out": 1}


# --- the estimate ----------------------------------------------------------------------------
def test_the_seed_scenario_estimate_matches_its_critical_path():
    parallel = estimate(example("seed_scenario.json"), SEED)
    assert parallel.total_ms == 800 + 50 + 525 + 1
    assert parallel.critical == ["node_1", "node_2", "node_5", "node_6", "node_8"]
    assert "node_7" not in parallel.end, "the background save does not delay the answer"
    sequential = estimate(example("seed_scenario.json"), SEED, execution="sequential")
    assert sequential.total_ms == sum(SEED.values()) - SEED["node_7"]
    assert sequential.critical == ["node_1", "node_2", "node_3", "node_4", "node_5", "node_6", "node_8"]


def test_an_ai_node_never_runs_beside_another_node():
    doc = load_flow({"flow_id": "x", "nodes": [
        {"id": "in", "type": "user_input"}, {"id": "slow", "type": "delay"}, {"id": "ai", "type": "ai_response"},
        {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "slow"}, {"source": "in", "target": "ai"},
                  {"source": "slow", "target": "out"}, {"source": "ai", "target": "out"}]})
    result = estimate(doc, {"slow": 500, "ai": 300})
    assert result.start["ai"] == 500 and result.total_ms == 800
    assert result.critical == ["in", "slow", "ai", "out"], "the AI node queued behind the slow one"


# --- parallel and rewire ---------------------------------------------------------------------
def test_a_sequential_flow_is_told_to_run_in_parallel():
    doc = example("seed_scenario_sequential.json")
    found = suggest(doc, stats(SEED))
    first = found[0]
    assert first.kind == "parallel" and first.saving_ms == pytest.approx(2476 - 1376)
    assert {"node_3", "node_4"} <= set(first.node_ids)
    changed = first.apply(doc)
    assert changed.settings.execution == "parallel" and doc.settings.execution == "sequential"
    assert changed.dump()["settings"]["execution"] == "parallel", "the export carries the change"


def test_an_edge_that_carries_no_data_is_rewired_into_a_parallel_group():
    doc = crafted()
    found = {s.kind: s for s in suggest(doc, stats(CRAFTED))}
    rewire = found["rewire"]
    assert rewire.node_ids == ("cat", "search") and rewire.saving_ms == pytest.approx(300)
    changed = rewire.apply(doc)
    edges = {(e.source, e.target) for e in changed.edges}
    assert ("cat", "search") not in edges and {("in", "search"), ("cat", "ctx")} <= edges
    assert [g.nodes for g in changed.parallel_groups] == [["cat", "search"]]
    assert validate_flow(changed) == []
    assert estimate(changed, CRAFTED).total_ms == estimate(doc, CRAFTED).total_ms - 300
    assert ("cat", "search") in {(e.source, e.target) for e in doc.edges}, "the original is left alone"


def test_no_rewire_when_the_target_reads_what_the_source_writes():
    doc = crafted()
    doc.node("search").config = {}  # the default category is "{{ category | default(none) }}"
    assert all(s.kind != "rewire" for s in suggest(doc, stats(CRAFTED)))


def test_a_node_waiting_for_a_whole_group_joins_it_and_the_join_moves():
    doc = example("seed_scenario.json")  # the context builder is a delay: it reads none of the lookups
    rewire = next(s for s in suggest(doc, stats(SEED)) if s.kind == "rewire")
    assert rewire.node_ids == ("node_2", "node_3", "node_4", "node_5") and rewire.saving_ms == pytest.approx(50)
    changed = rewire.apply(doc)
    assert validate_flow(changed) == []
    group = changed.parallel_groups[0]
    assert group.nodes == ["node_2", "node_3", "node_4", "node_5"] and group.join_at == "node_6"
    assert {("node_1", "node_5"), ("node_2", "node_6"), ("node_3", "node_6")} <= {(e.source, e.target)
                                                                                   for e in changed.edges}


# --- caches ----------------------------------------------------------------------------------
def test_a_slow_node_whose_inputs_repeat_gets_a_cache():
    doc = crafted()
    found = suggest(doc, stats(CRAFTED, search={"repeat_rate": 0.6}))
    cache = next(s for s in found if s.kind == "add_cache")
    assert cache.node_ids == ("search",) and cache.saving_ms > 0
    changed = cache.apply(doc)
    strategy = changed.cache_strategy["product_search"]
    assert (strategy.enabled, strategy.ttl, strategy.key_fields) == (True, 300, ["query"])
    assert "cache_strategy" in changed.dump()


def test_no_cache_without_repetition_or_measurements():
    doc = crafted()
    assert all(s.kind != "add_cache" for s in suggest(doc, stats(CRAFTED, search={"repeat_rate": 0.05})))
    assert all(s.kind != "add_cache" for s in suggest(doc, stats(CRAFTED, 3, search={"repeat_rate": 0.9})))


def test_two_nodes_of_one_type_get_their_own_cache():
    doc = crafted()
    doc.nodes.append(doc.node("search").model_copy(update={"id": "search2"}))
    cache = next(s for s in suggest(doc, stats(CRAFTED, search={"repeat_rate": 0.6})) if s.kind == "add_cache")
    changed = cache.apply(doc)
    assert "product_search" not in changed.cache_strategy and changed.node("search").cache.ttl == 300


def test_a_cache_that_rarely_hits_and_costs_more_than_it_saves_is_turned_off():
    doc = crafted(cache_strategy={"category_detection": {"enabled": True, "key_fields": ["text"]}})
    cheap = {**CRAFTED, "cat": 3}
    rare = {"hits": 2, "misses": 48, "p50_hit_ms": 2.0, "p50_miss_ms": 5.0}
    off = next(s for s in suggest(doc, stats(cheap, cat=rare)) if s.kind == "low_hit_rate")
    assert off.node_ids == ("cat",) and 0 < off.saving_ms < 5
    assert off.apply(doc).cache_strategy["category_detection"].enabled is False
    pays = {"hits": 2, "misses": 48, "p50_hit_ms": 2.0, "p50_miss_ms": 300.0}
    assert all(s.kind != "low_hit_rate" for s in suggest(doc, stats(CRAFTED, cat=pays))), \
        "a rare hit on a slow lookup still pays"


def test_key_inputs_follow_values_back_to_the_run_inputs():
    doc = example("pallet_assistant.json")
    assert key_inputs(doc, "node_3") == {"user_message"}  # query and the detected category
    assert key_inputs(doc, "node_2") == {"user_message"}
    assert key_inputs(doc, "node_4") is None, "history changes between runs of one input"
    assert key_inputs(doc, "node_6") is None


# --- the critical path -----------------------------------------------------------------------
def test_the_slowest_nodes_on_the_critical_path_are_named():
    doc = crafted()
    found = suggest(doc, stats({**CRAFTED, "cat": 30, "search": 40}))
    critical = [s for s in found if s.kind == "critical"]
    assert [s.node_ids for s in critical] == [("ai",)] and critical[0].saving_ms == pytest.approx(900)
    assert not critical[0].can_apply and found[-1] is critical[0], "notes without a change come last"
    with pytest.raises(ValueError, match="no automatic change"):
        critical[0].apply(doc)


def test_a_non_streaming_answer_on_the_critical_path_is_told_to_stream():
    doc = crafted()
    doc.node("ai").config["stream"] = False
    found = [s for s in suggest(doc, stats({**CRAFTED, "cat": 30, "search": 40})) if s.kind == "critical"]
    assert found[0].title.startswith("Stream") and found[0].apply(doc).node("ai").config["stream"] is True


def test_template_names_are_the_top_level_variables():
    assert template_names(
        {"a": "{{ user_message | upper }}", "b": ["{% for p in products %}{{ p.name }}{% endfor %}"]}
    ) == {"user_message", "products"}
    assert template_names("no template") == set() and template_names("{{ broken") == {"nodes"}


# --- every edit keeps the flow valid ---------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.sampled_from(list(CRAFTED)), st.floats(0, 2000), min_size=len(CRAFTED)),
       st.floats(0, 1), st.integers(0, 60), st.integers(0, 60))
def test_no_suggestion_breaks_a_rule_and_each_saves_time(durations: dict[str, float], repeat: float,
                                                         hits: int, misses: int) -> None:
    doc = crafted(cache_strategy={"category_detection": {"enabled": True}})
    extra = {"search": {"repeat_rate": repeat}, "cat": {"hits": hits, "misses": misses, "p50_hit_ms": 1.0,
                                                        "p50_miss_ms": durations["cat"]}}
    for suggestion in suggest(doc, stats(durations, **extra)):
        assert suggestion.saving_ms > 0, suggestion
        if suggestion.can_apply:
            changed = suggestion.apply(doc)
            assert validate_flow(changed) == [], suggestion.title
            assert json.loads(changed.dump_json()) == changed.dump()
