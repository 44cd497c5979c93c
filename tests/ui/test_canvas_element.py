"""The Python side of the canvas element, with NiceGUI's simulated ``User`` (no browser).

Browser events are triggered by name as the JS component emits them; the tests check that the
element mirrors them into its props silently, then calls the handlers, and that Python -> JS
calls carry the right method and payload.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from nicegui import __version__ as nicegui_version
from nicegui.testing import User
from nicegui.testing.user_simulation import user_simulation

from editor.canvas import CATEGORY_COLORS, EVENTS, CanvasDataError, CanvasEventArguments, FlowCanvas, edge_id
from editor.canvas.model import normalize_edge, normalize_group, normalize_node

NODES = [
    {"id": "a", "type": "user_input", "label": "Message", "position": {"x": 0, "y": 0}, "data": {"category": "input"}},
    {"id": "b", "type": "product_search", "position": {"x": 300, "y": 0},
     "data": {"category": "data", "badges": ["cached"]}},
    {"id": "c", "type": "condition", "position": {"x": 600, "y": 0},
     "data": {"category": "logic", "branches": ["yes", "no"]}},
]
EDGES = [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}]
GROUPS = [{"id": "g", "nodes": ["a", "b"], "join_at": "c"}]


@asynccontextmanager
async def canvas_page(caplog: pytest.LogCaptureFixture, **kwargs: Any) -> AsyncIterator[tuple[User, FlowCanvas]]:
    """Open a page holding one canvas; fail on any ERROR log, like NiceGUI's ``user`` fixture."""
    holder: list[FlowCanvas] = []

    def root() -> None:
        holder.append(FlowCanvas(NODES, EDGES, GROUPS, **kwargs))

    async with user_simulation(root=root) as user:
        await user.open("/")
        yield user, holder[0]
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"unexpected ERROR logs: {[r.getMessage() for r in errors]}"


# ---------- normalisation (pure) ----------


def test_nodes_are_filled_with_every_key() -> None:
    node = normalize_node({"id": "x", "type": "template", "data": {"category": "logic"}})
    assert node == {
        "id": "x", "type": "template", "label": "x", "position": {"x": 0.0, "y": 0.0},
        "data": {"category": "logic", "icon": "account_tree", "color": CATEGORY_COLORS["logic"], "badges": [],
                 "status": None, "duration_ms": None, "error": None, "problems": [], "branches": [],
                 "has_input": True, "has_output": True},
    }
    assert normalize_node({"id": "y", "data": {"category": "mystery"}})["data"]["color"] == CATEGORY_COLORS["other"]


@pytest.mark.parametrize(("bad", "message"), [
    ({"type": "x"}, "without a string id"),
    ({"id": "n1", "data": {"status": "exploded"}}, "node n1: status 'exploded'"),
    ({"id": "n1", "data": {"colour": "red"}}, "node n1: unknown data keys ['colour']"),
    ({"id": "n1", "data": {"badges": "cached"}}, "node n1: badges must be a list"),
    ({"id": "n1", "position": {"x": "left"}}, "node n1: position must be"),
])
def test_malformed_nodes_are_named(bad: dict, message: str) -> None:
    with pytest.raises(CanvasDataError, match=re.escape(message)):
        normalize_node(bad)


def test_edges_and_groups_are_normalised() -> None:
    assert normalize_edge({"source": "c", "target": "d", "source_handle": "yes"}) == {
        "id": "c->d#yes", "source": "c", "target": "d", "sourceHandle": "yes", "problems": []}
    assert edge_id("a", "b") == "a->b"
    assert normalize_group({"id": "g", "nodes": ["a"]}) == {
        "id": "g", "label": "g", "nodes": ["a"], "join_at": None, "problems": []}
    with pytest.raises(CanvasDataError, match="needs a source and a target"):
        normalize_edge({"source": "a"})
    with pytest.raises(CanvasDataError, match="parallel group without an id"):
        normalize_group({"nodes": ["a"]})


