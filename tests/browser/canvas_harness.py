"""A page with only the canvas, a palette strip and an event log (browser tests and bench/).

Run: ``python tests/browser/canvas_harness.py --port 8765``, then open ``/`` (the demo
scenario's flow), ``/?n=300`` (n nodes in a grid), ``/?dark=1`` (``2``: the page is dark and the canvas
follows it), ``/?problems=1`` (validation problems drawn) or ``/?reject=1`` (an editor that takes
back every drawn edge and move). It behaves like a minimal editor: a palette drop adds a node, a
delete request removes what was asked, so tests see whole gestures end to end. Every event the
canvas sends is recorded in Python and served as JSON at ``/events``; ``/state`` is what Python
holds.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nicegui import app, ui

from editor.canvas import FlowCanvas
from editor.canvas.flow_canvas import CanvasEventArguments

EVENTS: list[dict[str, Any]] = []
CURRENT: dict[str, FlowCanvas] = {}
PALETTE = [
    ("product_search", "data", "search"),
    ("template", "logic", "description"),
    ("http_request", "integration", "http"),
]


def seed_flow() -> tuple[list[dict], list[dict], list[dict]]:
    """The demo scenario's chatbot: input -> three lookups in parallel -> context -> AI -> save, output."""
    spec = [
        ("node_1", "user_input", "User message", "input", 0, 160, [], {"has_input": False}),
        ("node_2", "category_detection", "Detect category", "logic", 320, 0, ["group:lookups"], {}),
        ("node_3", "product_search", "Search products", "data", 320, 160, ["cached", "group:lookups"], {}),
        ("node_4", "conversation_history", "Conversation history", "data", 320, 320, ["group:lookups"], {}),
        ("node_5", "template", "Build context", "logic", 640, 160, ["join:lookups"], {}),
        ("node_6", "condition", "Needs an answer?", "logic", 940, 160, [], {"branches": ["yes", "no"]}),
        ("node_7", "ai_response", "AI response", "ai", 1240, 80, [], {}),
        ("node_8", "save_message", "Save message", "data", 1540, 0, ["background"], {"has_output": False}),
        ("node_9", "output", "Answer", "output", 1540, 200, [], {"has_output": False}),
    ]
    nodes = [
        {"id": i, "type": t, "label": lab, "position": {"x": x, "y": y}, "data": {"category": c, "badges": b, **extra}}
        for i, t, lab, c, x, y, b, extra in spec
    ]
    pairs = [("node_1", "node_2"), ("node_1", "node_3"), ("node_1", "node_4"), ("node_2", "node_5"),
             ("node_3", "node_5"), ("node_4", "node_5"), ("node_5", "node_6"), ("node_7", "node_8"),
             ("node_7", "node_9")]
    edges = [{"source": s, "target": t} for s, t in pairs]
    edges += [{"source": "node_6", "target": "node_7", "sourceHandle": "yes"},
              {"source": "node_6", "target": "node_9", "sourceHandle": "no"}]
    groups = [{"id": "lookups", "label": "Lookups", "nodes": ["node_2", "node_3", "node_4"], "join_at": "node_5"}]
    return nodes, edges, groups


def grid_flow(n: int) -> tuple[list[dict], list[dict], list[dict]]:
    """n nodes in a roughly square layered grid, each column feeding the next (for scale tests)."""
    rows = max(1, round(math.sqrt(n * 1.2)))
    cats = ["input", "logic", "data", "integration", "ai", "output"]
    nodes, edges = [], []
    for i in range(n):
        col, row = divmod(i, rows)
        nodes.append(
            {
                "id": f"n{i}",
                "type": "delay",
                "label": f"Step {i}",
                "position": {"x": col * 300, "y": row * 130},
                "data": {"category": cats[col % len(cats)], "badges": ["cached"] if i % 7 == 0 else []},
            }
        )
        if col > 0:
            edges.append({"source": f"n{i - rows}", "target": f"n{i}"})
    groups = [{"id": "g1", "label": "Group 1", "nodes": ["n1", "n2"], "join_at": None}] if n > 2 * rows else []
    return nodes, edges, groups


