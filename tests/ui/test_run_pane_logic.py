"""The run pane's logic without a page: events to canvas patches, timelines, the critical path,
the compare variants, and every chart being a figure plotly.js accepts."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import plotly.graph_objects as go
import pytest

from editor.charts import (
    TimelineBar,
    cache_keys_figure,
    cache_types_figure,
    compare_figure,
    durations_figure,
    first_chunk_figure,
    observed_critical_path,
    percentiles_figure,
    runs_figure,
    timeline_figure,
    tokens_figure,
)
from editor.run_pane.compare import variant
from editor.run_pane.live import LiveRun, predecessors
from runtime import Engine, load_flow
from runtime.events import Event
from storage.repos.dashboard import PercentileRow

ROOT = Path(__file__).resolve().parents[2]


def bar(node: str, start: float, duration: float, outcome: str = "done") -> TimelineBar:
    return TimelineBar(node, node, "delay", start, duration, outcome)


def test_the_critical_path_follows_the_latest_predecessor():
    preds = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}
    bars = [bar("a", 0, 10), bar("b", 10, 100), bar("c", 10, 30), bar("d", 110, 5)]
    assert observed_critical_path(bars, preds) == ["a", "b", "d"]


def test_in_sequential_mode_the_path_is_the_queue():
    preds = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}
    bars = [bar("a", 0, 10), bar("b", 10, 100), bar("c", 110, 30), bar("d", 140, 5)]
    assert observed_critical_path(bars, preds) == ["a", "b", "c", "d"], "c waited behind b, not for it"


def test_a_node_started_late_by_a_busy_loop_waited_for_its_predecessor_not_a_sibling():
    # b, c and d all wait for a; d's task ran its first step 8 ms late, after c had already ended
    preds = {"b": ["a"], "c": ["a"], "d": ["a"], "e": ["b", "c", "d"]}
    bars = [bar("a", 0, 1), bar("c", 1.5, 6.5), bar("d", 9, 100), bar("b", 1.2, 50), bar("e", 109, 5)]
    assert observed_critical_path(bars, preds, blockers=frozenset()) == ["a", "d", "e"]
    assert observed_critical_path(bars, preds) == ["a", "c", "d", "e"], "with anything a blocker, it looks queued"


def test_a_node_queues_behind_an_exclusive_one():
    # x is ready at 10 but the AI node ai runs alone until 60: x waited behind ai
    preds = {"ai": ["a"], "x": ["a"], "out": ["ai", "x"]}
    bars = [bar("a", 0, 10), bar("ai", 10, 50), bar("x", 60, 20), bar("out", 80, 1)]
    assert observed_critical_path(bars, preds, blockers=frozenset({"ai"})) == ["a", "ai", "x", "out"]


def test_background_and_skipped_nodes_are_never_on_the_path():
    bars = [bar("a", 0, 10), bar("s", 10, 0, "skipped"), bar("b", 10, 20), bar("bg", 31, 500, "background")]
    assert observed_critical_path(bars, {"b": ["a"], "s": ["a"], "bg": ["b"]}) == ["a", "b"]


async def test_events_become_one_small_patch_per_node_and_answers_grow():
    document = load_flow(ROOT / "examples" / "seed_scenario.json")
    live = LiveRun.for_flow(document, Engine().registry, "1")
    assert set(live.answers) == {"node_6"} and live.background == {"node_7"}
    assert {p["status"] for _, p in live.start_patches()} == {"waiting"}
    document.node("node_6").config["provider_options"].update(delay_ms=0, tokens_per_second=0, chunks=5)
    for node, ms in (("node_2", 8), ("node_3", 1), ("node_4", 1)):
        document.node(node).config["ms"] = ms
    patches = []
    result = await Engine().run(document, {"user_message": "hi"}, on_event=lambda e: patches.extend(live.observe(e)))
    await result.wait_background()
    assert live.finished and live.status == "succeeded"
    answer = live.answers["node_6"]
    assert answer.text == result.answer and answer.chunks == 5 and answer.first_chunk_ms is not None
    by_node: dict[str, list[str]] = {}
    for node, patch in patches:
        assert set(patch) == {"status", "duration_ms", "error"}
        by_node.setdefault(node, []).append(patch["status"])
    assert by_node["node_6"] == ["running", "done"] and by_node["node_7"] == ["done"]
    assert live.critical_path() == ["node_1", "node_2", "node_5", "node_6", "node_8"]


def test_a_stopped_run_marks_what_was_running_and_what_never_ran():
    document = load_flow(ROOT / "examples" / "seed_scenario.json")
    live = LiveRun(document, frozenset({"node_6"}), frozenset({"node_7"}))
    live.observe(Event("node.started", "r", 0.0, node_id="node_1", node_type="user_input"))
    live.observe(Event("node.finished", "r", 1.0, node_id="node_1", duration_ms=1.0, cache="off", status="succeeded"))
    live.observe(Event("node.started", "r", 1.0, node_id="node_2", node_type="delay"))
    patches = dict(live.observe(Event("run.finished", "r", 50.0, status="cancelled", error="the run was cancelled")))
    assert patches["node_2"] == {"status": "skipped", "duration_ms": None, "error": "cancelled: the run was stopped"}
    assert patches["node_8"]["error"] == "not run: the run was stopped" and "node_1" not in patches
    bars = {b.node_id: b for b in live.bars()}
    assert bars["node_2"].outcome == "cancelled" and bars["node_2"].duration_ms == pytest.approx(49.0)


def test_a_cached_node_and_a_continued_failure_look_different():
    document = load_flow(ROOT / "examples" / "pallet_assistant.json")
    live = LiveRun(document)
    [(_, hit)] = live.observe(Event("node.finished", "r", 3.0, node_id="node_3", duration_ms=0.4, cache="hit",
                                    status="succeeded"))
    [(_, failed)] = live.observe(Event("node.failed", "r", 4.0, node_id="node_4", duration_ms=2.0, status="continued",
                                       error="history store down"))
    assert hit["status"] == "cached"
    assert failed["status"] == "continued" and "on_error is 'continue'" in failed["error"]


def test_compare_variants_turn_caches_off_and_set_the_mode():
    document = load_flow(ROOT / "examples" / "pallet_assistant.json")
    document.node("node_3").cache = document.cache_strategy["product_search"]
    sequential = variant(document, "sequential")
    assert sequential.settings.execution == "sequential" and sequential.cache_strategy == {}
    assert all(n.cache is None for n in sequential.nodes)
    assert document.cache_strategy and document.settings.execution == "parallel", "the flow itself is unchanged"
    assert predecessors(document)["node_5"] == ["node_2", "node_3", "node_4"]


def test_every_chart_is_a_figure_plotly_accepts():
    now = datetime.now(UTC)
    bars = [bar("a", 0, 10), bar("b", 10, 100, "cached"), bar("c", 10, 30, "failed")]
    figures = [
        timeline_figure(bars, critical=["a", "b"], first_chunk_ms=40, result_ms=110, title="Timeline"),
        timeline_figure([]),
        compare_figure(bars, bars, sequential_ms=140, parallel_ms=110),
        percentiles_figure([PercentileRow("ai_response", "ai_response", None, 3, 900, 1200, 950, 1300)]),
        percentiles_figure([]),
        durations_figure([(now, "ai_response", 900.0, 3)], window=(now - timedelta(hours=1), now)),
        cache_types_figure({"product_search": {"total": 4, "hits": 3, "rate": 75.0}}),
        cache_keys_figure({"tenant_1_product_search_" + "a" * 40: {"total": 4, "hits": 3, "rate": 75.0}}),
        runs_figure([(now, 10, 1)], bucket_s=60, window=(now - timedelta(hours=1), now)),
        first_chunk_figure(100.0, [(300.0, 4)], p50=320.0, p95=390.0),
        tokens_figure([(now, 300, 120)]),
    ]
    for figure in figures:
        go.Figure(figure)  # raises on anything plotly.js would not understand
        json.dumps(figure, default=str)
    assert "critical path" in {t.get("name") for t in figures[0]["data"]}
    assert figures[1]["layout"]["annotations"][0]["text"] == "No node ran."
