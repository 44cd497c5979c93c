"""FlowCanvas: the NiceGUI element wrapping Vue Flow (docs/canvas.md).

Data goes in through props (``nodes``, ``edges``, ``groups``, ``dark``); what the user does comes
back as small typed events. The element mirrors browser-side changes (moves, drawn edges) into its
props without re-sending them, so a later full update never snaps the canvas back. Live run status
goes through ``update_node`` (one small message), not a full prop re-send.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nicegui.awaitable_response import AwaitableResponse
from nicegui.element import Element
from nicegui.events import UiEventArguments, handle_event

from .model import (
    CanvasEdge,
    CanvasGroup,
    CanvasNode,
    check_unique,
    normalize_edge,
    normalize_group,
    normalize_node,
    normalize_note,
    status_patch,
)

DIST = Path(__file__).parent / "dist"

EVENTS: tuple[str, ...] = (
    "ready",  # {node_count, edge_count, ms, page_ms}: first fit-to-view done, nodes measured
    "node_moved",  # {moves: [{id, x, y}], group: id | None}
    "connect",  # {id, source, target, sourceHandle}
    "selection_change",  # {nodes: [...], edges: [...]}
    "delete_request",  # {nodes: [...], edges: [...]}
    "palette_drop",  # {type, x, y} in flow coordinates
    "shortcut",  # {action: undo | redo | copy | paste | save | select_all}
    "node_click",  # {id}
    "pane_click",  # {}
    "group_click",  # {id}: the label of a group frame was clicked
    "note_change",  # {id, text? | width?, height? | color?}: a sticky note was edited, resized or recoloured
)


@dataclass(kw_only=True, slots=True)
class CanvasEventArguments(UiEventArguments):
    """What a canvas handler receives: the event ``name`` and its JSON payload ``args``."""

    name: str
    args: dict[str, Any]


CanvasHandler = Callable[[CanvasEventArguments], Any] | Callable[[], Any]


class FlowCanvas(
    Element,
    component="flow_canvas.js",
    esm={"akis-vueflow": "dist"},
    default_style="display: block; width: 100%; height: 100%; min-height: 360px",
):
    """A Vue Flow canvas: draws nodes, edges and parallel-group frames; reports user intent."""

    def __init__(
        self,
        nodes: Iterable[dict[str, Any]] = (),
        edges: Iterable[dict[str, Any]] = (),
        groups: Iterable[dict[str, Any]] = (),
        *,
        dark: bool | None = None,
        **handlers: CanvasHandler | None,
    ) -> None:
        """:param dark: dark mode; ``None`` follows the page (``ui.dark_mode``).
        :param handlers: ``on_<event>=callable`` for any name in ``EVENTS`` (e.g. ``on_node_moved``).
        """
        super().__init__()
        self.add_resource(DIST)
        self._handlers: dict[str, list[CanvasHandler]] = {name: [] for name in EVENTS}
        self._index: dict[str, Any] = {}
        self.is_ready = False
        self.ready_info: dict[str, Any] = {}
        self.selection: dict[str, list[str]] = {"nodes": [], "edges": []}
        with self._props.suspend_updates():
            self._props["dark"] = dark
            self._props["notes"] = []
            self._props["groups"] = []
            self._props["edges"] = []
            self._props["nodes"] = []
        self.set_graph(nodes, edges, groups)
        for name in EVENTS:
            self.on(name, self._make_receiver(name))
        for key, handler in handlers.items():
            name = key.removeprefix("on_")
            if not key.startswith("on_") or name not in EVENTS:
                raise TypeError(f"FlowCanvas got an unexpected argument {key!r}; events are {', '.join(EVENTS)}")
            if handler is not None:
                self.on_event(name, handler)

    # ---------- data in ----------

    @property
    def nodes(self) -> list[CanvasNode]:
        return self._props["nodes"]

    @property
    def edges(self) -> list[CanvasEdge]:
        return self._props["edges"]

    @property
    def groups(self) -> list[CanvasGroup]:
        return self._props["groups"]

    @property
    def notes(self) -> list[dict[str, Any]]:
        return self._props["notes"]

    def node(self, node_id: str) -> CanvasNode | None:
        """The node with this id as the canvas holds it (positions mirrored from the browser)."""
        return self._index.get(node_id)

    def set_graph(
        self,
        nodes: Iterable[Mapping[str, Any]] | None = None,
        edges: Iterable[Mapping[str, Any]] | None = None,
        groups: Iterable[Mapping[str, Any]] | None = None,
        notes: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        """Replace any of nodes, edges, groups and sticky notes (``None`` keeps it) and send one update."""
        new_nodes = [normalize_node(n) for n in nodes] if nodes is not None else None
        new_edges = [normalize_edge(e) for e in edges] if edges is not None else None
        new_groups = [normalize_group(g) for g in groups] if groups is not None else None
        for items, what in ((new_nodes, "node"), (new_edges, "edge"), (new_groups, "group")):
            if items is not None:
                check_unique(items, what)
        with self._props.suspend_updates():
            if new_nodes is not None:
                self._props["nodes"] = new_nodes
                self._index = {n["id"]: n for n in self._props["nodes"]}
            if new_edges is not None:
                self._props["edges"] = new_edges
            if new_groups is not None:
                self._props["groups"] = new_groups
            if notes is not None:
                self._props["notes"] = [normalize_note(n) for n in notes]
        self.update()

    def set_nodes(self, nodes: Iterable[dict[str, Any]]) -> None:
        self.set_graph(nodes=nodes)

    def set_edges(self, edges: Iterable[dict[str, Any]]) -> None:
        self.set_graph(edges=edges)

    def set_groups(self, groups: Iterable[dict[str, Any]]) -> None:
        self.set_graph(groups=groups)

    def set_dark(self, dark: bool | None) -> None:
        self._props["dark"] = dark

    def update_node(self, node_id: str, patch: dict[str, Any] | None = None, /, **fields: Any) -> AwaitableResponse:
        """Merge ``patch`` (status, duration_ms, error, badges, problems, label ...) into a node's data.

        Sent as one small message; the prop is updated silently so a later full send agrees.
        Await the result to learn whether the browser found the node.
        """
        patch = status_patch({**(patch or {}), **fields}, node_id)
        node = self._index.get(node_id)
        if node is None:
            raise KeyError(f"update_node: no node {node_id!r} on this canvas")
        with self._props.suspend_updates():
            for key, value in patch.items():
                if key == "label":
                    node["label"] = value
                else:
                    node["data"][key] = value
        return self.run_method("updateNode", node_id, patch)

    # ---------- view ----------

    def fit_view(self, padding: float = 0.12) -> AwaitableResponse:
        return self.run_method("fitView", padding)

    def set_center(self, x: float, y: float, zoom: float | None = None) -> AwaitableResponse:
        """Centre the view on flow coordinates (x, y), keeping the zoom unless one is given."""
        return self.run_method("setCenter", x, y, zoom)

    def select_nodes(self, node_ids: Iterable[str]) -> AwaitableResponse:
        """Select exactly these nodes (a ``selection_change`` event follows)."""
        return self.run_method("selectNodes", list(node_ids))

    def request_delete(self) -> AwaitableResponse:
        """Ask for the current selection to be deleted: emits ``delete_request`` like the Delete key."""
        return self.run_method("deleteSelection")

    # ---------- events out ----------

    def get_viewport(self) -> AwaitableResponse:
        """``{x, y, zoom}`` of the browser's view (await it)."""
        return self.run_method("getViewport")

    def on_event(self, name: str, handler: CanvasHandler) -> FlowCanvas:
        """Add a handler for one of ``EVENTS``; it runs after the element has mirrored the change."""
        if name not in EVENTS:
            raise ValueError(f"FlowCanvas has no event {name!r}; events are {', '.join(EVENTS)}")
        self._handlers[name].append(handler)
        return self

    def on_ready(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("ready", handler)

    def on_node_moved(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("node_moved", handler)

    def on_connect(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("connect", handler)

    def on_selection_change(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("selection_change", handler)

    def on_delete_request(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("delete_request", handler)

    def on_palette_drop(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("palette_drop", handler)

    def on_shortcut(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("shortcut", handler)

    def on_node_click(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("node_click", handler)

    def on_pane_click(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("pane_click", handler)

    def on_group_click(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("group_click", handler)

    def on_note_change(self, handler: CanvasHandler) -> FlowCanvas:
        return self.on_event("note_change", handler)

    def _make_receiver(self, name: str) -> Callable[[Any], None]:
        def receive(e: Any) -> None:
            args = e.args if isinstance(e.args, dict) else {}
            self._mirror(name, args)
            arguments = CanvasEventArguments(sender=self, client=self.client, name=name, args=args)
            for handler in list(self._handlers[name]):
                handle_event(handler, arguments)

        return receive

    def _mirror(self, name: str, args: dict[str, Any]) -> None:
        """Bring the props in line with what the browser already shows, without re-sending them."""
        if name == "ready":
            self.is_ready = True
            self.ready_info = args
        elif name == "selection_change":
            self.selection = {"nodes": list(args.get("nodes", [])), "edges": list(args.get("edges", []))}
        elif name == "node_moved":
            notes = {n["id"]: n for n in self._props["notes"]}
            with self._props.suspend_updates():
                for move in args.get("moves", []):
                    node = self._index.get(move.get("id"))
                    if node is not None:
                        node["position"] = {"x": float(move["x"]), "y": float(move["y"])}
                    elif move.get("id") in notes:
                        notes[move["id"]].update(x=float(move["x"]), y=float(move["y"]))
        elif name == "note_change":
            note = next((n for n in self._props["notes"] if n["id"] == args.get("id")), None)
            if note is not None:
                with self._props.suspend_updates():
                    # the colour is not mirrored: the editor sends it back, and the note changes then
                    note.update({k: args[k] for k in ("text", "width", "height") if k in args})
        elif name == "connect":
            edge = normalize_edge(args)
            if all(e["id"] != edge["id"] for e in self._props["edges"]):
                with self._props.suspend_updates():
                    self._props["edges"].append(edge)