def record(e: CanvasEventArguments) -> None:
    EVENTS.append({"name": e.name, "args": e.args, "t": time.time()})
    log.push(f"{e.name} {e.args}")


log: Any = None


@ui.page("/")
def index(n: int = 0, dark: int = 0, groups: int = 1, problems: int = 0, reject: int = 0) -> None:
    global log
    EVENTS.clear()
    nodes, edges, grps = seed_flow() if n <= 0 else grid_flow(n)
    if problems:
        add_problems(nodes, edges, grps)
    ui.query(".nicegui-content").classes("p-0 gap-0")
    with ui.row().classes("w-full no-wrap gap-0").style("height: 100vh"):
        with ui.column().classes("gap-2 p-3").style("width: 170px; flex: none"):
            ui.label("Palette").classes("text-bold")
            for type_, _cat, icon in PALETTE:
                item = ui.element("div").classes("palette-item px-2 py-1 rounded border cursor-grab").props(
                    f'draggable=true data-type="{type_}"')
                with item:
                    ui.icon(icon).classes("mr-1")
                    ui.label(type_).classes("inline")
                item.on(
                    "dragstart", js_handler=f"(e) => e.dataTransfer.setData('application/akis-node-type', '{type_}')"
                )
        if dark == 2:  # the page is dark and the canvas follows it
            ui.dark_mode(True)
        canvas = FlowCanvas(nodes, edges, grps if groups else [], dark=None if dark == 2 else bool(dark))
        canvas.classes("flex-grow")
        canvas.style("height: 100vh; min-width: 0")
        CURRENT["canvas"] = canvas
        with ui.column().classes("gap-1 p-2").style("width: 260px; flex: none; height: 100vh"):
            with ui.row().classes("gap-1"):
                first = nodes[0]["id"] if nodes else ""
                ui.button("running", on_click=lambda: canvas.update_node(first, status="running")).props(
                    "dense no-caps data-testid=status-running")
                ui.button("done", on_click=lambda: canvas.update_node(first, status="done", duration_ms=812)).props(
                    "dense no-caps data-testid=status-done")
                ui.button(
                    "failed", on_click=lambda: canvas.update_node(first, status="failed", error="HTTP 503")
                ).props("dense no-caps data-testid=status-failed")
                ui.button("group 3", on_click=lambda: group_three(canvas)).props(
                    "dense no-caps data-testid=group-three"
                )
                ui.button("fit", on_click=canvas.fit_view).props("dense no-caps data-testid=fit")
                ui.button("rename", on_click=lambda: canvas.set_nodes(
                    [{**n, "label": "Renamed"} if i == 1 else n for i, n in enumerate(canvas.nodes)])).props(
                    "dense no-caps data-testid=rename")
            ui.input("a text field").props("dense outlined data-testid=text-input").classes("w-full")
            log = ui.log(max_lines=200).classes("w-full text-xs").style("flex: 1")

    for name in ("ready", "node_moved", "connect", "selection_change", "delete_request", "palette_drop", "shortcut",
                 "node_click", "pane_click", "group_click"):
        canvas.on_event(name, record)
    canvas.on_palette_drop(lambda e: add_node(canvas, e.args))
    if reject:  # an editor that refuses every drawn edge and every move: the canvas must follow it
        original = {n["id"]: dict(n["position"]) for n in nodes}
        canvas.on_connect(lambda e: canvas.set_edges([x for x in canvas.edges if x["id"] != e.args["id"]]))
        canvas.on_node_moved(lambda e: canvas.set_nodes(
            [{**n, "position": original[n["id"]]} if n["id"] in original else n for n in canvas.nodes]))
    canvas.on_delete_request(lambda e: delete(canvas, e.args))


