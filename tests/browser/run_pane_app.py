"""A small app with the run pane beside a canvas, and the dashboard, on a private database.

Used in-process by the ``User`` tests (``make_context`` + the page builders) and as a
subprocess by the browser tests: ``python tests/browser/run_pane_app.py --port 8765 --data DIR``.
Pages: ``/test/run/{flow}`` (flows below) and ``/dashboard``. ``/test/state/{flow}`` returns the
flow as the page holds it (after an Apply).
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nicegui import app, ui  # noqa: E402

from editor.canvas import FlowCanvas  # noqa: E402
from editor.context import AkisContext, create_context  # noqa: E402
from editor.run_pane import RunPane  # noqa: E402
from runtime.flow.loader import load_flow  # noqa: E402
from runtime.flow.model import FlowDocument  # noqa: E402
from runtime.ports import MetricRow  # noqa: E402
from runtime.settings import AkisSettings  # noqa: E402
from storage.repos import metrics, runs  # noqa: E402

CATEGORY = {"user_input": "input", "ai_response": "ai", "output": "output", "save_message": "output",
            "condition": "logic", "template": "logic", "delay": "logic", "http_request": "integration",
            "agent": "ai", "extract": "ai", "subflow": "logic", "iterate": "logic"}


def flows() -> dict[str, dict[str, Any]]:
    """The flows the test page can show, by name."""
    import json

    demo = json.loads((ROOT / "examples" / "pallet_assistant.json").read_text(encoding="utf-8"))
    demo["nodes"][5]["config"].update(provider="mock", provider_options={"delay_ms": 150, "tokens_per_second": 25})
    seed = json.loads((ROOT / "examples" / "seed_scenario.json").read_text(encoding="utf-8"))
    slow = json.loads(json.dumps(demo))
    slow["flow_id"] = "slow-assistant"
    slow["nodes"][5]["config"]["provider_options"] = {
        "delay_ms": 100, "tokens_per_second": 4, "text": " ".join(f"word{i}" for i in range(200))
    }
    broken = json.loads(json.dumps(demo))
    broken["flow_id"] = "broken"
    broken["nodes"] = [n for n in broken["nodes"] if n["type"] != "output"]
    broken["edges"] = [e for e in broken["edges"] if e["target"] != "node_8"]
    quick = json.loads(json.dumps(demo))
    quick["nodes"][5]["config"]["provider_options"] = {"delay_ms": 30, "tokens_per_second": 150}
    keyless = json.loads(json.dumps(quick))  # names a real provider; with no key the mock answers
    keyless["nodes"][5]["config"]["provider"] = "anthropic"
    seed_fast = json.loads(json.dumps(seed))
    for node in seed_fast["nodes"]:
        if node["type"] == "delay":
            node["config"]["ms"] = node["config"]["ms"] / 5
    support = json.loads((ROOT / "examples" / "support_assistant.json").read_text(encoding="utf-8"))
    support["nodes"][3]["config"].update(provider="mock", provider_options={"delay_ms": 30, "tokens_per_second": 150})
    agent = json.loads((ROOT / "examples" / "agent_assistant.json").read_text(encoding="utf-8"))
    for node in agent["nodes"]:  # no key here: the mock's demo agent answers (issue 20)
        if "provider_options" in node.get("config", {}):
            node["config"]["provider_options"] = {"delay_ms": 120, "tokens_per_second": 60}
    return {"demo": demo, "quick": quick, "keyless": keyless, "seed": seed, "seed_fast": seed_fast, "slow": slow,
            "broken": broken, "crafted": crafted_flow(), "chat": chat_flow(), "failing": failing_flow(),
            "support": support,  # cites the seeded support-docs knowledge base (issue 19)
            "agent": agent}


def failing_flow() -> dict[str, Any]:
    """A lookup that fails (a private address is refused), so the run fails at that node."""
    return {
        "akis": 1, "flow_id": "failing", "name": "Failing lookup",
        "nodes": [{"id": "in", "type": "user_input", "label": "Message"},
                  {"id": "quick", "type": "delay", "label": "Quick step", "config": {"ms": 0}},
                  {"id": "call", "type": "http_request", "label": "Stock API",
                   "config": {"url": "http://127.0.0.1:9/stock"}},
                  {"id": "out", "type": "output", "label": "Output"}],
        "edges": [{"source": "in", "target": "quick"}, {"source": "in", "target": "call"},
                  {"source": "quick", "target": "out"}, {"source": "call", "target": "out"}],
    }


def chat_flow() -> dict[str, Any]:
    """A chat turn: history read, answer streamed, the turn saved in the background; the output
    says how many earlier messages the flow saw."""
    edges = [("in", "hist"), ("hist", "ctx"), ("ctx", "ai"), ("ai", "save"), ("ai", "out")]
    return {
        "akis": 1, "flow_id": "chat", "name": "Chat",
        "nodes": [
            {"id": "in", "type": "user_input", "label": "Message"},
            {"id": "hist", "type": "conversation_history", "label": "History", "config": {"limit": 20}},
            {"id": "ctx", "type": "template", "label": "Context",
             "config": {"template": "Turn {{ history | length // 2 + 1 }}: {{ user_message }}"}},
            {"id": "ai", "type": "ai_response", "label": "Answer",
             "config": {"provider": "mock", "include_history": True,
                        "provider_options": {"delay_ms": 10, "tokens_per_second": 300,
                                             "text": "Noted, and I remember what you said."}}},
            {"id": "save", "type": "save_message", "label": "Save"},
            {"id": "out", "type": "output", "label": "Output",
             "config": {"fields": {"answer": "{{ answer }}", "seen": "{{ history | length }}"}}},
        ],
        "edges": [{"source": s, "target": t} for s, t in edges],
    }


def crafted_flow() -> dict[str, Any]:
    """Search waits for category detection but reads nothing it writes (its category is fixed):
    the rewire suggestion. Search has no cache although messages repeat: the add-cache one."""
    edges = [("in", "cat"), ("cat", "search"), ("in", "hist"), ("search", "ctx"), ("hist", "ctx"),
             ("ctx", "ai"), ("ai", "out")]
    return {
        "akis": 1, "flow_id": "crafted", "name": "Crafted for suggestions",
        "nodes": [
            {"id": "in", "type": "user_input", "label": "Message", "ui": {"x": 0, "y": 120}},
            {"id": "cat", "type": "category_detection", "label": "Category", "ui": {"x": 260, "y": 0}},
            {"id": "search", "type": "product_search", "label": "Search", "config": {"category": ""},
             "ui": {"x": 520, "y": 0}},
            {"id": "hist", "type": "conversation_history", "label": "History", "ui": {"x": 260, "y": 240}},
            {"id": "ctx", "type": "template", "label": "Context",
             "config": {"template": "{{ category }}: {{ products | length }} products, {{ history | length }} turns"},
             "ui": {"x": 780, "y": 120}},
            {"id": "ai", "type": "ai_response", "label": "Answer",
             "config": {"provider": "mock", "provider_options": {"delay_ms": 20, "tokens_per_second": 400}},
             "ui": {"x": 1040, "y": 120}},
            {"id": "out", "type": "output", "label": "Output", "ui": {"x": 1300, "y": 120}},
        ],
        "edges": [{"source": s, "target": t} for s, t in edges],
        "cache_strategy": {"ai_response": {"enabled": False}},
    }


CRAFTED_DURATIONS = {"in": 1.0, "cat": 300.0, "search": 400.0, "hist": 20.0, "ctx": 2.0, "ai": 900.0, "out": 1.0}
CRAFTED_TYPES = {"in": "user_input", "cat": "category_detection", "search": "product_search",
                 "hist": "conversation_history", "ctx": "template", "ai": "ai_response", "out": "output"}


def seed_crafted_history(database: Any, count: int = 12) -> None:
    """``count`` earlier runs of the crafted flow; their messages repeat (6 distinct of 12)."""
    now = datetime.now(UTC) - timedelta(minutes=30)
    rows = []
    for i in range(count):
        run_id = f"seeded-{i}"
        started = now + timedelta(seconds=10 * i)
        database.call(runs.record_run, "1", run_id, "crafted", status="succeeded", started_at=started,
                      duration_ms=1600.0, inputs={"user_message": f"question {i % 6}"})
        rows += [MetricRow("1", "crafted", run_id, node, CRAFTED_TYPES[node], ms + i % 3, "off", "succeeded",
                           created_at=started + timedelta(milliseconds=ms)) for node, ms in CRAFTED_DURATIONS.items()]
    database.call(metrics.add_metric_rows, rows)


def seed_dashboard_metrics(database: Any, tenant: str = "1", count: int = 20, *, flow: str = "shop",
                           at: datetime | None = None, prefix: str = "r") -> None:
    """``count`` runs of a three-node flow; every fifth failed; the AI node reports tokens."""
    start = (at or datetime.now(UTC)) - timedelta(minutes=20)
    rows = []
    for i in range(count):
        run_id = f"{prefix}{tenant}-{flow}-{i}"
        started = start + timedelta(seconds=30 * i)
        failed = i % 5 == 4
        database.call(runs.record_run, tenant, run_id, flow, status="failed" if failed else "succeeded",
                      started_at=started, duration_ms=1000.0 + i, first_chunk_ms=300.0 + 10 * i,
                      inputs={"user_message": "hi"}, tokens_in=40, tokens_out=120)
        rows += [
            MetricRow(tenant, flow, run_id, "search", "product_search", 200.0 + i, "hit" if i % 2 else "miss",
                      "succeeded", created_at=started + timedelta(milliseconds=200)),
            MetricRow(tenant, flow, run_id, "answer", "ai_response", 700.0 + 5 * i, "off",
                      "failed" if failed else "succeeded", 40, 120, created_at=started + timedelta(milliseconds=900)),
            MetricRow(tenant, flow, run_id, "ctx", "template", 2.0, "off", "succeeded",
                      created_at=started + timedelta(milliseconds=210)),
        ]
    database.call(metrics.add_metric_rows, rows)


def to_canvas(document: FlowDocument) -> tuple[list[dict], list[dict], list[dict]]:
    """The minimum the canvas needs (the editor's own converter adds badges and problems)."""
    nodes = [{"id": n.id, "type": n.type, "label": n.label or n.id,
              "position": {"x": (n.ui or {}).get("x", 0), "y": (n.ui or {}).get("y", 0)},
              "data": {"category": CATEGORY.get(n.type, "data")}} for n in document.nodes]
    edges = [{"source": e.source, "target": e.target, "sourceHandle": e.branch} for e in document.edges]
    groups = [{"id": g.id, "label": g.label or g.id, "nodes": g.nodes, "join_at": g.join_at}
              for g in document.parallel_groups]
    return nodes, edges, groups


def make_context(data_dir: Path) -> AkisContext:
    settings = AkisSettings(_env_file=None, database_url=f"sqlite:///{data_dir / 'akis.db'}",  # type: ignore[call-arg]
                            data_dir=data_dir / ".akis", warmup_interval_s=0, plugins_dir=ROOT / "plugins")
    return create_context(settings)


PAGES: dict[str, dict[str, Any]] = {}  # flow name -> {"document", "pane", "canvas"} of the last page built


def run_pane_page(context: AkisContext, name: str, *, with_canvas: bool = True) -> RunPane:
    """Canvas on the left, run pane on the right; Apply replaces the page's flow and redraws."""
    holder: dict[str, Any] = {"document": load_flow(flows()[name])}
    PAGES[name] = holder

    def apply(document: FlowDocument) -> None:
        holder["document"] = document
        holder["applied"] = holder.get("applied", 0) + 1
        if holder.get("canvas") is not None:
            holder["canvas"].set_graph(*to_canvas(document))

    ui.query(".nicegui-content").classes("p-0 gap-0")
    with ui.row().classes("w-full no-wrap gap-0").style("height: 100vh"):
        canvas = None
        if with_canvas:
            canvas = FlowCanvas(*to_canvas(holder["document"])).classes("col").style("height: 100vh; min-width: 0")
            canvas.mark("canvas")
        holder["canvas"] = canvas
        with ui.column().classes("gap-0").style("width: 420px; flex: none; height: 100vh; overflow-y: auto"):
            pane = RunPane(context, lambda: holder["document"], canvas, "1", on_apply=apply)
    holder["pane"] = pane
    return pane


def register(context: AkisContext) -> None:
    from editor.pages import dashboard

    @ui.page("/test/run/{name}")
    def page(name: str) -> None:
        run_pane_page(context, name)

    @app.get("/test/state/{name}")
    def state(name: str) -> dict[str, Any]:
        holder = PAGES.get(name) or {}
        document = holder.get("document")
        return {"applied": holder.get("applied", 0), "document": document.dump() if document else None}

    dashboard.register(context)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    os.chdir(args.data)
    context = make_context(args.data)
    register(context)
    app.on_startup(context.startup)
    app.on_shutdown(context.shutdown)
    ui.run(host="127.0.0.1", port=args.port, reload=False, show=False, title="Akis run pane test",
           storage_secret="test-only", reconnect_timeout=30)


if __name__ in {"__main__", "__mp_main__"}:
    main()
