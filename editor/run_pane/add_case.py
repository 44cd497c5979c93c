"""History's "Add to dataset": one click turns a recorded run into an evaluation case (its
message, earlier turns, inputs, and its answer as the expected text) in a dataset of the tenant."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, Conflict, ServiceError
from storage.models import Run

from .marks import tag


async def add_case_menu(context: AkisContext, tenant: Callable[[], str], run: Run) -> ui.button:
    """A button whose menu lists the tenant's datasets (and a new one); picking one adds the case."""
    new_name = f"from {run.flow_id}"[:200]
    try:
        summaries = await context.datasets.summaries(tenant())
    except DATABASE_ERRORS:
        summaries = []  # the menu still offers a new dataset; adding says what is wrong

    async def add(dataset_id: str | None) -> None:
        try:
            if dataset_id is None:  # the new dataset, or the one an earlier click made
                dataset_id = await new_or_made(context, tenant(), new_name)
            row = await context.datasets.case_from_run(tenant(), dataset_id, run.id)
            dataset = await context.datasets.get(tenant(), dataset_id)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative")
            return
        except DATABASE_ERRORS:
            ui.notify("The case was not added: the database did not answer. Try again.", type="negative")
            return
        ui.notify(f"Added case {row.id} to {dataset.name}", type="positive")

    button = tag(ui.button("Add to dataset", icon="playlist_add"), "history-add-case").props("outline no-caps dense")
    with button, ui.menu():
        for s in summaries:
            tag(ui.menu_item(f"{s.dataset.name} ({s.cases})", on_click=lambda d=s.dataset.id: add(d)),
                f"add-case-to-{s.dataset.id}")
        if not any(s.dataset.name == new_name for s in summaries):
            tag(ui.menu_item(f"New dataset '{new_name}'", on_click=lambda: add(None)), "add-case-new")
    return button


async def new_or_made(context: AkisContext, tenant: str, name: str) -> str:
    """The id of the dataset ``name``: made now, or found when it exists already (the menu still
    offers "New dataset" after a first click made it, and two quick clicks race)."""
    try:
        return (await context.datasets.create(tenant, name)).id
    except Conflict:
        return (await context.datasets.get(tenant, name)).id
