"""Fit and finish of the editor pages with NiceGUI's simulated ``User``: undo after keeping a
restored draft, sticky notes through canvas events, folding panels remembered, import as a copy;
the dashboard's default range, top cache keys, chart legends and suggestions applied in the editor."""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from nicegui import app
from sqlmodel import Session

from editor.charts.dashboard import cache_keys_figure, durations_figure
from editor.charts.style import legend_rows
from editor.pages.panels import STORAGE_KEY
from runtime.ports import CachePolicy, MetricRow
from storage.repos import metrics, runs
from storage.repos.flows import save_flow
from storage.tables.inspection import RunNode
from tests.browser.run_pane_app import seed_dashboard_metrics
from tests.ui.test_editor_pages import DEMO, canvas, fire

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI


async def test_undo_after_keeping_a_restored_draft_goes_back_to_the_saved_version(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    fire(editor_user, "palette_drop", {"type": "template", "x": 0, "y": 600})
    await asyncio.sleep(0.7)  # the draft is kept by a half-second timer
    await editor_user.open(f"/flows/{DEMO}")
    editor_user.by("keep-draft").click()
    assert not editor_user.has("restored-banner") and editor_user.has("unsaved")
    assert editor_user.one("undo").enabled
    fire(editor_user, "shortcut", {"action": "undo"})
    assert len(canvas(editor_user).nodes) == 8 and not editor_user.has("unsaved")
    fire(editor_user, "shortcut", {"action": "redo"})
    assert any(n["id"] == "node_9" for n in canvas(editor_user).nodes)


async def test_sticky_notes_through_canvas_events(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    fire(editor_user, "palette_drop", {"type": "sticky_note", "x": 400, "y": 700})
    (note,) = canvas(editor_user).notes
    assert note["id"] == "note:note_1" and "<h2>Note</h2>" in note["html"]
    fire(editor_user, "note_change", {"id": "note:note_1", "text": "Ask *sales*"})
    fire(editor_user, "note_change", {"id": "note:note_1", "width": 400, "height": 220})
    fire(editor_user, "node_moved", {"moves": [{"id": "note:note_1", "x": 10, "y": 20}], "group": None})
    (note,) = canvas(editor_user).notes
    assert (note["html"], note["width"], note["x"]) == ("<p>Ask <em>sales</em></p>\n", 400, 10)
    fire(editor_user, "selection_change", {"nodes": ["note:note_1"], "edges": []})
    assert editor_user.one("delete").enabled  # a selected note can be deleted from the toolbar
    editor_user.by("save").click()
    await editor_user.until(lambda: not editor_user.has("unsaved"), "the save")
    assert editor_user.stored(DEMO)["notes"] == [{"id": "note_1", "text": "Ask *sales*", "x": 10, "y": 20,
                                                 "width": 400, "height": 220, "color": "yellow"}]
    editor_user.by("delete").click()
    assert canvas(editor_user).notes == []
    fire(editor_user, "shortcut", {"action": "undo"})
    assert len(canvas(editor_user).notes) == 1


async def test_folded_panels_are_remembered_per_browser(editor_user: EditorUI) -> None:
    await editor_user.open(f"/flows/{DEMO}")
    assert editor_user.one("fold-palette").props["data-state"] == "auto"  # the window's width decides
    editor_user.by("fold-close-palette").click()
    editor_user.by("unfold-side").click()
    assert app.storage.user[STORAGE_KEY] == {"palette": "closed", "side": "open"}
    await editor_user.open(f"/flows/{DEMO}")
    assert editor_user.one("fold-palette").props["data-state"] == "closed"
    assert editor_user.one("fold-side").props["data-state"] == "open"


async def test_import_as_a_copy_gets_a_distinct_name(editor_user: EditorUI) -> None:
    await editor_user.open("/")
    text = json.dumps(editor_user.stored(DEMO))
    result = await editor_user.context.flows.import_text("1", text, "copy")
    copy = editor_user.stored(str(result.flow_id))
    assert result.flow_id != DEMO and copy["name"] == "Pallet-jack assistant (copy)"
    again = await editor_user.context.flows.import_text("1", text, "copy")  # a second copy: told apart too
    assert editor_user.stored(str(again.flow_id))["name"] == "Pallet-jack assistant (copy 2)"
    third = await editor_user.context.flows.duplicate("1", DEMO)
    assert editor_user.stored(third)["name"] == "Pallet-jack assistant (copy 3)"


# ---------- the dashboard ----------
SHOP: dict[str, Any] = {"akis": 1, "flow_id": "shop", "name": "Shop assistant", "nodes": [
    {"id": "in", "type": "user_input", "ui": {"x": 0, "y": 0}},
    {"id": "search", "type": "product_search", "label": "Search products", "config": {"query": "{{ user_message }}"},
     "ui": {"x": 300, "y": 0}},
    {"id": "ctx", "type": "template", "label": "Build context", "config": {"template": "{{ products }}"},
     "ui": {"x": 600, "y": 0}},
    {"id": "answer", "type": "ai_response", "label": "Answer", "config": {"prompt": "{{ text }}"},
     "ui": {"x": 900, "y": 0}},
    {"id": "out", "type": "output", "config": {"fields": {"answer": "{{ answer }}"}}, "ui": {"x": 1200, "y": 0}}],
    "edges": [{"source": a, "target": b} for a, b in
              (("in", "search"), ("search", "ctx"), ("ctx", "answer"), ("answer", "out"))]}
SUPPORT = {**SHOP, "flow_id": "support", "name": "Support",
           "cache_strategy": {"product_search": {"ttl": 60, "key_fields": ["query"]}}}


async def looked_up(editor_user: EditorUI, flow: str, query: str, times: int) -> None:
    """``times`` cache lookups of the search node, recorded for ``flow``'s seeded runs."""
    context = editor_user.context

    async def compute() -> dict[str, Any]:
        return {"products": []}

    fields = {"query": query, "limit": 5}
    key_fields = {"query": query} if flow == "support" else fields
    for _ in range(times):
        await context.cache.get_or_compute("1", "product_search", CachePolicy(300, key_fields), compute)
    key = context.cache.key("1", "product_search", key_fields)

    def record(session: Session) -> None:
        for i in range(times):
            session.add(RunNode(run_id=f"r1-{flow}-{i}", node_id="search", tenant_id="1", node_type="product_search",
                                status="succeeded", inputs={}, config=fields, cache="hit" if i else "miss",
                                cache_key=key))
        session.commit()

    context.database.call(record)


def dashboard(editor_user: EditorUI) -> Any:
    (view,) = editor_user.user.find(marker="dashboard").elements  # the page's DashboardView
    return view


async def test_top_cache_keys_name_the_node_and_its_values_and_follow_the_flow_filter(
        editor_user: EditorUI) -> None:
    for flow in (SHOP, SUPPORT):
        editor_user.context.database.call(save_flow, "1", flow, "test seed")
        seed_dashboard_metrics(editor_user.context.database, "1", 5, flow=str(flow["flow_id"]))
    await looked_up(editor_user, "shop", "pallet jack", 3)
    await looked_up(editor_user, "support", "forklift", 2)
    await editor_user.open("/dashboard")
    view = dashboard(editor_user)
    await editor_user.until(lambda: view.data is not None, "the dashboard's first read")
    assert view.range.value == "1 hour", "the default range fits runs of the last 20 minutes"
    table = view.plots["cache_keys"].figure["data"][0]
    nodes, values, totals = table["cells"]["values"][:3]
    assert nodes == ["product_search · Search products (shop)", "product_search · Search products (support)"]
    assert values == ["limit: 5 · query: 'pallet jack'", "query: 'forklift'"] and totals == [3, 2]
    assert table["cells"]["fill"]["color"] == "rgba(0,0,0,0)", "the table takes the page's colours (dark mode)"
    view.flow.set_value("support")
    await view.refresh()
    nodes = view.plots["cache_keys"].figure["data"][0]["cells"]["values"][0]
    assert nodes == ["product_search · Search products (support)"]


def measured(editor_user: EditorUI, flow: str, count: int) -> None:
    """``count`` runs of the shop flow asking the same question: the search takes 300 ms, uncached."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    database, rows = editor_user.context.database, []
    for i in range(count):
        run_id, at = f"m-{flow}-{i}", start + timedelta(seconds=20 * i)
        database.call(runs.record_run, "1", run_id, flow, status="succeeded", started_at=at, duration_ms=1010.0,
                      inputs={"user_message": "pallet jack"})
        for node_id, node_type, ms in (("in", "user_input", 1.0), ("search", "product_search", 300.0 + i),
                                       ("ctx", "template", 2.0), ("answer", "ai_response", 700.0),
                                       ("out", "output", 1.0)):
            rows.append(MetricRow("1", flow, run_id, node_id, node_type, ms, "off", "succeeded", created_at=at))
    database.call(metrics.add_metric_rows, rows)


async def test_dashboard_suggestions_apply_in_the_editor_as_an_undoable_edit(editor_user: EditorUI) -> None:
    editor_user.context.database.call(save_flow, "1", SHOP, "test seed")
    measured(editor_user, "shop", 8)
    await editor_user.open("/dashboard")
    apply = await editor_user.find("dash-apply-add_cache")  # the same question every time: cache the search
    await editor_user.user.should_see("Cache 'Search products' for 5 minutes")
    apply.click()
    await editor_user.until(lambda: editor_user.has("canvas"), "the editor to open")
    await editor_user.user.should_see("Applied from the dashboard")
    search = next(n for n in canvas(editor_user).nodes if n["id"] == "search")
    assert any(b.startswith("cached") for b in search["data"]["badges"]) and editor_user.has("unsaved")
    assert "cache_strategy" not in editor_user.stored("shop")  # the person saves it, not the dashboard
    fire(editor_user, "shortcut", {"action": "undo"})
    search = next(n for n in canvas(editor_user).nodes if n["id"] == "search")
    assert not any(b.startswith("cached") for b in search["data"]["badges"]) and not editor_user.has("unsaved")


def test_a_long_legend_moves_the_plot_down_instead_of_reaching_the_title() -> None:
    now = datetime.now(UTC)
    few = durations_figure([(now, "ai_response", 900.0, 3)])["layout"]
    many = durations_figure([(now, f"plugin_type_{i}", 10.0 * i, 3) for i in range(9)])["layout"]
    assert legend_rows([f"plugin_type_{i}" for i in range(9)]) >= 3
    assert many["margin"]["t"] >= few["margin"]["t"] + 2 * 22 and many["height"] > few["height"]
    assert cache_keys_figure({})["layout"]["annotations"][0]["text"].startswith("No data yet")
