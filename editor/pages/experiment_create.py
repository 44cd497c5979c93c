"""Starting an A/B test from a flow's versions panel: pick two or more versions, name them and set
their weights, choose the metric that decides and the planned runs per variant (issue 17)."""
from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from editor.charts.experiments import METRIC_NAMES
from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, ServiceError
from editor.services.experiments import VariantSpec

DEFAULT_MIN_RUNS = 1000


@dataclass
class Arm:
    name: str
    version: int
    weight: int


async def experiment_bar(context: AkisContext, tenant: str, flow_id: str, versions: list[int], current: int) -> None:
    """A line in the versions panel: the flow's live experiment, or a button to start one."""
    try:
        live = (await context.experiments.running_flows(tenant)).get(flow_id)
    except DATABASE_ERRORS as exc:
        ui.label(f"Experiments cannot be read right now: {exc}").classes("text-xs text-red-600")
        return
    with ui.row().classes("items-center gap-2 w-full").props("data-testid=experiment-bar"):
        ui.icon("science").classes("akis-muted")
        if live is not None:
            ui.label("An A/B test is running on this flow.").classes("text-sm")
            ui.link("Open it", f"/experiments/{live}").props("data-testid=open-experiment")
        elif len(versions) < 2:
            ui.label("Save a second version to A/B test it against this one.").classes("text-sm akis-muted")
        else:
            ui.button("A/B test versions…", on_click=lambda: open_create(context, tenant, flow_id, versions,
                                                                         current)).props(
                "flat dense no-caps data-testid=new-experiment")


def open_create(context: AkisContext, tenant: str, flow_id: str, versions: list[int], current: int) -> None:
    newest = max(versions)
    control = current if current in versions else newest
    challenger = newest if newest != control else max(v for v in versions if v != control)
    arms = [Arm("A", control, 50), Arm("B", challenger, 50)]
    version_options = {v: f"v{v}" + (" (current)" if v == current else "") for v in sorted(versions, reverse=True)}

    with ui.dialog() as dialog, ui.card().classes("w-[640px] max-w-[95vw]").props("data-testid=experiment-dialog"):
        ui.label("New A/B test").classes("text-lg font-semibold")
        ui.label("New conversations are split by the weights; each keeps its variant. The first variant is the "
                 "control.").classes("text-sm akis-muted")
        name = ui.input("Name", value=f"{flow_id}: v{control} vs v{challenger}").props(
            "outlined dense data-testid=experiment-name").classes("w-full")
        rows = ui.column().classes("w-full gap-1")
        total = ui.label().classes("text-sm").props("data-testid=weights-total")

        def show_total() -> None:
            weights = sum(a.weight for a in arms)
            total.text = f"Weights add up to {weights}%" + ("" if weights == 100 else " (they must add up to 100)")
            total.classes(replace="text-sm " + ("" if weights == 100 else "text-red-600"))

        def set_weight(arm: Arm, value: float | None) -> None:
            arm.weight = int(value or 0)
            show_total()

        def remove(index: int) -> None:
            arms.pop(index)
            render()

        def render() -> None:
            rows.clear()
            with rows:
                for index, arm in enumerate(arms):
                    with ui.row().classes("w-full items-center no-wrap gap-2").props(f"data-testid=arm-{index}"):
                        ui.input("Variant", value=arm.name, on_change=lambda e, a=arm: setattr(a, "name", e.value)
                                 ).props(f"outlined dense data-testid=arm-name-{index}").classes("w-32")
                        ui.select(version_options, value=arm.version, label="Version",
                                  on_change=lambda e, a=arm: setattr(a, "version", int(e.value))).props(
                            f"outlined dense data-testid=arm-version-{index}").classes("w-40")
                        ui.number("Weight %", value=arm.weight, min=0, max=100, step=1, format="%d",
                                  on_change=lambda e, a=arm: set_weight(a, e.value)).props(
                            f"outlined dense data-testid=arm-weight-{index}").classes("w-28")
                        ui.label("control" if index == 0 else "").classes("text-xs akis-muted w-14")
                        if len(arms) > 2:
                            ui.button(icon="close", on_click=lambda _, i=index: remove(i)).props(
                                "flat round dense")
            show_total()

        def add_arm() -> None:
            arms.append(Arm(chr(ord("A") + len(arms)), newest, 0))
            render()

        render()
        ui.button("Add a variant", icon="add", on_click=add_arm).props("flat dense no-caps data-testid=add-arm")
        with ui.row().classes("w-full gap-2 no-wrap"):
            metric = ui.select(METRIC_NAMES, value="first_chunk_ms", label="Decided by").props(
                "outlined dense data-testid=experiment-metric").classes("grow")
            min_runs = ui.number("Planned runs per variant", value=DEFAULT_MIN_RUNS, min=10, step=100,
                                 format="%d").props("outlined dense data-testid=experiment-min-runs").classes("w-56")
        ui.label("No variant is called better before each has the planned runs; looking earlier (peeking) "
                 "finds differences that are not there.").classes("text-xs akis-muted")
        error = ui.label().classes("text-sm text-red-600").props("data-testid=experiment-error")

        async def create() -> None:
            try:
                created = await context.experiments.create(
                    tenant, flow_id, [VariantSpec(a.name, a.version, a.weight) for a in arms], name=name.value or "",
                    primary_metric=str(metric.value), min_runs=int(min_runs.value or DEFAULT_MIN_RUNS), start=True)
            except ServiceError as exc:
                error.text = exc.detail
                return
            dialog.close()
            ui.navigate.to(f"/experiments/{created.id}")

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Start the test", icon="science", on_click=create).props(
                "unelevated no-caps data-testid=create-experiment")
    dialog.open()
