"""Sub-flows read from the database (the worker's FlowSource), on SQLite and PostgreSQL: the
current version or a pinned one, parsed once per version, never another tenant's flow."""
from __future__ import annotations

from typing import Any

import pytest

from runtime import Engine, Services
from runtime.errors import NodeError
from runtime.nodes.registry import default_registry
from storage.db import Database
from storage.flow_source import SqlFlowSource
from storage.repos.flows import save_flow


def echo(flow_id: str, text: str) -> dict[str, Any]:
    return {"akis": 1, "flow_id": flow_id,
            "nodes": [{"id": "in", "type": "user_input"},
                      {"id": "t", "type": "template", "config": {"template": text, "output_key": "answer"}},
                      {"id": "out", "type": "output"}],
            "edges": [{"source": "in", "target": "t"}, {"source": "t", "target": "out"}]}


async def test_versions_are_read_once_and_tenants_stay_apart(db: Database) -> None:
    db.call(save_flow, "2", echo("inner", "v1: {{ user_message }}"))
    db.call(save_flow, "2", echo("inner", "v2: {{ user_message }}"))
    db.call(save_flow, "3", echo("other", "tenant 3"))
    source = SqlFlowSource(db, default_registry())
    current = await source.load("2", "inner")
    assert current.nodes[1].config["template"].startswith("v2")
    assert await source.load("2", "inner") is current  # one document per version: its plan is reused
    assert (await source.load("2", "inner", 1)).nodes[1].config["template"].startswith("v1")
    with pytest.raises(NodeError, match="flow 'other' does not exist for this tenant"):
        await source.load("2", "other")
    with pytest.raises(NodeError, match="version 9 of flow 'inner' does not exist"):
        await source.load("2", "inner", 9)


async def test_a_subflow_runs_a_stored_flow(db: Database) -> None:
    db.call(save_flow, "2", echo("inner", "inner says {{ user_message }}"))
    outer = {"akis": 1, "flow_id": "outer",
             "nodes": [{"id": "in", "type": "user_input"},
                       {"id": "sub", "type": "subflow", "config": {"flow_id": "inner", "version": 1}},
                       {"id": "out", "type": "output", "config": {"fields": {"got": "{{ subflow.answer }}"}}}],
             "edges": [{"source": "in", "target": "sub"}, {"source": "sub", "target": "out"}]}
    registry = default_registry()
    engine = Engine(registry=registry, services=Services(flows=SqlFlowSource(db, registry)))
    result = await engine.run(outer, {"user_message": "hi", "tenant_id": "2"})
    assert result.status == "succeeded", result.error
    assert result.output == {"got": "inner says hi"}


async def test_the_workers_engine_reads_flows_from_the_database(db: Database) -> None:
    from runtime.settings import AkisSettings
    from storage.durable.wiring import runs_factory

    settings = AkisSettings(_env_file=None, redis_url="redis://127.0.0.1:6379/13")  # type: ignore[call-arg]  # no .env
    executor = runs_factory(settings, 1, "akis-test-jobs")(db)
    try:
        assert isinstance(executor.engine.services.flows, SqlFlowSource)
        assert executor.engine.services.engine is executor.engine
    finally:
        await executor.hub.aclose()
