"""``/flows/{flow_id}?run={run_id}``: the flow editor opened on one stored run, its History entry
(timeline, each node's inputs and outputs, output) open in the run pane. A page that points a
person at a run (an evaluation's case) links here, not to the JSON API, which needs a token.

The run is read for the signed-in user's tenant only: another tenant's run id, an unknown one or a
run of another flow opens the editor with a notice and nothing of the run.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from nicegui import ui

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, ServiceError
from storage.models import Run

if TYPE_CHECKING:  # the results page links here without loading the run pane
    from editor.run_pane import RunPane


def run_url(flow_id: str, run_id: str) -> str:
    """Where a person reads run ``run_id`` of ``flow_id`` in the editor."""
    return f"/flows/{quote(flow_id, safe='')}?{urlencode({'run': run_id})}"


@dataclass
class LinkedRun:
    """What the link found: the run to open, or the notice saying why not (``elsewhere``: the run
    belongs to another of the tenant's flows, opened by its own link)."""

    run: Run | None = None
    notice: str | None = None
    elsewhere: str | None = None


async def linked_run(context: AkisContext, tenant: str, flow_id: str, run_id: str) -> LinkedRun:
    """The run to open (the same words for another tenant's run and a missing one)."""
    try:
        run = await context.runs.stored(tenant, run_id)
    except ServiceError:
        return LinkedRun(notice=f"There is no run {run_id!r} of this flow.")
    except DATABASE_ERRORS as exc:
        return LinkedRun(notice=f"Run {run_id!r} could not be read: {exc}")
    if run.flow_id != flow_id:
        return LinkedRun(notice=f"Run {run_id!r} is a run of flow {run.flow_id!r}, not of this one.",
                         elsewhere=run_url(run.flow_id, run.id))
    return LinkedRun(run=run)


def run_notice(linked: LinkedRun) -> None:
    """The banner saying why the linked run is not shown."""
    with ui.row().classes("w-full items-center no-wrap gap-2 px-4 py-1 bg-amber-100 text-amber-900 text-sm").props(
            "data-testid=run-link-notice") as banner:
        ui.icon("link_off")
        ui.label(linked.notice or "")
        if linked.elsewhere is not None:
            ui.link("Open it in its flow", linked.elsewhere).props("data-testid=run-link-elsewhere")
        ui.space()
        ui.button("Dismiss", on_click=banner.delete).props("flat dense no-caps")


async def show_run(run: Run, open_pane: Callable[[], RunPane | None]) -> None:
    """Open the run pane's History on ``run``: its dialog, as a click on its row opens it."""
    pane = open_pane()
    if pane is None:  # the run pane failed to start; it says so in its tab
        return
    pane.tabs.set_value("history")
    await pane.history.open(run)
