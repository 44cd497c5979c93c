"""The run pane and its history act for the signed-in user's tenant whatever the page sends.

Alice (tenant 2) opens the flow ``shop``; tenant 3 has the same flow, runs, and a conversation
with a secret in it. Every value element of the run pane and the history (inputs, text areas,
switches, selects, the history's rows and the timeline) gets crafted socket messages naming
tenant 3's things: its id, its run ids, its session, inputs that name ``tenant_id`` 3, as a
changed page would send them. Nothing of tenant 3 shows, no run is made for it, and what runs
is tenant 2's.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from nicegui import ui

from runtime.ports import ChatMessage
from storage.repos import messages, runs
from tests.ui.test_tenant_from_session import (  # noqa: F401 - signed_in: the shared fixture
    MINE,
    MY_RUNS,
    OTHER,
    Signed,
    other_tenants_run_ids,
    signed_in,
)

SECRET = "tenant three's secret question"
THEIR_SESSION = "their-session"


def descendants(root: ui.element) -> list[ui.element]:
    found, todo = [], [root]
    while todo:
        element = todo.pop()
        found.append(element)
        for slot in element.slots.values():
            todo.extend(slot.children)
    return found


def tamper(page: Signed, roots: list[ui.element], values: list[Any]) -> int:
    """Send every value to every value listener (``update:*``) of the elements under ``roots``, as
    crafted socket messages. The number of messages sent."""
    client = page.user.client
    assert client is not None
    sent = 0
    for root in roots:
        for element in descendants(root):
            for listener_id, listener in list(element._event_listeners.items()):
                if listener.type.startswith("update:"):
                    for value in values:
                        client.handle_event({"id": element.id, "listener_id": listener_id,
                                             "args": [json.dumps(value)]})
                        sent += 1
    return sent


async def click_with(page: Signed, element: ui.element, kind: str, value: Any) -> int:
    """A crafted ``kind`` event (a row's click, a chart's click) whose arguments name ``value``."""
    client = page.user.client
    assert client is not None
    sent = 0
    for listener_id, listener in list(element._event_listeners.items()):
        if listener.type == kind:
            client.handle_event({"id": element.id, "listener_id": listener_id, "args": [json.dumps(value)]})
            sent += 1
            await asyncio.sleep(0.1)  # one at a time, as a person clicks
    return sent


def page_text(page: Signed) -> str:
    assert page.user.client is not None
    parts = []
    for element in page.user.client.elements.values():
        for name in ("text", "value", "content"):
            value = getattr(element, name, None)
            if isinstance(value, str):
                parts.append(value)
        parts.append(json.dumps(element.props, default=str))
    return "\n".join(parts)


async def test_no_value_sent_from_the_page_makes_the_run_pane_or_history_act_for_another_tenant(
        signed_in: Signed) -> None:  # noqa: F811 - the fixture imported above
    from editor.run_pane import RunPane

    page = signed_in
    page.context.database.call(messages.save_messages, OTHER, THEIR_SESSION, [ChatMessage("user", SECRET, 0, "r")])
    theirs = sorted(other_tenants_run_ids(page.context))
    await page.user.open("/flows/shop")
    (run_tab,) = page.elements("tab-run")
    run_tab.parent_slot.parent.set_value("run")
    await page.until(lambda: page.of_type(RunPane), "the run pane")
    (pane,) = page.of_type(RunPane)
    await pane.history.refresh()
    crafted = [OTHER, f"tenant.{OTHER}.conversation.{THEIR_SESSION}", THEIR_SESSION, *theirs[:2],
               json.dumps({"tenant_id": OTHER}),  # text, as a page's fields send it, and what they never send:
               True, 3, None, [OTHER], {"tenant_id": OTHER}]

    # 1. inputs that name the other tenant: the run is refused, nothing is recorded anywhere
    assert tamper(page, [pane], crafted) > 20
    pane.session_input.set_value("mine-1")  # (the crafted session, not a valid id, was refused on its own)
    pane.extra_inputs.set_value(json.dumps({"tenant_id": OTHER}))
    await pane.run()
    await page.until(lambda: pane.idle.is_set(), "the refused run")
    assert pane.tenant() == MINE
    assert "Not run" in page_text(page) and f"tenant '{OTHER}'" in page_text(page)
    assert sorted(other_tenants_run_ids(page.context)) == theirs
    assert len(page.context.database.call(runs.list_runs, MINE, "shop")) == MY_RUNS

    # a value no text field sends (true) is read as text, never a crash of the run
    assert tamper(page, [pane.session_input, pane.message], [True]) == 2
    assert pane.session() == "True" and pane.inputs()["user_message"] == "True"

    # 2. the other tenant's session id in the session field: the run is tenant 2's, in a session of
    #    tenant 2 that happens to share the name; the chat shows nothing of tenant 3's conversation
    pane.extra_inputs.set_value("")
    pane.session_input.set_value(THEIR_SESSION)
    pane.chat_switch.set_value(True)
    await pane.run()
    await page.until(lambda: pane.idle.is_set() and pane.live is not None and pane.live.finished, "the run")
    await page.context.recorder.drain(5)
    mine = page.context.database.call(runs.list_runs, MINE, "shop")
    assert len(mine) == MY_RUNS + 1 and mine[0].session_id == THEIR_SESSION and mine[0].tenant_id == MINE
    assert sorted(other_tenants_run_ids(page.context)) == theirs
    assert [m.content for m in page.context.database.call(messages.history, OTHER, THEIR_SESSION, 10)] == [SECRET]

    # 3. the history: its rows and a run's timeline are clicked with the other tenant's ids; it
    #    lists and opens tenant 2's runs only
    await pane.history.refresh()
    clicks = 0
    for row in [e for e in descendants(pane.history) if str(e.props.get("data-testid", "")).startswith("history-run-")]:
        clicks += await click_with(page, row, "click", theirs[0])
    assert clicks == MY_RUNS + 1
    assert pane.history.dialog is not None
    # quick clicks on rows (their opens overlap): one dialog, the last run clicked
    await asyncio.gather(*(pane.history.open(run) for run in [*pane.history.runs[:3], pane.history.runs[0]]))
    assert pane.history.dialog is not None and "history-dialog" in str(pane.history.dialog.props)
    roots: list[ui.element] = [pane.history.dialog]
    assert tamper(page, roots, crafted) > 0  # the inspection and add-case fields of the open run
    for chart in [e for e in descendants(pane.history.dialog) if isinstance(e, ui.plotly)]:
        await click_with(page, chart, "plotly_click", f"answer/{theirs[0]}")
    await asyncio.sleep(0.2)
    await pane.history.refresh()
    shown = {run.id for run in pane.history.runs}
    assert len(shown) == MY_RUNS + 1 and all(run.tenant_id == MINE for run in pane.history.runs)
    text = page_text(page)
    assert SECRET not in text and not any(run_id in text for run_id in theirs)
    assert pane.tenant() == MINE
