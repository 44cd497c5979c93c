"""Pages act for the signed-in user's tenant only: a value sent over the page's socket (what a
crafted socket.io message does to a readonly field) shows nothing of another tenant, and a
page whose session is revoked is emptied.

Tenant 2 (alice's) and tenant 3 both have a flow ``shop`` with runs and metrics; the pages are
opened with alice's session cookie. Every element that holds the tenant (the old run pane's
and dashboard's tenant fields, any input or select showing ``2``) gets a crafted
``update:value`` / ``update:model-value`` event with ``3``, as the browser would send it.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_simulation import user_simulation

from editor.auth import pages as auth_pages
from editor.auth import sessions as auth_sessions
from editor.auth.sessions import SESSION_COOKIE, SessionRef
from storage.repos import flows, runs, users
from storage.repos import sessions as sessions_repo
from tests.browser import run_pane_app

MINE, OTHER = "2", "3"
MY_RUNS, OTHER_RUNS = 4, 7


@dataclass
class Signed:
    user: User
    context: Any
    session_id: str

    def elements(self, testid: str) -> list[Any]:
        assert self.user.client is not None
        return [e for e in self.user.client.elements.values() if e.props.get("data-testid") == testid]

    def of_type(self, kind: type) -> list[Any]:
        assert self.user.client is not None
        return [e for e in self.user.client.elements.values() if isinstance(e, kind)]

    async def until(self, condition: Any, what: str, limit_s: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + limit_s
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    def send_tenant_over_the_socket(self, value: str) -> int:
        """Crafted socket messages: ``update:...`` = ``value`` to every element that holds
        the tenant (the tenant fields, any value element showing it). The number of messages."""
        client = self.user.client
        assert client is not None
        targets = {e.id: e for e in self.elements("run-tenant") + self.elements("dash-tenant")}
        targets |= {e.id: e for e in client.elements.values()
                    if isinstance(e, (ui.input, ui.select)) and str(getattr(e, "value", "")) == MINE}
        sent = 0
        for element in targets.values():
            for listener_id, listener in list(element._event_listeners.items()):
                if listener.type.startswith("update:"):  # update:value (input), update:model-value (select)
                    client.handle_event({"id": element.id, "listener_id": listener_id, "args": [json.dumps(value)]})
                    sent += 1
        return sent


@pytest.fixture
async def signed_in(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Signed]:
    from editor import pages
    from editor.context import create_context
    from runtime.settings import AkisSettings

    settings = AkisSettings(database_url=f"sqlite:///{tmp_path / 'akis.db'}", warmup_interval_s=0,
                            plugins_dir=tmp_path / "plugins", data_dir=tmp_path / "data")
    async with user_simulation() as user:
        context = create_context(settings)
        pages.register(context)
        signer = auth_sessions.configure("ui-test-secret", database=context.database)
        shop = {**run_pane_app.flows()["quick"], "flow_id": "shop", "name": "Shop"}
        for tenant, count in ((MINE, MY_RUNS), (OTHER, OTHER_RUNS)):
            context.database.call(flows.save_flow, tenant, shop, "test")
            run_pane_app.seed_dashboard_metrics(context.database, tenant, count, flow="shop")
        context.database.call(users.create_user, MINE, "alice", "alice's password")
        row, secret = context.database.call(sessions_repo.create_session, MINE, "alice")
        user.http_client.cookies.set(SESSION_COOKIE, signer.sign(SessionRef(row.id, secret)))
        try:
            yield Signed(user, context, row.id)
        finally:
            await asyncio.sleep(0.3)
            auth_pages.reset()  # the next test's app must not see alice (users exist)
            context.database.dispose()
    errors = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"unexpected ERROR logs: {errors}"


def other_tenants_run_ids(context: Any) -> set[str]:
    return {r.id for r in context.database.call(runs.list_runs, OTHER, "shop")}


async def test_a_tenant_sent_over_the_socket_shows_nothing_of_the_other_tenant_in_the_run_pane(signed_in: Signed):
    from editor.run_pane import RunPane

    page = signed_in
    await page.user.open("/flows/shop")
    (run_tab,) = page.elements("tab-run")
    run_tab.parent_slot.parent.set_value("run")  # the run pane is built when its tab first opens
    await page.until(lambda: page.of_type(RunPane), "the run pane")
    (pane,) = page.of_type(RunPane)
    assert pane.tenant() == MINE
    page.send_tenant_over_the_socket(OTHER)  # (to nothing now: no element holds the tenant)
    await asyncio.sleep(0.05)
    assert pane.tenant() == MINE, "the run pane's tenant changed with a value sent over the socket"
    await pane.history.refresh()
    shown = {run.id for run in pane.history.runs}
    assert len(shown) == MY_RUNS and not shown & other_tenants_run_ids(page.context)
    assert all(run.tenant_id == MINE for run in pane.history.runs)
    before = other_tenants_run_ids(page.context)
    await pane.run()
    await page.until(lambda: pane.idle.is_set() and pane.live is not None and pane.live.finished, "the run")
    await page.context.recorder.drain(5)
    assert other_tenants_run_ids(page.context) == before, "a run went to the other tenant"
    assert len(page.context.database.call(runs.list_runs, MINE, "shop")) == MY_RUNS + 1
    await pane.history.refresh()
    assert not {run.id for run in pane.history.runs} & before


async def test_a_tenant_sent_over_the_socket_shows_nothing_of_the_other_tenant_on_the_dashboard(signed_in: Signed):
    from editor.pages.dashboard import DashboardView

    page = signed_in
    await page.user.open("/dashboard")
    (view,) = page.of_type(DashboardView)
    await view.refresh()
    assert view.data.totals.runs == MY_RUNS
    page.send_tenant_over_the_socket(OTHER)
    await asyncio.sleep(0.05)
    await view.refresh()
    assert view.filters().tenant_id == MINE
    assert view.data is not None and view.data.totals.runs == MY_RUNS, "the dashboard shows another tenant's runs"
    flows_offered = set(view.flow.options)
    assert flows_offered <= {"", "shop"}


async def test_a_page_whose_session_is_revoked_is_emptied(signed_in: Signed):
    from editor.pages.dashboard import DashboardView

    page = signed_in
    await page.user.open("/dashboard")
    (view,) = page.of_type(DashboardView)
    assert page.context.database.call(sessions_repo.revoke_session, MINE, "alice", page.session_id)
    # another process revoked it: this page sees it within the session check's interval and cache
    await page.until(lambda: view.is_deleted, "the page to be emptied", limit_s=5.0)
    assert page.elements("dash-tenant") == []
