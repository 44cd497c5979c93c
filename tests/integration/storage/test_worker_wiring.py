"""What ``akis worker`` wires: executors and warm-up factories, the flows it warms."""
from __future__ import annotations

import pytest

from runtime.services import Services
from storage.errors import StorageError
from storage.jobs.defaults import documents_with_warmup
from storage.jobs.worker import cache_warmup, load_object, make_warmup
from storage.repos import flows

FLOW = {"akis": 1, "flow_id": "warm", "nodes": [{"id": "in", "type": "user_input"}],
        "settings": {"warmup_inputs": [{"user_message": "Transpalet arıyorum"},
                                       {"user_message": "forklift", "tenant_id": "5"}]}}


def test_warmup_visits_only_flows_with_inputs_pinned_to_their_tenant(db):
    db.call(flows.save_flow, "2", FLOW)
    db.call(flows.save_flow, "2", {"akis": 1, "flow_id": "cold", "nodes": []})
    found = db.call(documents_with_warmup, "2")
    assert [d.flow_id for d in found] == ["warm"]
    assert [i["tenant_id"] for i in found[0].settings.warmup_inputs] == ["2", "2"]  # never tenant 5's cache
    assert db.call(flows.get_document, "2", "warm").settings.warmup_inputs[1]["tenant_id"] == "5"  # stored as written
    assert db.call(documents_with_warmup, "5") == []


async def test_warmup_factories_take_services_and_optionally_the_database(db):
    calls: list[tuple] = []

    def one(services):
        async def warm():
            calls.append(("one", services))
        return warm

    def two(services, database):
        async def warm():
            calls.append(("two", database))
        return warm

    services = Services()
    for factory in (one, two):
        await cache_warmup({"warmup": make_warmup(factory, services, db)})
    assert calls == [("one", services), ("two", db)]
    assert make_warmup(None, services, db) is None
    assert await cache_warmup({"warmup": None}) is None


def test_load_object_names_the_problem():
    assert load_object("storage.jobs.defaults:engine_executor").__name__ == "engine_executor"
    with pytest.raises(StorageError, match="module:attribute"):
        load_object("no_colon")
    with pytest.raises(StorageError, match="cannot load"):
        load_object("storage.jobs.defaults:missing")
