"""The dashboard in headless Chromium: over seeded metrics (screenshots in artifacts/run_pane/),
and in the real app over runs made through the API, as a person reads it: charts drawn, top cache
keys, a suggestion applied and saved, a long legend clear of the plot (artifacts/browser/)."""
from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

import pytest

from storage.repos.metrics import run_metrics
from storage.repos.tokens import create_token

from .editor_app import EXAMPLE, ROOT, EditorApp
from .run_pane_app import seed_dashboard_metrics
from .run_pane_server import RunPaneServer, shot

pytestmark = pytest.mark.browser
CHARTS = ("by_type", "by_node", "durations", "runs", "cache_types", "first_chunk", "tokens")


def test_the_dashboard_draws_every_chart_for_seeded_metrics(page: Any, server: RunPaneServer):
    seed_dashboard_metrics(server.database, count=30)
    seed_dashboard_metrics(server.database, count=8, flow="support")
    page.set_viewport_size({"width": 1440, "height": 1500})
    page.goto(f"{server.url}/dashboard")
    for name in CHARTS:
        page.wait_for_selector(f"[data-testid=chart-{name}] .main-svg", timeout=15000)
    bars = page.locator("[data-testid=chart-by_type] .bars .point").count()
    assert bars == 6, f"p50 and p95 for three node types, got {bars} bars"
    assert page.locator("[data-testid=chart-durations] .scatterlayer .trace").count() == 3
    assert page.locator("[data-testid=chart-cache_types] .bars .point").count() == 1
    assert page.locator("[data-testid=chart-first_chunk] .bars .point").count() >= 3
    assert page.locator("[data-testid=chart-cache_keys] .main-svg").count() >= 1
    kpis = page.locator("text=Runs").first
    assert kpis.is_visible()
    assert page.get_by_text("38", exact=True).count() >= 1, "38 runs in the range"
    assert page.get_by_text("18.4%", exact=True).count() >= 1, "7 of the 38 runs failed"
    shot(page, "dashboard")
    # narrowing to one flow re-reads the aggregates
    page.click("[data-testid=dash-flow]")
    page.get_by_role("option", name="support").click()
    page.wait_for_function("[...document.querySelectorAll('.q-card .text-subtitle1')].some(e => e.textContent === '8')",
                           timeout=10000)
    shot(page, "dashboard_one_flow")


# ---------- as a person would: runs through the API, then the dashboard of the real app ----------
BROWSER_ARTIFACTS = ROOT / "artifacts" / "browser"
FLOW = "dash-browser"
MESSAGES = ("pallet jack", "forklift", "pallet jack", "pallet jack", "forklift", "scale")  # 3 misses, 3 hits
PLOT_DATA = ("e => e.classList.contains('js-plotly-plot') && e.data"  # points per trace, as Plotly holds them
             " ? e.data.map(t => (t.x || t.y || t.cells?.values?.[0] || []).length) : null")

SHOWN_CELLS = """(e, text) => {  // table cells holding ``text`` whose text ends above the table's bottom edge
    const bottom = e.getBoundingClientRect().top + e._fullLayout._size.t + e._fullLayout._size.h;
    return [...e.querySelectorAll('.cell-text')].filter(t => t.textContent.includes(text))
        .map(t => t.getBoundingClientRect()).filter(b => b.height > 0 && b.bottom <= bottom + 1).length }"""


def dashboard_flow() -> dict[str, Any]:
    """The demo flow (category and product search cached) with a mock answer and an uncached
    80 ms stock check whose input repeats: the add-cache suggestion. Nine node types: a long legend."""
    flow = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    flow.update(flow_id=FLOW, name="Dashboard shop")
    answer = next(n for n in flow["nodes"] if n["type"] == "ai_response")
    answer["config"].update(provider="mock", provider_options={"delay_ms": 20, "tokens_per_second": 400})
    flow["nodes"].append({"id": "stock", "type": "delay", "label": "Check stock", "ui": {"x": 260, "y": 440},
                          "config": {"ms": 80, "output": {"stock": "{{ user_message }}: in stock"}}})
    context = next(n for n in flow["nodes"] if n["id"] == "node_5")
    context["config"]["template"] += "\nStock: {{ stock }}"
    flow["edges"] += [{"source": "node_1", "target": "stock"}, {"source": "stock", "target": "node_5"}]
    flow["parallel_groups"][0]["nodes"].append("stock")
    return flow


