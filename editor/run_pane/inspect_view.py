"""Inspecting the nodes of a run: the list of its nodes and, for the one selected, what it
received, its config as rendered (an AI node's prompts, model and tokens), its output, the
cache's answer (key, TTL left), duration, attempts and error; then "run this node" with pinned
inputs and "run from here" (docs/run_pane.md).

The values shown are the stored ones: secrets masked, large values folded (``[folded]`` marks
what was left out); each is a read-only JSON tree that folds and searches. Records come from
the node-runs service for the pane's tenant only (a run id of another tenant finds nothing).
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, ServiceError
from editor.services.node_runs import NodeView
from runtime.flow.model import FlowDocument
from runtime.flow.names import node_labels
from runtime.fold import FOLDED

from ..charts.style import fmt_ms
from .marks import tag
from .pins import DraftPins

STATUS_ICONS = {"succeeded": ("check_circle", "text-positive"), "fallback": ("check_circle", "text-warning"),
                "failed": ("error", "text-negative"), "continued": ("error_outline", "text-warning"),
                "skipped": ("remove_circle_outline", "text-grey-6"), "cancelled": ("block", "text-grey-7")}
PROMPT_FIELDS = (("system_prompt", "System prompt"), ("prompt", "Prompt as sent"))
RunNode = Callable[[str, str], Awaitable[None]]  # (node id, pinned JSON text)
RunFrom = Callable[[str, str], Awaitable[None]]  # (node id, run id)


def json_view(value: Any, name: str) -> ui.json_editor:
    """A read-only JSON tree: nodes fold, and its menu has a search."""
    return tag(ui.json_editor({"content": {"json": value}, "readOnly": True, "mode": "tree",
                               "navigationBar": False, "statusBar": False}), name).classes("w-full").style(
        "max-height: 320px; overflow: auto")


def cache_line(view: NodeView) -> str:
    row = view.row
    cache = row.get("cache") or "off"
    if cache == "reused":
        return "output reused from the earlier run (not run again)"
    if cache == "off":
        return "cache off"
    parts = [f"cache {cache}"]
    if row.get("cache_key"):
        parts.append(f"key {row['cache_key']}")
    if view.ttl_left is not None:
        parts.append(f"{view.ttl_left} s left of {row.get('cache_ttl')} s")
    elif row.get("cache_ttl") is not None:
        parts.append(f"TTL {row['cache_ttl']} s (entry gone now)")
    return " · ".join(parts)


class NodeInspection(ui.column):
    """The nodes of one run and the selected one's details; see the module docstring."""

    def __init__(self, context: AkisContext, tenant: Callable[[], str], flow_provider: Callable[[], FlowDocument],
                 *, pins: DraftPins | None = None, on_select: Callable[[str], None] | None = None,
                 run_node: RunNode | None = None, run_from: RunFrom | None = None) -> None:
        super().__init__()
        self.context, self.tenant, self.flow_provider = context, tenant, flow_provider
        self.pins, self.on_select = pins, on_select
        self.run_node_action, self.run_from_action = run_node, run_from
        self.run_id: str | None = None
        self.views: dict[str, NodeView] = {}
        self.items: dict[str, ui.item] = {}
        self.selected: str | None = None
        self.labels: dict[str, str] = {}
        self.classes("w-full gap-1")
        with self:
            self.heading = ui.label("Nodes of this run").classes("text-weight-medium")
            self.list = tag(ui.list().props("bordered separator dense"), "inspect-nodes").classes("w-full")
            self.details = tag(ui.column(), "inspect-details").classes("w-full gap-1")
        self.set_visibility(False)

    # -- the run ------------------------------------------------------------------------------
    async def load(self, run_id: str, select: str | None = None) -> None:
        """Show run ``run_id``'s nodes (this tenant's); select ``select`` or keep the selection."""
        self.run_id = run_id
        self.labels = node_labels(self.flow_provider())
        try:
            views = await self.context.node_runs.nodes(self.tenant(), run_id)
        except ServiceError as exc:
            self._message(f"This run's nodes could not be read: {exc.detail}")
            return
        except DATABASE_ERRORS as exc:
            self._message(f"This run's nodes could not be read: {exc}")
            return
        self.views = {v.row["node_id"]: v for v in views}
        self.set_visibility(True)
        self.list.clear()
        self.items.clear()
        self.details.clear()
        if not views:
            self._message("This run's nodes were not recorded (inspection was turned off: AKIS_RUN_INSPECTION).")
            return
        with self.list:
            for view in views:
                self._item(view)
        wanted = select if select in self.views else self.selected
        if wanted in self.views:
            await self.select(wanted)
        else:
            self.selected = None
            with self.details:
                ui.label("Click a node (here, on the canvas or in the timeline) to see what it received and "
                         "returned.").classes("text-caption text-grey-7")

    def _message(self, text: str) -> None:
        self.set_visibility(True)
        self.list.clear()
        self.details.clear()
        with self.details:
            tag(ui.label(text), "inspect-message").classes("text-caption text-grey-7")

    def _item(self, view: NodeView) -> None:
        row = view.row
        node_id = row["node_id"]
        icon, color = STATUS_ICONS.get(row["status"], ("help", "text-grey-7"))
        with tag(ui.item(on_click=lambda n=node_id: self.pick(n)), f"inspect-node-{node_id}") as item:
            self.items[node_id] = item
            with ui.item_section().props("avatar"):
                ui.icon(icon).classes(color)
            with ui.item_section():
                ui.item_label(self.labels.get(node_id, node_id)).classes("ellipsis")
                ui.item_label(f"{row['node_type']} · {row['status']}").props("caption")
            with ui.item_section().props("side"):
                ui.item_label(fmt_ms(row["duration_ms"]))
                if row["cache"] != "off":
                    ui.item_label(row["cache"]).props("caption")

    async def pick(self, node_id: str) -> None:
        """A click in the list: show it and tell the page (canvas selection, timeline bar)."""
        await self.select(node_id)
        if self.on_select is not None:
            self.on_select(node_id)

    # -- one node -----------------------------------------------------------------------------
    async def select(self, node_id: str) -> bool:
        """Show ``node_id``'s details; False when this run has no record of it."""
        view = self.views.get(node_id)
        if view is None or self.run_id is None:
            return False
        self.selected = node_id
        if view.ttl_left is None and view.row.get("cache_key"):
            with contextlib.suppress(Exception):  # the cache being away only hides the TTL
                view = self.views[node_id] = NodeView(view.row, await self.context.node_runs.ttl_left(
                    view.row["cache_key"]))
        for item_id, item in self.items.items():
            if item_id == node_id:
                item.props("active")
            else:
                item.props(remove="active")
        self.details.clear()
        with self.details:
            self._details(view)
        return True

    def _details(self, view: NodeView) -> None:
        row = view.row
        node_id = row["node_id"]
        label = self.labels.get(node_id, node_id)
        with ui.row().classes("w-full items-center gap-2"):
            tag(ui.label(f"{label} ({row['node_type']})"), "inspect-title").classes("text-subtitle2")
            ui.badge(row["status"]).props("outline")
            facts = [fmt_ms(row["duration_ms"])]
            if row.get("attempts", 1) != 1:
                facts.append(f"{row['attempts']} attempts")
            if row.get("tokens_in") or row.get("tokens_out"):
                facts.append(f"tokens {row['tokens_in']} in / {row['tokens_out']} out")
            tag(ui.label(" · ".join(facts)), "inspect-facts").classes("text-caption text-grey-8")
        tag(ui.label(cache_line(view)), "inspect-cache").classes("text-caption text-grey-8").style(
            "word-break: break-all")
        if row.get("error"):
            tag(ui.label(row["error"]), "inspect-error").classes("text-negative text-body2").style(
                "white-space: pre-wrap")
        config = row.get("config") or {}
        if any(isinstance(config.get(k), str) for k, _ in PROMPT_FIELDS):
            model = " / ".join(str(config[k]) for k in ("provider", "model") if config.get(k))
            if model:
                tag(ui.label(f"Model {model}"), "inspect-model").classes("text-caption")
            for key, title in PROMPT_FIELDS:
                if isinstance(config.get(key), str):
                    ui.label(title).classes("text-caption text-weight-medium")
                    tag(ui.label(config[key]), f"inspect-{key}").classes("text-body2 w-full q-pa-xs").style(
                        "white-space: pre-wrap; border: 1px solid rgba(127,127,127,.3); border-radius: 4px; "
                        "max-height: 200px; overflow: auto")
        if row.get("folded"):
            tag(ui.label(f"Large values were folded when kept: {FOLDED} marks what was left out."),
                "inspect-folded").classes("text-caption text-warning")
        with ui.expansion("Inputs (what it received)", value=True).classes("w-full").props("dense"):
            json_view(row.get("inputs") or {}, "inspect-inputs")
        with ui.expansion("Config as rendered").classes("w-full").props("dense"):
            json_view(config, "inspect-config")
        with ui.expansion("Output", value=True).classes("w-full").props("dense"):
            json_view(row.get("output"), "inspect-output")
            if row.get("text"):
                ui.label("Streamed text").classes("text-caption text-weight-medium")
                tag(ui.label(row["text"]), "inspect-text").classes("text-body2").style("white-space: pre-wrap")
        self._run_controls(node_id, row)

    def _run_controls(self, node_id: str, row: dict[str, Any]) -> None:
        if self.run_node_action is None or self.flow_provider().node(node_id) is None:
            return
        pinned = self.pins.get(node_id) if self.pins is not None else None
        text = pinned if pinned is not None else json.dumps(row.get("inputs") or {}, indent=2, ensure_ascii=False)
        with ui.expansion("Run this node", icon="play_circle", value=True).classes("w-full").props(
                "dense data-testid=inspect-run-section"):
            ui.label("Inputs as JSON (from this run, or pinned); \"nodes\" holds upstream outputs it reads.").classes(
                "text-caption text-grey-7")
            editor = tag(ui.textarea(value=text), "pinned-inputs").props("outlined dense autogrow").classes(
                "w-full").style("font-family: monospace")
            state = tag(ui.label("Pinned" if pinned is not None else ""), "pinned-state").classes(
                "text-caption text-positive")
            with ui.row().classes("gap-2"):
                tag(ui.button("Run node", icon="play_arrow",
                              on_click=lambda: self._run_node(node_id, editor.value or "")), "run-node").props(
                    "unelevated no-caps dense")
                tag(ui.button("Pin", icon="push_pin", on_click=lambda: self._pin(node_id, editor.value or "", state)),
                    "pin-inputs").props("outline no-caps dense").tooltip("Keep these inputs with the draft")
                tag(ui.button("Unpin", on_click=lambda: self._unpin(node_id, state)), "unpin-inputs").props(
                    "flat no-caps dense")
                if self.run_from_action is not None and self.run_id is not None:
                    run_id = self.run_id
                    tag(ui.button("Run from here", icon="fast_forward",
                                  on_click=lambda: self._run_from(node_id, run_id)), "run-from-here").props(
                        "outline no-caps dense").tooltip("Run the flow again from this node, reusing the outputs "
                                                         "of the nodes before it in this run")

    async def _run_node(self, node_id: str, text: str) -> None:
        if self.run_node_action is not None:
            await self.run_node_action(node_id, text)

    async def _run_from(self, node_id: str, run_id: str) -> None:
        if self.run_from_action is not None:
            await self.run_from_action(node_id, run_id)

    def _pin(self, node_id: str, text: str, state: ui.label) -> None:
        try:
            value = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            ui.notify(f"Not pinned: the inputs are not JSON ({exc.msg}, line {exc.lineno})", type="negative")
            return
        if not isinstance(value, dict):
            ui.notify("Not pinned: the inputs must be a JSON object", type="negative")
            return
        if self.pins is not None:
            self.pins.pin(node_id, text)
            state.set_text("Pinned")

    def _unpin(self, node_id: str, state: ui.label) -> None:
        if self.pins is not None:
            self.pins.unpin(node_id)
            state.set_text("")
