"""The dashboard in headless Chromium over seeded metrics; screenshots in artifacts/run_pane/."""
from __future__ import annotations

from typing import Any

import pytest

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