def api(app: EditorApp, token: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A call to the app's API as a client would make it, with a token."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(app.url + path, data=data, method="GET" if body is None else "POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        found: dict[str, Any] = json.loads(response.read())
    return found


def recorded(app: EditorApp, run_ids: list[str], timeout: float = 15) -> None:
    """Every run's per-node metrics written (the app's sink flushes about once a second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(any(m.node_id == "stock" for m in app.database.call(run_metrics, "1", r)) for r in run_ids):
            return
        time.sleep(0.2)
    pytest.fail("the runs' metrics were not written in time", pytrace=False)


def boxes(page: Any, selector: str) -> list[dict[str, float]]:
    return [b for b in (e.bounding_box() for e in page.locator(selector).all()) if b is not None]


def box(page: Any, selector: str) -> dict[str, float]:
    found = boxes(page, selector)
    assert found, f"{selector} is not visible"
    return found[0]


def within(inner: dict[str, float], outer: dict[str, float], slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def charts_drawn(page: Any) -> None:
    """Every chart drawn from data (not the "No data yet" note); a legend between its title and
    its plot, touching neither; every bar inside the plot (the newest bucket's was cut off)."""
    for name in CHARTS:
        chart = f"[data-testid=chart-{name}]"
        page.wait_for_selector(f"{chart} .main-svg", timeout=20000)
        page.wait_for_function(f"(document.querySelector('{chart}')?.data || []).length > 0", timeout=15000)
        sizes = page.locator(chart).evaluate(PLOT_DATA)
        assert sizes and sum(sizes) > 0, f"{name}: {sizes}"
        plot, title = box(page, f"{chart} .nsewdrag"), box(page, f"{chart} .gtitle")
        for bar in boxes(page, f"{chart} .bars .point path"):
            assert within(bar, plot), f"{name}: a bar {bar} reaches out of the plot {plot}"
        if page.locator(f"{chart} .legend").count():
            legend = box(page, f"{chart} .legend")
            assert legend["y"] + legend["height"] <= plot["y"] + 1, f"{name}: the legend {legend} covers the plot"
            assert title["y"] + title["height"] <= legend["y"] + 1, f"{name}: the legend {legend} reaches the title"
            texts = boxes(page, f"{chart} .legendtext")
            assert all(a["x"] + a["width"] <= b["x"] or a["y"] + a["height"] <= b["y"]  # no two overlap
                       for i, a in enumerate(texts) for b in texts[i + 1:]), f"{name}: legend entries overlap"


def test_a_person_reads_the_dashboard_of_recorded_runs_and_applies_a_suggestion(
        editor_page: Any, editor_app: EditorApp) -> None:
    editor_app.put_flow(FLOW, dashboard_flow())
    _, token = editor_app.database.call(create_token, "1", "dashboard browser test")
    results = [api(editor_app, token, f"/api/flows/{FLOW}/runs", {"inputs": {"user_message": m}}) for m in MESSAGES]
    assert {r["status"] for r in results} == {"succeeded"}, results
    assert [r["nodes"]["node_3"].get("cache") for r in results] == ["miss", "miss", "hit", "hit", "hit", "miss"]
    recorded(editor_app, [r["run_id"] for r in results])

    page = editor_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{editor_app.url}/dashboard")
    charts_drawn(page)
    durations = "[data-testid=chart-durations]"
    assert page.locator(f"{durations} .scatterlayer .trace").count() == 9
    assert box(page, f"{durations} .legend")["height"] >= 40, "nine node types: the legend wraps"
    p50, p95 = page.locator("[data-testid=chart-first_chunk] .legendtext").all_text_contents()
    assert p50.startswith("p50 ") and p95.startswith("p95 ") and p50.endswith(" ms"), (p50, p95)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440, "the page scrolls sideways"

    # the top cache keys: each cached node and the values it was keyed on, with its lookups and hits
    keys = "[data-testid=chart-cache_keys]"
    page.wait_for_function(f"document.querySelector('{keys}')?.data?.[0]?.type === 'table'")
    nodes, values, totals, hits, _ = page.locator(keys).evaluate("e => e.data[0].cells.values")
    rows = {(n, v): (t, h) for n, v, t, h in zip(nodes, values, totals, hits, strict=True)}
    search, detect = f"product_search · Search products ({FLOW})", f"category_detection · Detect category ({FLOW})"
    assert rows == {
        (search, "query: 'pallet jack' · category: 'pallet_jack'"): (3, 2), (detect, "text: 'pallet jack'"): (3, 2),
        (search, "query: 'forklift' · category: 'forklift'"): (2, 1), (detect, "text: 'forklift'"): (2, 1),
        (search, "query: 'scale' · category: 'general'"): (1, 0), (detect, "text: 'scale'"): (1, 0),
    }, rows
    shown = page.locator(keys).evaluate(SHOWN_CELLS, f"({FLOW})")
    assert shown == 6, f"every key's row in sight, none scrolled away under the table's edge: {shown} of 6"

    suggestion = page.get_by_test_id("dash-suggestion-add_cache")
    suggestion.wait_for(timeout=15000)
    assert "Cache 'Check stock' for 5 minutes" in suggestion.inner_text()
    said = re.search(r"A (\d+) s cache keyed on (.+?) would answer", suggestion.inner_text())
    assert said, suggestion.inner_text()
    BROWSER_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(BROWSER_ARTIFACTS / "dashboard.png"), full_page=True)

    # Apply opens the flow in the editor with the change made; saving it there stores it
    assert "delay" not in api(editor_app, token, f"/api/flows/{FLOW}")["document"]["cache_strategy"]
    page.get_by_test_id("dash-apply-add_cache").click()
    page.wait_for_selector(".akis-canvas[data-ready]", timeout=20000)
    assert "Applied from the dashboard" in page.get_by_test_id("restored-banner").inner_text()
    page.locator('.vue-flow__node[data-id="stock"] .akis-badge--cached').wait_for()
    page.get_by_test_id("save").click()
    page.get_by_test_id("unsaved").wait_for(state="hidden")
    stored = api(editor_app, token, f"/api/flows/{FLOW}")["document"]["cache_strategy"]["delay"]
    assert stored.get("enabled", True) and stored["ttl"] == int(said[1])
    assert ", ".join(stored["key_fields"]) == said[2], (stored, said[2])