# ---------- the element ----------


async def test_props_carry_normalised_graph_and_assets(caplog: pytest.LogCaptureFixture) -> None:
    async with canvas_page(caplog, dark=True) as (user, canvas):
        props = canvas.props
        assert [n["id"] for n in props["nodes"]] == ["a", "b", "c"]
        assert props["nodes"][1]["data"]["badges"] == ["cached"]
        assert props["nodes"][2]["data"]["branches"] == ["yes", "no"]
        assert [e["id"] for e in props["edges"]] == ["a->b", "b->c"]
        assert props["groups"][0] == {"id": "g", "label": "g", "nodes": ["a", "b"], "join_at": "c", "problems": []}
        assert props["dark"] is True
        # every event is listened to exactly once, under the name the JS component emits
        assert sorted(listener.type for listener in canvas._event_listeners.values()) == sorted(EVENTS)
        # the bundle and its CSS are served by this app (users need no Node.js)
        page = (await user.http_client.get("/")).text
        match = re.search(r'"akis-vueflow": ?"([^"]+)"', page)
        assert match, "the import map does not name the akis-vueflow bundle"
        bundle = await user.http_client.get(match.group(1))
        assert bundle.status_code == 200 and b"VueFlow" in bundle.content
        css = await user.http_client.get(f"{props['resource-path']}/index.css")
        assert css.status_code == 200 and b".akis-node" in css.content
        assert props["resource-path"].startswith(f"/_nicegui/{nicegui_version}/resources/")


async def test_node_moved_is_mirrored_silently_before_handlers_run(caplog: pytest.LogCaptureFixture) -> None:
    async with canvas_page(caplog) as (user, canvas):
        seen: list[tuple[str, Any, dict]] = []
        canvas.on_node_moved(lambda e: seen.append((e.name, e.args["group"], dict(canvas.node("b")["position"]))))
        updates = count_updates(canvas)
        user.find(FlowCanvas).trigger("node_moved", {"moves": [{"id": "b", "x": 420, "y": -35}], "group": "g"})
        assert seen == [("node_moved", "g", {"x": 420.0, "y": -35.0})]
        assert canvas.props["nodes"][1]["position"] == {"x": 420.0, "y": -35.0}
        assert updates() == 0, "a move already shown in the browser must not be sent back"


async def test_connect_adds_the_edge_once(caplog: pytest.LogCaptureFixture) -> None:
    async with canvas_page(caplog) as (user, canvas):
        received: list[CanvasEventArguments] = []
        canvas.on_connect(received.append)
        updates = count_updates(canvas)
        args = {"id": "c->a#no", "source": "c", "target": "a", "sourceHandle": "no"}
        user.find(FlowCanvas).trigger("connect", args)
        user.find(FlowCanvas).trigger("connect", args)
        assert [e["id"] for e in canvas.edges] == ["a->b", "b->c", "c->a#no"]
        assert canvas.edges[-1]["sourceHandle"] == "no"
        assert len(received) == 2 and received[0].args == args and received[0].sender is canvas
        assert updates() == 0


