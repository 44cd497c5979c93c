"""``/dashboard``: where the time goes across runs, from SQL aggregates (Plotly charts).

Filters: flow, node type and time range, for the signed-in user's tenant (taken from the session,
never from the page); while no editor user exists, a tenant picker over every tenant (one
person's install). While "Live" is on it checks every few seconds whether anything was written and
then re-reads the aggregates; no metric row is ever loaded into Python (bench/bench_dashboard.py
measures it at a million rows).
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from nicegui import ui

from editor.auth import current_identity, watch_page
from editor.charts import (
    cache_keys_figure,
    cache_types_figure,
    durations_figure,
    first_chunk_figure,
    percentiles_figure,
    runs_figure,
    tokens_figure,
)
from editor.charts.style import fmt_ms
from editor.context import AkisContext
from editor.pages.dashboard_keys import top_cache_keys
from editor.pages.dashboard_suggestions import DashboardSuggestions
from editor.pages.slowest_runs import SlowestRuns
from editor.services.errors import DATABASE_ERRORS
from editor.theme import apply_theme, header
from storage.repos import dashboard as repo
from storage.repos.dashboard import DashboardData, Filters
from storage.repos.dashboard_keys import oldest_run
from storage.repos.node_names import node_labels
from storage.repos.tenants import list_tenant_ids
from storage.types import utcnow

log = logging.getLogger("akis.dashboard")
RANGES: dict[str, timedelta] = {"15 min": timedelta(minutes=15), "1 hour": timedelta(hours=1),
                                "6 hours": timedelta(hours=6), "24 hours": timedelta(hours=24),
                                "7 days": timedelta(days=7), "30 days": timedelta(days=30)}
ALL = ""
REFRESH_S = 5.0
FULL_REFRESH_S = 60.0


def register(context: AkisContext) -> None:
    @ui.page("/dashboard", title="Akis · Dashboard")
    async def dashboard_page() -> None:
        identity = current_identity()
        watch_page()
        header(apply_theme(), active="Dashboard")
        view = DashboardView(context, identity.tenant_id, pick_tenant=identity.single_user)
        await view.refresh()


class DashboardView(ui.column):
    """``tenant_id`` is the tenant shown; ``pick_tenant`` (no editor users) offers every tenant.
    Without it the tenant is fixed: no element of the page holds it."""

    def __init__(self, context: AkisContext, tenant_id: str, *, pick_tenant: bool = False) -> None:
        super().__init__()
        self.context = context
        self.tenant_id = tenant_id
        self.tenant: ui.select | None = None
        self.classes("w-full gap-3 q-pa-md").props("data-testid=dashboard").mark("dashboard")
        self.data: DashboardData | None = None
        self._figures: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()
        self._marker: tuple[Any, ...] | None = None
        self._refreshed_at = 0.0
        self._took = 0.0
        self._options_key: tuple[Any, ...] | None = None
        self._options_at = 0.0
        self._flows: list[str] = []
        self._types: list[str] = []
        self._range_fitted = False  # the default range is fitted to the data once, until the person picks one
        self._auto_range: str | None = None  # a range the page set itself, until its change event arrives
        with self:
            with ui.row().classes("w-full items-end gap-3"):
                ui.label("Performance").classes("text-h6 q-mr-md")
                if pick_tenant:
                    tenants = self._tenants(tenant_id)
                    self.tenant = ui.select(tenants, value=tenant_id, label="Tenant", on_change=self.refresh).props(
                        "outlined dense options-dense data-testid=dash-tenant").classes("w-28").mark("dash-tenant")
                    if len(tenants) <= 1:
                        self.tenant.props("readonly")
                else:
                    ui.label(f"Tenant {tenant_id}").classes("text-body2 text-grey-8").props(
                        "data-testid=dash-tenant").mark("dash-tenant")
                self.flow = ui.select({ALL: "All flows"}, value=ALL, label="Flow", on_change=self.refresh).props(
                    "outlined dense options-dense data-testid=dash-flow").classes("w-48").mark("dash-flow")
                self.node_type = ui.select({ALL: "All node types"}, value=ALL, label="Node type",
                                           on_change=self.refresh).props(
                    "outlined dense options-dense data-testid=dash-node-type").classes("w-48").mark("dash-node-type")
                self.range = ui.select(list(RANGES), value="24 hours", label="Range",
                                       on_change=self._range_picked).props(
                    "outlined dense options-dense data-testid=dash-range").classes("w-32").mark("dash-range")
                self.live = ui.switch("Live", value=True).props("data-testid=dash-live").mark("dash-live")
                ui.button(icon="refresh", on_click=self.refresh).props("flat round dense").tooltip("Refresh now")
                ui.space()
                self.updated = ui.label("").classes("text-caption text-grey-7").mark("dash-updated")
            self.kpis = ui.row().classes("w-full gap-3")
            with ui.grid(columns="repeat(auto-fit, minmax(440px, 1fr))").classes("w-full gap-3"):
                self.plots = {name: self._chart(name) for name in (
                    "by_type", "by_node", "durations", "runs", "cache_types", "cache_keys", "first_chunk", "tokens")}
            self.suggestions = DashboardSuggestions(context)
            self.slowest = SlowestRuns(context.settings)
        self.timer = ui.timer(REFRESH_S, self._tick)

    def _chart(self, name: str) -> ui.plotly:
        with ui.card().classes("w-full q-pa-sm").props("flat bordered"):
            plot = ui.plotly({"data": [], "layout": {"height": 240}}).classes("w-full").props(
                f"data-testid=chart-{name}").mark(f"chart-{name}")
        return plot

    def _tenants(self, tenant_id: str) -> list[str]:
        """Every tenant (only offered while there are no editor users: one person's install)."""
        try:
            return sorted(set(self.context.database.call(list_tenant_ids)) | {tenant_id})
        except DATABASE_ERRORS:  # the page still shows the user's own tenant
            return [tenant_id]

    def current_tenant(self) -> str:
        """The tenant shown: fixed from the session, or the picker's while there are no users."""
        return str(self.tenant.value) if self.tenant is not None else self.tenant_id

    async def _range_picked(self) -> None:
        if self._auto_range is not None and self.range.value == self._auto_range:
            self._auto_range = None  # the page's own fitting, reported back: already being shown
            return
        self._auto_range = None
        self._range_fitted = True  # the person's choice stays
        await self.refresh()

    async def _fit_range(self) -> None:
        """The smallest range holding every run of the last 30 days, so the data fills the charts."""
        self._range_fitted = True
        oldest = await self.context.database.run(oldest_run, self.current_tenant())
        if oldest is None:
            return
        age = utcnow() - (oldest if oldest.tzinfo else oldest.replace(tzinfo=utcnow().tzinfo))
        fitting = next((name for name, span in RANGES.items() if span >= age * 1.05), list(RANGES)[-1])
        if fitting != self.range.value:
            self._auto_range = fitting
            self.range.set_value(fitting)

    def filters(self) -> Filters:
        until = utcnow()
        return Filters(self.current_tenant(), flow_id=self.flow.value or None, node_type=self.node_type.value or None,
                       since=until - RANGES[self.range.value], until=until)

    async def _tick(self) -> None:
        """Live: re-read only when a run or metric row was written since (a cheap index lookup),
        never more often than three times what the last refresh took, and at least every minute
        (the range slides)."""
        if not self.live.value or self.is_deleted or self._lock.locked():
            return
        now = time.monotonic()
        if now - self._refreshed_at < max(REFRESH_S, 3 * self._took):
            return
        try:
            marker = await self.context.database.run(repo.activity_marker, self.current_tenant())
        except DATABASE_ERRORS as exc:
            self.updated.set_text(f"Could not read the metrics: {exc}")
            return
        if marker == self._marker and now - self._refreshed_at < FULL_REFRESH_S:
            return
        self._marker = marker
        await self.refresh()

    async def refresh(self) -> None:
        """Re-read every aggregate; one refresh at a time (filter changes and the timer queue up)."""
        async with self._lock:
            if not self.is_deleted:
                started = time.monotonic()
                await self._refresh()
                self._refreshed_at = time.monotonic()
                self._took = self._refreshed_at - started

    async def _refresh(self) -> None:
        try:
            if not self._range_fitted:
                await self._fit_range()
        except DATABASE_ERRORS as exc:  # the default range stays
            log.warning("dashboard range not fitted: %s", exc)
        f = self.filters()
        try:
            data = await self.context.database.run(repo.dashboard_data, f)
            options_key = (f.tenant_id, self.range.value, f.flow_id)
            if options_key != self._options_key or time.monotonic() - self._options_at > FULL_REFRESH_S:
                self._flows = await self.context.database.run(repo.metric_flows, f)
                self._types = await self.context.database.run(repo.metric_node_types, f)
                self._options_key, self._options_at = options_key, time.monotonic()
            flows, types = self._flows, self._types
            keys = await top_cache_keys(self.context, f)
            labels = await self.context.database.run(
                node_labels, f.tenant_id, {r.flow_id for r in data.by_node if r.flow_id})
        except Exception as exc:  # noqa: BLE001 - the database or cache away: shown, the next tick retries
            log.warning("dashboard refresh failed: %s", exc)
            self.updated.set_text(f"Could not read the metrics: {exc}")
            return
        if self.is_deleted:
            return
        self.data = data
        self._options(self.flow, {ALL: "All flows", **{v: v for v in flows}})
        self._options(self.node_type, {ALL: "All node types", **{v: v for v in types}})
        self._show("by_type", percentiles_figure(data.by_type, by="node_type"))
        self._show("by_node", percentiles_figure(data.by_node, by="node_id", names=labels))
        window = f.window()
        self._show("durations", durations_figure(data.durations, window=window))
        self._show("runs", runs_figure(data.runs, bucket_s=data.run_bucket_s, window=window))
        self._show("cache_types", cache_types_figure(data.cache_types))
        self._show("cache_keys", cache_keys_figure(keys.counts, about=keys.about))
        self._show("first_chunk", first_chunk_figure(data.first_chunk_width, data.first_chunk,
                                                     p50=data.first_chunk_p50, p95=data.first_chunk_p95))
        self._show("tokens", tokens_figure(data.tokens, bucket_s=data.bucket_s, window=window))
        self._kpis(data)
        self.slowest.show(data.slowest)
        busiest = list(dict.fromkeys(r.flow_id for r in data.by_node if r.flow_id))
        await self.suggestions.show(f.tenant_id, [f.flow_id] if f.flow_id else busiest)
        self.updated.set_text(f"Updated {utcnow():%H:%M:%S} UTC" + (" · live" if self.live.value else ""))

    def _show(self, name: str, figure: dict[str, Any]) -> None:
        if self._figures.get(name) == figure:
            return  # unchanged: nothing to send
        self._figures[name] = figure
        self.plots[name].update_figure(figure)

    @staticmethod
    def _options(select: ui.select, options: dict[str, str]) -> None:
        if select.value not in options:
            options[select.value] = str(select.value)
        if select.options != options:
            select.set_options(options, value=select.value)

    def _kpis(self, data: DashboardData) -> None:
        totals = data.totals
        lookups = sum(c["total"] for c in data.cache_types.values())
        hits = sum(c["hits"] for c in data.cache_types.values())
        tokens = sum(i + o for _, i, o in data.tokens)
        items = [
            ("Runs", f"{totals.runs}", "play_circle"),
            ("Error rate", f"{totals.error_rate:.1f}%", "error_outline"),
            ("First chunk p50", fmt_ms(data.first_chunk_p50), "bolt"),
            ("First chunk p95", fmt_ms(data.first_chunk_p95), "speed"),
            ("Cache hit rate", f"{100 * hits / lookups:.1f}%" if lookups else "-", "cached"),
            ("Tokens", f"{tokens:,}", "token"),
        ]
        if items == getattr(self, "_kpi_items", None):
            return
        self._kpi_items = items
        self.kpis.clear()
        with self.kpis:
            for name, value, icon in items:
                with (ui.card().classes("q-pa-sm").props("flat bordered").style("min-width: 150px"),
                      ui.row().classes("items-center no-wrap gap-2")):
                    ui.icon(icon, size="22px").classes("text-primary")
                    with ui.column().classes("gap-0"):
                        ui.label(name).classes("text-caption text-grey-7")
                        ui.label(value).classes("text-subtitle1 text-weight-medium").mark(
                            f"kpi-{name.lower().replace(' ', '-')}")
