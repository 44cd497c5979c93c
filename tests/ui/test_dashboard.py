"""The dashboard page with NiceGUI's simulated ``User``, over metrics seeded with the repositories."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nicegui import background_tasks
from nicegui.testing import User
from nicegui.testing.user_simulation import user_simulation

from editor.pages import dashboard
from editor.pages.dashboard import DashboardView
from runtime.ports import CachePolicy
from tests.browser.run_pane_app import make_context, seed_dashboard_metrics
from tests.processes import slow_but_finished

NOW = datetime.now(UTC)


def seed(context: Any, tenant: str = "1", count: int = 20, **options: Any) -> None:
    seed_dashboard_metrics(context.database, tenant, count, **options)


@asynccontextmanager
async def dashboard_page(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[User, DashboardView, Any]]:
    context = make_context(tmp_path)
    holder: list[DashboardView] = []

    def root() -> None:
        holder.append(DashboardView(context, "1", pick_tenant=True))  # no users: one person's install

    try:
        async with user_simulation(root=root) as user:
            await user.open("/")
            yield user, holder[0], context
            holder[0].timer.cancel()
            pending = [t for t in background_tasks.running_tasks
                       if any(f"DashboardView.{name}" in t.get_name() for name in ("refresh", "_range_picked"))]
            for task in pending:  # refreshes started by filter changes
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await context.metrics.aclose()
    finally:
        context.database.dispose()
    errors = [r for r in caplog.get_records("call")
              if r.levelno >= logging.ERROR and not slow_but_finished(r.getMessage())]
    assert not errors, f"unexpected ERROR logs: {[r.getMessage() for r in errors]}"


def figure(view: DashboardView, name: str) -> dict[str, Any]:
    return view.plots[name].figure


def kpi(user: User, name: str) -> str:
    return user.find(marker=f"kpi-{name}").elements.pop().text


async def test_every_chart_shows_the_seeded_metrics(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with dashboard_page(tmp_path, caplog) as (user, view, context):
        seed(context)
        seed(context, tenant="2", count=3)
        for message in ("pallet jack", "pallet jack", "forklift"):
            async def compute() -> dict[str, Any]:
                return {"products": []}
            await context.cache.get_or_compute("1", "product_search", CachePolicy(300, {"query": message}), compute)
        await view.refresh()
        by_type = figure(view, "by_type")["data"]
        assert by_type[0]["name"] == "p50" and by_type[0]["y"] == ["ai_response", "product_search", "template"]
        assert by_type[0]["x"][0] == pytest.approx(700 + 5 * 9.5, rel=0.015)  # the median of 700, 705, ... 795
        by_node = figure(view, "by_node")["data"][0]["y"]
        assert by_node == ["answer · shop", "search · shop", "ctx · shop"]
        assert {t["name"] for t in figure(view, "durations")["data"]} == {"ai_response", "product_search", "template"}
        rates = figure(view, "cache_types")["data"][0]
        assert rates["x"] == ["product_search"] and rates["y"] == [50.0]
        table = figure(view, "cache_keys")["data"][0]
        assert (
            table["type"] == "table" and table["cells"]["values"][2] == [2, 1] and table["cells"]["values"][3] == [1, 0]
        )
        runs_chart = figure(view, "runs")["data"]
        per_bucket = view.data.run_bucket_s / 60  # the chart shows runs per minute in wider buckets
        assert (sum(runs_chart[0]["y"]) + sum(runs_chart[1]["y"])) * per_bucket == pytest.approx(20, abs=0.05)
        assert sum(runs_chart[1]["y"]) * per_bucket == pytest.approx(4, abs=0.05)
        assert sum(figure(view, "first_chunk")["data"][0]["y"]) == 20
        tokens = figure(view, "tokens")["data"]
        assert sum(tokens[0]["y"]) == 20 * 40 and sum(tokens[1]["y"]) == 20 * 120
        assert kpi(user, "runs") == "20" and kpi(user, "error-rate") == "20.0%"
        assert kpi(user, "cache-hit-rate") == "50.0%" and kpi(user, "tokens") == f"{20 * 160:,}"
        assert float(kpi(user, "first-chunk-p50").removesuffix(" ms")) == pytest.approx(395, rel=0.015)
        assert set(view.tenant.options) == {"1", "2"} and set(view.flow.options) == {"", "shop"}


async def test_filters_narrow_every_chart(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with dashboard_page(tmp_path, caplog) as (user, view, context):
        seed(context)
        seed(context, flow="other", count=5)
        seed(context, count=4, at=NOW - timedelta(days=3), prefix="old")
        seed(context, tenant="2", count=3)
        await view.refresh()
        assert view.range.value == "7 days" and kpi(user, "runs") == "29", "the default range fits the data"
        view.range.set_value("24 hours")
        await view.refresh()
        assert kpi(user, "runs") == "25"
        view.node_type.set_value("template")
        await view.refresh()
        assert figure(view, "by_type")["data"][0]["y"] == ["template"]
        assert figure(view, "cache_types")["data"] == [], "templates are never cached"
        view.node_type.set_value("")
        view.flow.set_value("other")
        await view.refresh()
        assert kpi(user, "runs") == "5" and figure(view, "by_node")["data"][0]["y"][0] == "answer · other"
        view.flow.set_value("")
        view.range.set_value("7 days")
        await view.refresh()
        assert kpi(user, "runs") == "29"
        view.range.set_value("24 hours")
        view.tenant.set_value("2")
        await view.refresh()
        assert kpi(user, "runs") == "3"


async def test_it_refreshes_itself_while_runs_happen(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(dashboard, "REFRESH_S", 0.1)
    async with dashboard_page(tmp_path, caplog) as (user, view, context):
        seed(context, count=5)
        await view.refresh()
        assert kpi(user, "runs") == "5"
        seed(context, count=3, prefix="new")
        for _ in range(100):
            if kpi(user, "runs") == "8":
                break
            await asyncio.sleep(0.05)
        assert kpi(user, "runs") == "8", "the timer re-read the aggregates"
        view.live.set_value(False)
        seed(context, count=2, prefix="later")
        await asyncio.sleep(0.4)
        assert kpi(user, "runs") == "8", "not live: no refresh"


async def test_empty_range_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    async with dashboard_page(tmp_path, caplog) as (user, view, _context):
        await view.refresh()
        for name in ("by_type", "durations", "runs", "first_chunk", "tokens"):
            notes = figure(view, name)["layout"].get("annotations", [])
            assert notes and "No" in notes[0]["text"], name
        assert kpi(user, "runs") == "0" and kpi(user, "first-chunk-p50") == "-"
