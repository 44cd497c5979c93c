"""The dashboard's slowest runs in headless Chromium, with ``AKIS_TRACE_URL`` set: each trace id is
a link to the tracing UI (new tab, rel=noopener); screenshot in artifacts/run_pane/."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage.repos import runs

from .run_pane_app import seed_dashboard_metrics
from .run_pane_server import RunPaneServer, shot

pytestmark = pytest.mark.browser
PATTERN = "https://jaeger.example.com/trace/{trace_id}"
SLOW = [("support", 8420.0, "failed", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("shop", 5230.0, "succeeded", "0af7651916cd43dd8448eb211c80319c"),
        ("shop", 3975.0, "succeeded", None),  # recorded with tracing off: no trace shown
        ("support", 3010.0, "cancelled", "a3ce929d0e0e47364bf92f3577b34da6")]


@pytest.fixture(scope="module")
def traced_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunPaneServer]:
    app = RunPaneServer(tmp_path_factory.mktemp("trace_links_app"), env={"AKIS_TRACE_URL": PATTERN})
    app.start()
    yield app
    app.stop()


def test_the_slowest_runs_link_their_traces(page: Any, traced_server: RunPaneServer):
    seed_dashboard_metrics(traced_server.database, count=12)
    started = datetime.now(UTC) - timedelta(minutes=8)
    for i, (flow, ms, status, trace_id) in enumerate(SLOW):
        traced_server.database.call(runs.record_run, "1", f"slow-{i}", flow, status=status, duration_ms=ms,
                                    started_at=started + timedelta(seconds=40 * i), trace_id=trace_id)
    page.set_viewport_size({"width": 1440, "height": 1500})
    page.goto(f"{traced_server.url}/dashboard")
    table = page.locator("[data-testid=slowest-runs]")
    table.locator("tbody tr").first.wait_for(timeout=15000)
    assert table.locator("tbody tr").count() == 10, "the ten slowest of 16 runs"
    first = page.locator("[data-testid=slow-trace-slow-0]")
    page.wait_for_function(
        "document.querySelector('[data-testid=slow-trace-slow-0]').getAttribute('href').startsWith('https')")
    assert first.get_attribute("href") == PATTERN.format(trace_id=SLOW[0][3])
    assert first.get_attribute("target") == "_blank" and "noopener" in (first.get_attribute("rel") or "")
    assert first.inner_text() == f"trace {SLOW[0][3][:8]}" and first.get_attribute("title") == SLOW[0][3]
    assert page.locator("[data-testid=slow-trace-slow-2]").count() == 0, "no trace id, nothing shown"
    cells = table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert [c.strip() for c in cells[2:4]] == ["8.42 s", "failed"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("[data-testid=slow-trace-slow-0-copy]")
    page.wait_for_function(f"navigator.clipboard.readText().then(t => t === '{SLOW[0][3]}')", timeout=5000)
    table.scroll_into_view_if_needed()
    shot(page, "dashboard_slowest_runs", "[data-testid=slowest-runs]")
    shot(page, "dashboard_with_slowest_runs")
