"""Flows with immutable versions and a current-version pointer."""
from __future__ import annotations

import pytest

from runtime.flow.model import FlowDocument
from storage.errors import NotFound, StorageError
from storage.repos import flows


def doc(flow_id: str | int = "support", name: str = "Support bot", **extra: object) -> dict:
    return {"akis": 1, "flow_id": flow_id, "name": name,
            "nodes": [{"id": "in", "type": "user_input"}, {"id": "out", "type": "output"}],
            "edges": [{"source": "in", "target": "out"}], **extra}


def test_every_save_is_a_new_version_and_the_pointer_follows(db):
    with db.session() as s:
        first = flows.save_flow(s, "2", doc(), "first")
        second = flows.save_flow(s, "2", doc(name="Support bot v2"), None)
    assert (first.version, second.version) == (1, 2)
    with db.session() as s:
        flow = flows.get_flow(s, "2", "support")
        assert flow is not None and flow.current_version == 2 and flow.name == "Support bot v2"
        assert [v.version for v in flows.list_versions(s, "2", "support")] == [2, 1]
        assert [v.comment for v in flows.list_versions(s, "2", "support")] == [None, "first"]
        assert flows.get_document(s, "2", "support").name == "Support bot v2"
        assert flows.get_document(s, "2", "support", 1).name == "Support bot"


def test_a_flow_head_is_the_rows_fields_read_without_the_orm(db):
    """What every run of a stored flow reads (``flow_head``): the same fields as ``get_flow``."""
    with db.session() as s:
        flows.save_flow(s, "2", doc())
        flows.save_flow(s, "2", doc(name="Support bot v2"))
        flows.set_current_version(s, "2", "support", 1)
    with db.session() as s:
        row = flows.get_flow(s, "2", "support")
    head = db.call_statement(flows.flow_head, "2", "support")
    assert head == flows.FlowHead(row.id, row.name, 1, row.created_at, row.updated_at)
    assert head.created_at.tzinfo is not None and head.name == "Support bot"
    assert db.call_statement(flows.flow_head, "2", " support ") == head  # the id as flow_key reads it
    assert db.call_statement(flows.flow_head, "2", "nope") is None
    assert db.call_statement(flows.flow_head, "3", "support") is None  # another tenant's
    with pytest.raises(StorageError, match="invalid flow id"):
        db.call_statement(flows.flow_head, "2", "no spaces inside")


def test_versions_are_immutable_and_rollback_moves_only_the_pointer(db):
    with db.session() as s:
        flows.save_flow(s, "2", doc(name="A"))
        flows.save_flow(s, "2", doc(name="B"))
        flows.set_current_version(s, "2", "support", 1)
    with db.session() as s:
        assert flows.get_flow(s, "2", "support").current_version == 1
        assert flows.get_flow(s, "2", "support").name == "A"
        assert len(flows.list_versions(s, "2", "support")) == 2
        assert flows.get_version(s, "2", "support", 2).document["name"] == "B"
        third = flows.save_flow(s, "2", doc(name="C"))
    assert third.version == 3


def test_the_stored_document_is_what_export_writes(db):
    original = FlowDocument.model_validate(doc(description="x", settings={"execution": "sequential"}))
    with db.session() as s:
        flows.save_flow(s, "2", original)
    with db.session() as s:
        loaded = flows.get_document(s, "2", "support")
    assert loaded.dump_json() == original.dump_json()


def test_seed_numeric_flow_ids_become_strings(db):
    with db.session() as s:
        saved = flows.save_flow(s, 2, doc(flow_id=6))
    assert saved.flow_id == "6"
    with db.session() as s:
        assert flows.get_flow(s, "2", 6) is not None
        assert flows.get_document(s, "2", "6").flow_id == 6  # the document itself is kept as written


def test_unknown_flow_and_version_are_clear_errors(db):
    with db.session() as s:
        flows.save_flow(s, "2", doc())
    with pytest.raises(NotFound, match="no version 9"):
        db.call(flows.set_current_version, "2", "support", 9)
    with pytest.raises(NotFound, match="'ghost' not found"):
        db.call(flows.set_current_version, "2", "ghost", 1)
    with pytest.raises(StorageError, match="invalid flow id"):
        db.call(flows.get_flow, "2", "has space")
    assert db.call(flows.get_document, "2", "ghost") is None


def test_delete_removes_every_version(db):
    with db.session() as s:
        flows.save_flow(s, "2", doc())
        flows.save_flow(s, "2", doc())
    assert db.call(flows.delete_flow, "2", "support") is True
    assert db.call(flows.delete_flow, "2", "support") is False
    assert db.call(flows.list_versions, "2", "support") == []
    assert db.call(flows.list_flows, "2") == []
