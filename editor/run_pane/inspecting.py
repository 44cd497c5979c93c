"""The run pane's debugging loop (docs/run_pane.md): after a run, its nodes can be inspected;
the canvas selection, the timeline's bars and the node list follow one another; one node runs
with pinned inputs, or the flow runs again from a node reusing the earlier run's outputs.

A mixin of :class:`~editor.run_pane.pane.RunPane`, kept apart so each file keeps one job.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from editor.canvas import CanvasEventArguments, FlowCanvas
from editor.context import AkisContext
from editor.desktop.files import save_file
from editor.services.errors import FlowProblems, ServiceError
from editor.services.node_runs import one_node_document
from editor.services.runs import StartedRun
from runtime.engine.engine import RunHandle
from runtime.errors import Problem
from runtime.events import Event
from runtime.flow.model import FlowDocument
from runtime.flow.names import node_name

from ..charts.timeline import BAR_CLICK_JS
from .inspect_view import NodeInspection
from .live import LiveRun
from .marks import fixed
from .pins import DraftPins, with_pins


class InspectingPane:
    """What :class:`RunPane` adds for inspection; it provides the attributes declared here."""

    context: AkisContext
    canvas: FlowCanvas | None
    flow_provider: Callable[[], FlowDocument]
    live: LiveRun | None
    handle: RunHandle | None
    timeline_plot: ui.plotly | None
    inspection: NodeInspection
    tabs: ui.tabs
    pins: DraftPins
    selected_node: str | None
    status: ui.label
    idle: Any
    recent: Any

    # provided by RunPane (which comes first in its own class): stubs for the type checker
    @property
    def busy(self) -> bool:
        raise NotImplementedError

    def tenant(self) -> str:
        raise NotImplementedError

    def session(self) -> str:
        raise NotImplementedError

    def _begin(self, live: LiveRun | None, status: str) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        raise NotImplementedError

    def _listener(self, live: LiveRun) -> Callable[[Event], None]:
        raise NotImplementedError

    async def _await_handle(self, handle: RunHandle) -> None:
        raise NotImplementedError

    def _show_result(self, live: LiveRun) -> None:
        raise NotImplementedError

    def _show_problems(self, problems: list[Problem]) -> None:
        raise NotImplementedError

    @staticmethod
    def _timeline(live: LiveRun, selected: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def _build_inspection(self) -> None:
        self.selected_node = None
        self.pins = DraftPins(self.tenant(), str(self.flow_provider().flow_id))
        self.inspection = NodeInspection(self.context, self.tenant, self.flow_provider, pins=self.pins,
                                         on_select=self.show_node, run_node=self.run_node, run_from=self.run_from)
        with ui.row().classes("w-full justify-end"):
            ui.button("Export with pinned inputs", icon="download", on_click=self.export_with_pins).props(
                "flat dense no-caps size=sm data-testid=export-pinned").tooltip(
                "The flow's JSON with each pinned node's inputs in its ui.pinned (the toolbar's export leaves "
                "them out)")
        if self.canvas is not None:
            self.canvas.on_selection_change(self._canvas_selected)

    # -- following the selection ---------------------------------------------------------------
    def show_node(self, node_id: str) -> None:
        """A node picked in the list or the timeline: select it on the canvas, outline its bar."""
        if self.canvas is not None and self.canvas.node(node_id) is not None:
            self.canvas.select_nodes([node_id])
        self._outline(node_id)

    async def _canvas_selected(self, e: CanvasEventArguments) -> None:
        nodes = list(e.args.get("nodes", []))
        if len(nodes) == 1 and nodes[0] != self.selected_node:
            self._outline(nodes[0])
            await self.inspection.select(nodes[0])

    async def _bar_clicked(self, e: Any) -> None:
        node_id = str(e.args or "").partition("/")[0]  # a step's bar ("node/step"): its node
        if node_id and await self.inspection.select(node_id):
            self.show_node(node_id)

    def _outline(self, node_id: str | None) -> None:
        self.selected_node = node_id
        if self.timeline_plot is not None and self.live is not None:
            self.timeline_plot.update_figure(fixed(self._timeline(self.live, node_id)))

    def _watch_timeline(self) -> None:
        if self.timeline_plot is not None:
            self.timeline_plot.on("plotly_click", self._bar_clicked, js_handler=BAR_CLICK_JS)

    async def _inspect(self, run_id: str, select: str | None = None) -> None:
        """Show a run's nodes once its records are written (they go with its row)."""
        with contextlib.suppress(Exception):
            await self.context.recorder.drain(5.0)
        await self.inspection.load(run_id, select or self.selected_node)
        if select is not None:
            self._outline(select)

    def _in_run_tab(self, action: Callable[[str, str], Awaitable[None]]) -> Callable[[str, str], Awaitable[None]]:
        """``action`` started from History: the Test run tab shows its run."""
        async def run(node_id: str, value: str) -> None:
            self.tabs.set_value("run")
            await action(node_id, value)
        return run

    # -- running one node ----------------------------------------------------------------------
    async def run_node(self, node_id: str, pinned: str) -> None:
        """Run ``node_id`` alone with the pinned JSON ``pinned`` (as typed or from a past run)."""
        document = self.flow_provider()
        if document.node(node_id) is None:
            ui.notify(f"There is no node {node_id!r} on the canvas any more", type="warning")
            return
        try:
            single = one_node_document(document, node_id)
        except ServiceError as exc:
            self._show_problems([Problem("input", exc.detail)])
            return
        live = LiveRun.for_flow(single, self.context.registry, self.tenant())
        status = f"Running node {node_name(document, node_id)} alone…"  # by its label, as the canvas shows it
        await self._run_action(live, status, node_id, lambda listener: (
            self.context.node_runs.run_node(self.tenant(), document, node_id, pinned, session_id=self.session(),
                                            listener=listener)))

    async def run_from(self, node_id: str, run_id: str) -> None:
        """Run the flow again from ``node_id``, reusing run ``run_id``'s outputs before it."""
        document = self.flow_provider()
        live = LiveRun.for_flow(document, self.context.registry, self.tenant())
        status = f"Running from node {node_name(document, node_id)}…"
        await self._run_action(live, status, node_id, lambda listener: (
            self.context.node_runs.run_from(self.tenant(), document, node_id, run_id, session_id=self.session(),
                                            listener=listener)))

    async def _run_action(self, live: LiveRun, status: str, node_id: str,
                          start: Callable[[Callable[[Event], None]], Awaitable[StartedRun]]) -> None:
        if self.busy:
            return
        self.idle.clear()
        try:
            self._begin(live, status)
            try:
                started = await start(self._listener(live))
            except ServiceError as exc:
                self._end()
                self._show_problems(exc.problems if isinstance(exc, FlowProblems) else [Problem("input", exc.detail)])
                return
            self.handle = started.handle
            self.recent[started.run_id] = live
            try:
                await self._await_handle(started.handle)
            finally:
                self._end()
            self._show_result(live)
            await self._inspect(started.run_id, node_id)
        finally:
            self.idle.set()

    async def export_with_pins(self) -> None:
        document = self.flow_provider()
        data = json.dumps(with_pins(document, self.pins.all()), indent=2, ensure_ascii=False).encode("utf-8")
        await save_file(data, f"{document.flow_id}.json")