async def test_selection_ready_and_plain_events_reach_handlers(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[tuple[str, dict]] = []

    def record(e: CanvasEventArguments) -> None:
        calls.append((e.name, e.args))

    async with canvas_page(caplog, on_ready=record, on_palette_drop=record, on_shortcut=record,
                           on_delete_request=record) as (user, canvas):
        element = user.find(FlowCanvas)
        assert not canvas.is_ready
        element.trigger("ready", {"node_count": 3, "edge_count": 2, "ms": 120, "page_ms": 900})
        assert canvas.is_ready and canvas.ready_info["node_count"] == 3
        element.trigger("selection_change", {"nodes": ["a", "b"], "edges": []})
        assert canvas.selection == {"nodes": ["a", "b"], "edges": []}
        element.trigger("palette_drop", {"type": "template", "x": 10, "y": 20})
        element.trigger("shortcut", {"action": "undo"})
        element.trigger("delete_request", {"nodes": ["a"], "edges": ["a->b"]})
        assert [name for name, _ in calls] == ["ready", "palette_drop", "shortcut", "delete_request"]
        assert calls[1][1] == {"type": "template", "x": 10, "y": 20}
        # a delete request is a request: the canvas keeps the node until the editor removes it
        assert canvas.node("a") is not None


async def test_update_node_sends_a_small_patch_and_mirrors_it(caplog: pytest.LogCaptureFixture) -> None:
    async with canvas_page(caplog) as (user, canvas):
        sent: list[str] = []
        user.javascript_rules[re.compile(r'return runMethod\(\d+, "updateNode", (.*)\)')] = \
            lambda m: sent.append(m.group(1)) or True
        updates = count_updates(canvas)
        with user:
            found = await canvas.update_node("b", status="done", duration_ms=41.5)
        assert found is True
        assert [json.loads(s) for s in sent] == [["b", {"status": "done", "duration_ms": 41.5}]]
        assert canvas.node("b")["data"]["status"] == "done" and canvas.node("b")["data"]["duration_ms"] == 41.5
        assert updates() == 0, "live status must not re-send every node"
        with pytest.raises(CanvasDataError, match=r"update_node\('b'\): status 'melted'"):
            canvas.update_node("b", status="melted")
        with pytest.raises(KeyError, match="no node 'zz'"):
            canvas.update_node("zz", status="done")


async def test_set_graph_sends_one_update_and_rejects_duplicates(caplog: pytest.LogCaptureFixture) -> None:
    async with canvas_page(caplog) as (_user, canvas):
        updates = count_updates(canvas)
        canvas.set_graph(nodes=NODES[:2], edges=EDGES[:1], groups=[])
        assert updates() == 1
        assert [n["id"] for n in canvas.nodes] == ["a", "b"] and canvas.node("c") is None
        assert canvas.groups == []
        with pytest.raises(CanvasDataError, match="duplicate node id 'a'"):
            canvas.set_nodes([NODES[0], NODES[0]])
        assert [n["id"] for n in canvas.nodes] == ["a", "b"], "a rejected update leaves the canvas as it was"
        canvas.set_dark(None)
        assert canvas.props["dark"] is None


async def test_view_methods_call_the_component(caplog: pytest.LogCaptureFixture) -> None:
    async with canvas_page(caplog) as (user, canvas):
        calls: list[str] = []
        user.javascript_rules[re.compile(r'return runMethod\(\d+, "(\w+)", (.*)\)')] = \
            lambda m: calls.append((m.group(1), json.loads(m.group(2))))
        with user:
            await canvas.fit_view()
            await canvas.set_center(10, 20, 1.5)
            await canvas.select_nodes(["a", "c"])
            await canvas.request_delete()
        assert calls == [("fitView", [0.12]), ("setCenter", [10, 20, 1.5]), ("selectNodes", [["a", "c"]]),
                         ("deleteSelection", [])]


async def test_unknown_handler_names_are_refused() -> None:
    errors: list[Exception] = []

    def root() -> None:
        try:
            FlowCanvas(NODES, on_drop=print)
        except TypeError as e:
            errors.append(e)

    async with user_simulation(root=root) as user:
        await user.open("/")
    assert len(errors) == 1 and "unexpected argument 'on_drop'" in str(errors[0])
    assert "palette_drop" in str(errors[0]), "the message lists the events there are"


def count_updates(canvas: FlowCanvas) -> Callable[[], int]:
    """Count full prop sends of ``canvas`` from now on."""
    count = [0]
    original = canvas.update

    def update() -> None:
        count[0] += 1
        original()

    canvas.update = update  # type: ignore[method-assign]
    return lambda: count[0]

