"""Fit and finish of the editor's model: sticky notes (format, edits, runs ignore them), where a
palette click places a node, palette search words, and suggestions too small to offer."""
from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from editor.graph import EditError, FlowDraft, diff_documents
from editor.graph.layout import NODE_SIZE, free_spot, inside
from editor.graph.notes import NOTE_PREFIX, note_html, note_props
from editor.palette import STICKY_NOTE, matches
from runtime import Engine, load_flow
from runtime.flow.model import FlowDocument
from runtime.flow.validate import validate_flow
from runtime.suggestions import suggest
from runtime.wiring import build_registry
from tests.unit.test_suggestions import CRAFTED, crafted, stats

NOTE = {"id": "why", "text": "# Why\nThe **search** runs first.", "x": 40, "y": -200, "width": 300, "height": 140,
        "color": "blue"}


def flow_with_note() -> dict[str, Any]:
    return {"akis": 1, "flow_id": "noted", "nodes": [
        {"id": "in", "type": "user_input"},
        {"id": "out", "type": "output", "config": {"fields": {"answer": "{{ user_message }}"}}}],
        "edges": [{"source": "in", "target": "out"}], "notes": [NOTE]}


# ---------- sticky notes in the flow format ----------
def test_a_note_round_trips_through_export_and_is_checked() -> None:
    document = FlowDocument.model_validate(flow_with_note())
    assert json.loads(document.dump_json())["notes"] == [NOTE]
    assert "notes" not in FlowDocument.model_validate({"flow_id": "plain"}).dump()  # no empty list written
    with pytest.raises(ValidationError, match="two sticky notes have the id 'why'"):
        FlowDocument.model_validate({**flow_with_note(), "notes": [NOTE, NOTE]})
    with pytest.raises(ValidationError, match="width"):
        FlowDocument.model_validate({**flow_with_note(), "notes": [{**NOTE, "width": 5}]})


async def test_the_engine_and_the_validator_ignore_notes() -> None:
    flow = load_flow(flow_with_note())
    assert validate_flow(flow, build_registry(), "1") == []
    result = await Engine().run(flow, {"user_message": "hello"})
    assert result.status == "succeeded" and result.output == {"answer": "hello"}


def test_notes_are_edited_undone_and_deleted_through_the_draft() -> None:
    draft = FlowDraft(FlowDocument.model_validate(flow_with_note()))
    added = draft.add_note(100, 200)
    assert added == "note_1" and draft.dirty
    draft.set_note_text(added, "first")
    draft.set_note_text(added, "first words")  # typing is one undo step
    draft.set_note_box(added, width=50, height=5000)  # kept within the note's bounds
    note = draft.note(added)
    assert (note.text, note.width, note.height) == ("first words", 120, 2000)
    draft.drop_nodes({f"{NOTE_PREFIX}{added}": (10.4, 20.6), "in": (0, 0)}, None)  # a drag of a note and a node
    assert (draft.note(added).x, draft.note(added).y) == (10, 21)
    draft.delete([f"{NOTE_PREFIX}why"])
    assert [n.id for n in draft.document.notes] == [added]
    draft.undo()
    assert [n.id for n in draft.document.notes] == ["why", added]
    for _ in range(4):
        draft.undo()
    assert [n.id for n in draft.document.notes] == ["why"] and not draft.dirty


def test_note_markdown_is_rendered_with_raw_html_escaped() -> None:
    html = note_html("**bold** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>bold</strong>" in html and "<script>" not in html and "javascript:" not in html
    (prop,) = note_props(FlowDocument.model_validate(flow_with_note()))
    assert prop["id"] == "note:why" and "<h1>Why</h1>" in prop["html"] and prop["color"] == "blue"


# ---------- where a palette click puts a node ----------
def test_a_placed_node_never_lies_on_another_and_stays_in_view() -> None:
    w, h = NODE_SIZE
    column = [(300.0, y, w, h) for y in (-130.0, 0.0, 130.0)]  # right of the anchor, every row is taken
    x, y = free_spot((0.0, 0.0), [(0.0, 0.0, w, h), *column])
    for bx, by, bw, bh in column:
        assert x + w <= bx or bx + bw <= x or y + h <= by or by + bh <= y
    view = (-50.0, -100.0, 700.0, 400.0)
    x, y = free_spot((0.0, 0.0), [(0.0, 0.0, w, h), (300.0, 0.0, w, h)], view)
    assert inside(view, (x, y, w, h))
    assert free_spot(None, []) == (0.0, 0.0)  # an empty flow: where the view starts


# ---------- palette search ----------
@pytest.mark.parametrize("query", ["llm", "gpt", "claude", "GPT answer"])
def test_the_palette_finds_the_ai_response_by_the_words_people_use(query: str) -> None:
    ai = next(t.describe() for t in build_registry().types_for("1") if t.type_id == "ai_response")
    assert matches(ai, query)
    assert matches(STICKY_NOTE, "comment") and not matches(STICKY_NOTE, "llm")


# ---------- suggestions ----------
def test_a_saving_that_shows_as_0_ms_is_not_offered() -> None:
    doc = crafted(cache_strategy={"category_detection": {"enabled": True, "key_fields": ["text"]}})
    cheap = {**CRAFTED, "cat": 3}
    rare = {"hits": 2, "misses": 48, "p50_hit_ms": 2.0, "p50_miss_ms": 5.0}
    assert any(s.kind == "low_hit_rate" for s in suggest(doc, stats(cheap, cat=rare)))  # ~2 ms: offered
    tiny = {**rare, "p50_hit_ms": 0.2, "p50_miss_ms": 0.6}
    assert all(s.kind != "low_hit_rate" for s in suggest(doc, stats(cheap, cat=tiny)))  # ~0 ms: not offered


def test_the_version_diff_names_note_changes() -> None:
    old = FlowDocument.model_validate(flow_with_note())
    new = FlowDocument.model_validate({**flow_with_note(), "notes": [{**NOTE, "text": "Reworded"}]})
    (change,) = diff_documents(old, new)
    assert str(change).startswith("changed note why: text:")


def test_a_note_takes_only_the_colours_there_are() -> None:
    draft = FlowDraft(FlowDocument.model_validate(flow_with_note()))
    draft.set_note_color("why", "green")
    assert draft.note("why").color == "green"
    with pytest.raises(EditError, match="color"):
        draft.set_note_color("why", "purple")
    assert draft.note("why").color == "green"
