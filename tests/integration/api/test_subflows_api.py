"""Sub-flows through the HTTP API of a real app: a stored flow calls another of its tenant;
another tenant's flow of the same id is never reached; a save that would make flows call
each other in a cycle is refused with the chain named, also when the cycle runs through a flow
stored as a draft that cannot run yet."""
from __future__ import annotations

import uuid
from typing import Any

from .conftest import TENANT_A, Api
from .harness import trivial_flow


def caller(flow_id: str, target: str, **config: Any) -> dict[str, Any]:
    return {
        "akis": 1, "flow_id": flow_id,
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "sub", "type": "subflow", "config": {"flow_id": target, "stream": False, **config}},
                  {"id": "out", "type": "output", "config": {"fields": {"inner": "{{ subflow.answer }}"}}}],
        "edges": [{"source": "in", "target": "sub"}, {"source": "sub", "target": "out"}],
    }


async def test_a_stored_flow_runs_another_of_its_tenant(api: Api) -> None:
    suffix = uuid.uuid4().hex[:8]
    inner, outer = f"inner-{suffix}", f"outer-{suffix}"
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/flows", json=trivial_flow(inner))).status_code == 201
        assert (await a.post("/api/flows", json=caller(outer, inner))).status_code == 201
        run = await a.post(f"/api/flows/{outer}/runs", json={"inputs": {"user_message": "merhaba"}})
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "succeeded" and run.json()["output"] == {"inner": "echo: merhaba"}


async def test_another_tenants_flow_is_not_reached(api: Api) -> None:
    suffix = uuid.uuid4().hex[:8]
    inner, outer = f"secret-{suffix}", f"thief-{suffix}"
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/flows", json=trivial_flow(inner))).status_code == 201
    async with api.client(api.token_b) as b:
        assert (await b.post("/api/flows", json=caller(outer, inner))).status_code == 201
        run = await b.post(f"/api/flows/{outer}/runs", json={"inputs": {"user_message": "steal"}})
    body = run.json()
    assert body["status"] == "failed"
    assert f"flow {inner!r} does not exist for this tenant" in body["error"]
    assert "echo" not in str(body)


async def test_a_cycle_across_flows_is_refused_when_saving(api: Api) -> None:
    suffix = uuid.uuid4().hex[:8]
    first, second = f"cyc-a-{suffix}", f"cyc-b-{suffix}"
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/flows", json=caller(first, second))).status_code == 201  # b does not exist yet
        refused = await a.post("/api/flows", json=caller(second, first))
        assert refused.status_code == 422, refused.text
        [problem] = [p for p in refused.json()["problems"] if p["code"] == "subflow_cycle"]
        assert problem["node_id"] == "sub" and f"{second} -> {first} -> {second}" in problem["message"]
        assert (await a.get(f"/api/flows/{second}")).status_code == 404


def store_as_a_draft(api: Api, document: dict[str, Any]) -> None:
    """What the editor's save stores for a draft: the version as it is, problems and all."""
    from storage.db import Database
    from storage.repos.flows import save_flow

    database = Database(api.database_url)
    try:
        database.call(save_flow, TENANT_A, document, "a draft from the editor")
    finally:
        database.dispose()


async def test_a_cycle_through_a_draft_that_cannot_run_yet_is_refused(api: Api) -> None:
    suffix = uuid.uuid4().hex[:8]
    first, second = f"draft-a-{suffix}", f"draft-b-{suffix}"
    draft = caller(first, second)
    draft["nodes"].append({"id": "later", "type": "subflow"})  # not set up nor wired yet: a draft's problem
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/flows", json=trivial_flow(second))).status_code == 201
        store_as_a_draft(api, draft)
        assert (await a.get(f"/api/flows/{first}")).json()["problems"]  # it cannot run as it is
        refused = await a.put(f"/api/flows/{second}", json=caller(second, first))
        assert refused.status_code == 422, refused.text
        [problem] = [p for p in refused.json()["problems"] if p["code"] == "subflow_cycle"]
        assert f"{second} -> {first} -> {second}" in problem["message"]
        assert (await a.get(f"/api/flows/{second}")).json()["current_version"] == 1
