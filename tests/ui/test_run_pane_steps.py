"""Steps in the run pane: an agent's model turns and tool calls, and a sub-flow's inner nodes,
appear as rows right under their node on the timeline (never on the critical path), and in
the CLI's node table."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import plotly.graph_objects as go

from editor.charts import timeline_figure
from editor.run_pane.data import stored_timeline
from editor.run_pane.live import LiveRun
from runtime import Engine, Services, load_flow
from runtime.report import RunReport, node_table
from runtime.services import MemoryFlowSource

FAST = {"delay_ms": 0, "tokens_per_second": 0}


def flow(flow_id: str, *middle: dict[str, object]) -> dict[str, object]:
    nodes = [{"id": "in", "type": "user_input"}, *middle, {"id": "out", "type": "output"}]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"akis": 1, "flow_id": flow_id, "nodes": nodes, "edges": edges}


async def test_agent_and_subflow_steps_are_rows_under_their_node() -> None:
    script = [{"tool_calls": [{"name": "product_search", "arguments": {"query": "forklift"}}]}, {"text": "ok"}]
    inner = flow("inner", {"id": "ag", "type": "agent", "config": {"provider_options": {**FAST, "script": script}}})
    outer = load_flow(flow("outer", {"id": "t", "type": "template", "config": {"template": "x", "output_key": "x"}},
                           {"id": "sub", "type": "subflow", "label": "Ask the agent", "config": {"flow_id": "inner"}}))
    flows = MemoryFlowSource()
    flows.add("1", inner)
    engine = Engine(services=Services(flows=flows))
    live = LiveRun.for_flow(outer, engine.registry, "1")
    report = RunReport()

    def observe(event: object) -> None:
        live.observe(event)  # type: ignore[arg-type]  # an Event
        report.observe(event)  # type: ignore[arg-type]  # an Event

    result = await engine.run(outer, {"user_message": "forklift?"}, on_event=observe)
    assert result.status == "succeeded", result.error
    order = [row.node_id for row in report.ordered()]
    assert order == ["in", "t", "sub", "sub/in", "sub/ag", "sub/ag/model 1", "sub/ag/tool 1", "sub/ag/model 2",
                     "sub/out", "out"]
    bars = live.bars()
    labels = [b.label for b in bars]
    assert "\u21b3 ag/tool 1: product_search" in labels
    assert all(b.parent == "sub" for b in bars if "/" in b.node_id)
    assert not [n for n in live.critical_path() if "/" in n]
    figure = timeline_figure(bars, critical=live.critical_path(), title="Timeline")
    go.Figure(figure["data"], figure["layout"])  # plotly accepts it
    rows = figure["layout"]["yaxis"]["categoryarray"]
    assert rows.index("\u21b3 ag/model 1: calls product_search") == rows.index("Ask the agent") + 3
    assert "sub/ag/tool 1" in node_table(report)


async def test_a_stored_runs_timeline_nests_the_steps(editor_user: Any) -> None:
    context = editor_user.context
    stored = await context.flows.read("1", "agent-assistant")
    document = stored.document.model_copy(deep=True)
    for spec in document.nodes:
        if "provider_options" in spec.config:
            spec.config["provider_options"] = dict(FAST)
    started = datetime.now(UTC)
    result = await context.engine.run(document, {"user_message": "forklift?", "tenant_id": "1"})
    assert result.status == "succeeded", result.error
    await context.metrics.flush()
    timeline = await stored_timeline(context, "1", SimpleNamespace(id=result.run_id, started_at=started), document)
    steps = [b for b in timeline.bars if b.parent is not None]
    assert sorted(b.label for b in steps) == ["\u21b3 model 1", "\u21b3 model 2", "\u21b3 tool 1"]
    assert {b.parent for b in steps} == {"agent"} and not [n for n in timeline.critical if "/" in n]
    rows = timeline_figure(timeline.bars)["layout"]["yaxis"]["categoryarray"]
    assert rows[rows.index("Agent") + 1].startswith("\u21b3 ")


def test_an_iterate_node_gets_no_answer_pane_but_an_agent_does() -> None:
    document = load_flow(flow("outer", {"id": "loop", "type": "iterate", "config": {"flow_id": "each", "items": [1]}},
                              {"id": "ag", "type": "agent"}))
    live = LiveRun.for_flow(document, Engine().registry, "1")
    assert set(live.answers) == {"ag"}