def add_problems(nodes: list[dict], edges: list[dict], groups: list[dict]) -> None:
    """What the editor's validation would report, to see it drawn."""
    by_id = {n["id"]: n for n in nodes}
    by_id["node_7"]["data"]["problems"] = ["ai_response may not be cached", "provider 'x' is not configured"]
    by_id["node_7"]["data"]["badges"] = ["cached"]
    edges[-1]["problems"] = ["branch 'no' skips the AI node but its target needs its output"]
    if groups:
        groups[0]["problems"] = ["node_3 depends on node_2: members of a parallel group must be independent"]


def group_three(canvas: FlowCanvas) -> None:
    ids = [n["id"] for n in canvas.nodes[1:4]]
    canvas.set_groups([{"id": "picked", "label": "Picked three", "nodes": ids, "join_at": None,
                        "problems": ["node AI response may not run in a parallel group"]}])


def add_node(canvas: FlowCanvas, args: dict) -> None:
    node_id = f"new_{len(canvas.nodes) + 1}"
    new = {"id": node_id, "type": args["type"], "label": args["type"].replace("_", " ").title(),
           "position": {"x": args["x"] - 116, "y": args["y"] - 30}, "data": {"category": "data"}}
    canvas.set_nodes([*canvas.nodes, new])


def delete(canvas: FlowCanvas, args: dict) -> None:
    gone = set(args.get("nodes", []))
    edges_gone = set(args.get("edges", []))
    canvas.set_graph(
        nodes=[n for n in canvas.nodes if n["id"] not in gone],
        edges=[
            e for e in canvas.edges if e["id"] not in edges_gone and e["source"] not in gone and e["target"] not in gone
        ],
    )


@app.get("/events")
def events() -> list[dict[str, Any]]:
    return EVENTS


@app.get("/state")
def state() -> dict[str, Any]:
    """What Python believes the canvas shows (moves and drawn edges are mirrored into it)."""
    canvas = CURRENT["canvas"]
    return {"nodes": {n["id"]: n["position"] for n in canvas.nodes}, "edges": [e["id"] for e in canvas.edges],
            "selection": canvas.selection, "ready": canvas.is_ready}


@app.get("/bench/update")
async def bench_update(count: int = 20) -> dict[str, Any]:
    """Round trips of update_node (Python -> browser -> Python), in milliseconds."""
    canvas = CURRENT["canvas"]
    node_id = canvas.nodes[len(canvas.nodes) // 2]["id"]
    times = []
    for i in range(count):
        start = time.perf_counter()
        found = await canvas.update_node(node_id, status="running" if i % 2 else "done", duration_ms=i)
        times.append((time.perf_counter() - start) * 1000)
        if not found:
            return {"error": f"node {node_id} not found in the browser"}
    return {"times_ms": times}


@app.get("/bench/roundtrip")
async def bench_roundtrip(count: int = 20) -> dict[str, Any]:
    """Baseline: a bare JavaScript round trip to the same page, in milliseconds."""
    canvas = CURRENT["canvas"]
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await canvas.client.run_javascript("return 1")
        times.append((time.perf_counter() - start) * 1000)
    return {"times_ms": times}


@app.get("/bench/resend")
async def bench_resend(count: int = 5) -> dict[str, Any]:
    """For comparison: a full prop re-send (one label changed) until the browser has painted it."""
    canvas = CURRENT["canvas"]
    times = []
    for i in range(count):
        nodes = [dict(n) for n in canvas.nodes]
        nodes[len(nodes) // 2] = {**nodes[len(nodes) // 2], "label": f"Resent {i}"}
        start = time.perf_counter()
        canvas.set_nodes(nodes)
        await canvas.client.run_javascript(
            "return await new Promise(r => setTimeout(() => requestAnimationFrame(() => r(1)), 0))", timeout=10)
        times.append((time.perf_counter() - start) * 1000)
    return {"times_ms": times}


if __name__ in {"__main__", "__mp_main__"}:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    opts = parser.parse_args()
    ui.run(host="127.0.0.1", port=opts.port, reload=False, show=False, title="Akis canvas harness",
           show_welcome_message=False)
