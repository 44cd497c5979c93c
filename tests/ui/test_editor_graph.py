"""The editor's graph model (pure Python): edits, undo/redo, groups, copy/paste, layout, problems, diff."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from editor.graph import EditError, FlowDraft, canvas_props, check, diff_documents, layered_positions
from runtime import default_registry, load_flow
from runtime.flow.model import FlowDocument

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = default_registry(entry_point_group=None)


@pytest.fixture
def draft() -> FlowDraft:
    return FlowDraft(load_flow(ROOT / "examples" / "pallet_assistant.json"), REGISTRY, "1", version=1)


def test_a_loaded_draft_is_clean_and_exports_what_was_loaded(draft: FlowDraft) -> None:
    original = json.loads((ROOT / "examples" / "pallet_assistant.json").read_text())
    assert not draft.dirty
    assert draft.document.dump() == original
    assert not draft.history.can_undo


def test_add_node_gets_a_fresh_id_label_and_position(draft: FlowDraft) -> None:
    node_id = draft.add_node("http_request", 400, 300, centred=True)
    node = draft.node(node_id)
    assert node_id == "node_9" and node.label == "HTTP request"
    assert node.ui == {"x": 284, "y": 268}
    assert draft.dirty and draft.history.can_undo
    with pytest.raises(EditError, match="unknown node type 'nope'"):
        draft.add_node("nope")


def test_every_edit_undoes_and_redoes_exactly(draft: FlowDraft) -> None:
    states = [draft.document.dump()]
    draft.add_node("delay", 10, 10)
    states.append(draft.document.dump())
    draft.connect("node_8", "node_9")
    states.append(draft.document.dump())
    draft.move_nodes({"node_9": (500, 500)})
    states.append(draft.document.dump())
    draft.set_config_value("node_9", "ms", 250)
    states.append(draft.document.dump())
    draft.delete(["node_2"])
    states.append(draft.document.dump())
    for expected in reversed(states[:-1]):
        assert draft.undo()
        assert draft.document.dump() == expected
    assert not draft.undo() and not draft.dirty
    for expected in states[1:]:
        assert draft.redo()
        assert draft.document.dump() == expected
    assert not draft.redo()


def test_typing_in_one_field_is_one_undo_step(draft: FlowDraft) -> None:
    for text in ("{", "{{", "{{ t", "{{ text }}"):
        draft.set_config_value("node_3", "query", text)
    draft.seal()
    draft.set_config_value("node_3", "query", "again")
    assert draft.undo() and draft.node("node_3").config["query"] == "{{ text }}"
    assert draft.undo() and draft.node("node_3").config["query"] == "{{ user_message }}"


def test_a_new_edit_clears_redo(draft: FlowDraft) -> None:
    draft.set_label("node_1", "Question")
    draft.undo()
    draft.set_label("node_2", "Kind")
    assert not draft.history.can_redo


def test_no_op_edits_leave_no_undo_step(draft: FlowDraft) -> None:
    draft.set_label("node_1", "User message")
    draft.move_nodes({"node_1": (0, 160)})
    assert not draft.history.can_undo and draft.revision == 0


def test_connect_refuses_loops_duplicates_and_cycles(draft: FlowDraft) -> None:
    with pytest.raises(EditError, match="itself"):
        draft.connect("node_2", "node_2")
    with pytest.raises(EditError, match="already connected"):
        draft.connect("node_1", "node_2")
    with pytest.raises(EditError, match="connecting 'Output' to 'User message' would make a cycle"):
        draft.connect("node_8", "node_1")
    with pytest.raises(EditError, match="no node 'ghost'"):
        draft.connect("node_1", "ghost")
    assert not draft.history.can_undo
    assert draft.connect("node_2", "node_6") == "node_2->node_6"


def test_delete_removes_edges_memberships_and_joins(draft: FlowDraft) -> None:
    draft.delete(["node_5", "node_3"])
    doc = draft.document
    assert {n.id for n in doc.nodes} == {"node_1", "node_2", "node_4", "node_6", "node_7", "node_8"}
    assert all("node_5" not in (e.source, e.target) for e in doc.edges)
    group = doc.parallel_groups[0]
    assert group.nodes == ["node_2", "node_4"] and group.join_at is None
    assert "join_at" not in doc.dump()["parallel_groups"][0]
    draft.delete(edge_refs=["node_1->node_2"])
    assert not any(e.source == "node_1" and e.target == "node_2" for e in draft.document.edges)


def test_group_ungroup_and_join(draft: FlowDraft) -> None:
    draft.ungroup("lookups")
    assert draft.document.parallel_groups == []
    group_id = draft.make_group(["node_2", "node_3", "node_4"])
    assert draft.discovered_join(group_id) == "node_5"
    draft.update_group(group_id, label="Lookups", join_at="node_6")
    assert draft.group(group_id).join_at == "node_6" and draft.discovered_join(group_id) == "node_6"
    draft.update_group(group_id, join_at=None)
    assert draft.group(group_id).join_at is None
    with pytest.raises(EditError, match="at least two"):
        draft.make_group(["node_2"])


def test_dragging_into_and_out_of_a_frame(draft: FlowDraft) -> None:
    draft.add_node("delay", 300, 400)
    assert draft.drop_nodes({"node_9": (300, 420)}, "lookups")
    assert "node_9" in draft.group("lookups").nodes
    assert draft.drop_nodes({"node_9": (900, 900)}, None)
    assert "node_9" not in draft.group("lookups").nodes
    # moving the whole group together keeps it whole
    members = draft.group("lookups").nodes
    assert not draft.drop_nodes({m: (1000, i * 100) for i, m in enumerate(members)}, None)
    assert draft.group("lookups").nodes == members
    # one drop is one undo step: position and membership together
    draft.drop_nodes({"node_9": (260, 420)}, "lookups")
    draft.undo()
    assert "node_9" not in draft.group("lookups").nodes and draft.position("node_9") == (900, 900)


def test_problems_are_filed_on_nodes_edges_and_groups(draft: FlowDraft) -> None:
    draft.drop_nodes({"node_6": (260, 440)}, "lookups")  # an AI node dragged into the parallel frame
    problems = check(draft.document, REGISTRY, "1")
    assert any("must never run in parallel" in p.message for p in problems.by_group["lookups"])
    assert problems.node_messages("node_6")
    nodes, _edges, groups = canvas_props(draft.document, REGISTRY, "1", problems)
    frame = next(g for g in groups if g["id"] == "lookups")
    assert frame["problems"] and any("node 'Answer' (ai_response)" in m for m in frame["problems"])
    node = next(n for n in nodes if n["id"] == "node_6")
    assert node["data"]["problems"] and "group:Lookups" in node["data"]["badges"]


def test_field_errors_reach_the_inspector(draft: FlowDraft) -> None:
    node_id = draft.add_node("http_request")
    draft.set_config_value("node_3", "limit", 500)
    problems = check(draft.document, REGISTRY, "1")
    assert "config.url" in problems.field_errors(node_id)
    assert "config.limit" in problems.field_errors("node_3")


def test_canvas_props_show_badges_and_the_discovered_join(draft: FlowDraft) -> None:
    draft.update_group("lookups", join_at=None)
    nodes, edges, groups = canvas_props(draft.document, REGISTRY, "1", check(draft.document, REGISTRY, "1"))
    by_id = {n["id"]: n for n in nodes}
    assert by_id["node_3"]["data"]["badges"] == ["cached:5 min", "group:Lookups"]
    assert by_id["node_5"]["data"]["badges"] == ["join:Lookups"]
    assert "background" in by_id["node_7"]["data"]["badges"] and not by_id["node_7"]["data"]["has_output"]
    assert not by_id["node_1"]["data"]["has_input"]
    assert groups == [{"id": "lookups", "label": "Lookups", "nodes": ["node_2", "node_3", "node_4"],
                       "join_at": "node_5", "problems": []}]
    assert len(edges) == 9 and edges[0]["id"] == "node_1->node_2"


def test_condition_nodes_get_branch_handles(draft: FlowDraft) -> None:
    node_id = draft.add_node("condition", config={"cases": [{"when": "{{ category }}", "branch": "known"}],
                                                  "default": "unknown"})
    nodes, _, _ = canvas_props(draft.document, REGISTRY, "1", check(draft.document, REGISTRY, "1"))
    assert next(n for n in nodes if n["id"] == node_id)["data"]["branches"] == ["known", "unknown"]
    assert draft.connect(node_id, "node_8", "known") == f"{node_id}->node_8#known"


def test_cache_strategy_for_the_type_or_one_node(draft: FlowDraft) -> None:
    draft.set_cache("node_3", {"enabled": True, "ttl": 60, "key_fields": ["query"], "tags": ["products"]}, scope="node")
    assert draft.cache_scope("node_3") == "node" and draft.node("node_3").cache.ttl == 60
    assert draft.document.cache_strategy["product_search"].ttl == 300
    draft.set_cache("node_3", {"enabled": True, "ttl": 900, "tags": []}, scope="type")
    assert draft.cache_scope("node_3") == "type" and "cache" not in draft.document.dump()["nodes"][2]
    assert draft.document.cache_strategy["product_search"].ttl == 900
    with pytest.raises(EditError, match="ttl"):
        draft.set_cache("node_3", {"enabled": True, "ttl": 0}, scope="type")
    draft.set_cache("node_6", {"enabled": True, "ttl": 60}, scope="node")
    problems = check(draft.document, REGISTRY, "1")
    assert any("never cached" in m for m in problems.node_messages("node_6"))


def test_policy_edits_are_checked(draft: FlowDraft) -> None:
    draft.set_policy("node_3", timeout_s=2.5, retry={"attempts": 3, "backoff_s": 0.5}, on_error="fallback",
                     fallback={"products": []})
    node = draft.node("node_3")
    assert (node.timeout_s, node.retry.attempts, node.on_error, node.fallback) == (2.5, 3, "fallback", {"products": []})
    with pytest.raises(EditError, match="timeout_s"):
        draft.set_policy("node_3", timeout_s=-1)
    assert draft.node("node_3").timeout_s == 2.5
    draft.set_policy("node_3", timeout_s=None, retry=None, on_error="fail", fallback=None)
    exported = draft.document.dump()["nodes"][2]
    assert not {"timeout_s", "retry", "on_error", "fallback"} & set(exported)


def test_copy_and_paste_gives_new_ids_and_keeps_inner_edges(draft: FlowDraft) -> None:
    clipboard = draft.copy(["node_5", "node_6", "node_1"])
    json.dumps(clipboard)  # it is kept in browser storage: JSON only
    new = draft.paste(clipboard)
    assert new == ["node_9", "node_10", "node_11"]
    pasted = {e.source + ">" + e.target for e in draft.document.edges if e.source in new}
    assert pasted == {"node_10>node_11"}  # node_5 -> node_6 copied; node_1 -> node_5 was not between copies
    assert draft.position("node_10") == (560, 200)
    draft.undo()
    assert len(draft.document.nodes) == 8
    assert draft.paste(None) == []
    with pytest.raises(EditError, match="clipboard"):
        draft.paste({"nodes": [{"id": "x"}]})


def test_auto_layout_goes_left_to_right_by_depth(draft: FlowDraft) -> None:
    positions = layered_positions(draft.document)
    xs = {k: v[0] for k, v in positions.items()}
    assert xs["node_1"] < xs["node_2"] == xs["node_3"] == xs["node_4"] < xs["node_5"] < xs["node_6"] < xs["node_7"]
    assert len({positions[n][1] for n in ("node_2", "node_3", "node_4")}) == 3
    draft.auto_layout()
    assert draft.position("node_6") == (float(xs["node_6"]), float(positions["node_6"][1]))
    assert draft.undo() and draft.position("node_6") == (780, 160)


def test_layout_survives_a_cycle() -> None:
    doc = FlowDocument.model_validate({"flow_id": "c",
                                       "nodes": [{"id": "a", "type": "delay"}, {"id": "b", "type": "delay"}],
                                       "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}]})
    assert set(layered_positions(doc)) == {"a", "b"}


def test_flow_settings_and_replace_document(draft: FlowDraft) -> None:
    draft.set_flow(name="Renamed", execution="sequential")
    assert draft.document.name == "Renamed" and draft.document.settings.execution == "sequential"
    saved = draft.saved_document
    draft.replace_document(saved)
    assert not draft.dirty
    draft.undo()
    assert draft.document.name == "Renamed"
    draft.mark_saved(2)
    assert not draft.dirty and draft.version == 2


def test_a_blank_document_exports_its_edits() -> None:
    draft = FlowDraft(FlowDocument(flow_id="blank"), REGISTRY, "1")
    a = draft.add_node("user_input")
    b = draft.add_node("output", 300, 0)
    draft.connect(a, b)
    exported = draft.document.dump()
    assert [n["id"] for n in exported["nodes"]] == [a, b] and exported["edges"] == [{"source": a, "target": b}]
    assert load_flow(draft.document.dump_json()).dump() == exported


def test_diff_reads_like_a_review(draft: FlowDraft) -> None:
    old = draft.saved_document
    draft.set_config_value("node_3", "query", "{{ text }}")
    draft.move_nodes({"node_1": (5, 5)})
    draft.delete(["node_7"])
    draft.add_node("delay")
    draft.set_cache("node_2", {"enabled": False, "ttl": 600}, scope="type")
    lines = [str(c) for c in diff_documents(old, draft.document)]
    assert "changed node node_3 (Search products): config.query: \"{{ user_message }}\" → \"{{ text }}\"" in lines
    assert "changed node node_1 (User message): moved" in lines
    assert "removed node node_7 (Save conversation)" in lines
    assert "added node node_9 (Delay): type delay" in lines
    assert "removed edge node_6 → node_7" in lines
    assert any(line.startswith("changed cache category_detection: enabled: true → false") for line in lines)
    assert diff_documents(old, old) == []
