"""The versions panel's "Evaluate": run one of the tenant's datasets through a version (with the
current version as the baseline when it is another) and open the results."""
from __future__ import annotations

from nicegui import ui

from editor.context import AkisContext
from editor.services.datasets import DatasetSummary
from editor.services.errors import DATABASE_ERRORS, ServiceError


async def dataset_choices(context: AkisContext, tenant: str) -> list[DatasetSummary]:
    """The datasets an Evaluate menu offers (read once per panel)."""
    try:
        return [s for s in await context.datasets.summaries(tenant) if s.cases]
    except DATABASE_ERRORS:
        return []


def evaluate_button(context: AkisContext, tenant: str, flow_id: str, version: int, current: int | None,
                    datasets: list[DatasetSummary]) -> None:
    """A button whose menu lists the datasets; picking one starts the evaluation and opens it."""

    async def run(dataset_id: str) -> None:
        baseline = current if current is not None and current != version else None
        versions = [baseline, version] if baseline is not None else [version]
        try:
            started = await context.evaluations.start(tenant, dataset_id, flow_id, versions, baseline=baseline)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative", multi_line=True)
            return
        ui.navigate.to(f"/evaluations/{started.id}")

    with ui.button("Evaluate").props(f"flat dense no-caps size=sm data-testid=evaluate-{version}"), ui.menu():
        if not datasets:
            ui.menu_item("No dataset with cases yet: create one on Evaluations",
                         on_click=lambda: ui.navigate.to("/evaluations"))
        for s in datasets:
            ui.menu_item(f"{s.dataset.name} ({s.cases} cases)", on_click=lambda d=s.dataset.id: run(d)).props(
                f"data-testid=evaluate-{version}-{s.dataset.id}")
