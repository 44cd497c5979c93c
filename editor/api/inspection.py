"""Inspecting a run's nodes and running one node over HTTP (docs/api.md, "Node inspection").

The same node-runs service as the run pane's (``editor/services/node_runs.py``), for the
caller's tenant only: another tenant's run or flow answers 404 like a missing one."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from .deps import ContextDep, PrincipalDep
from .flow_body import PROBLEMS_RESPONSE
from .models import Strict

router = APIRouter(prefix="/api", tags=["inspection"])


class NodeRunRequest(Strict):
    inputs: dict[str, Any] = Field(default_factory=dict, description=(
        "Pinned inputs: the values the node's config reads (user_message, ...); 'nodes' maps upstream node ids "
        "to the outputs it reads as nodes.<id>."))
    from_run: str | None = Field(None, max_length=64, description=(
        "Run the flow from this node instead, reusing this earlier run's outputs of every node that does not "
        "depend on it (inputs is then ignored)."))
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="A stored version (default: the current one).")
    session_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,128}$")


@router.get("/runs/{run_id}/nodes", summary="A recorded run's nodes: inputs, rendered config, output, cache")
async def run_nodes(run_id: str, context: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    views = await context.node_runs.nodes(principal.tenant_id, run_id)
    return {"run_id": run_id, "nodes": [v.to_dict() for v in views]}


@router.get("/runs/{run_id}/nodes/{node_id}", summary="One node of a recorded run, with its cache entry's TTL left")
async def run_node(run_id: str, node_id: str, context: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return (await context.node_runs.node(principal.tenant_id, run_id, node_id)).to_dict()


@router.post("/flows/{flow_id}/nodes/{node_id}/run", responses=PROBLEMS_RESPONSE,
             summary="Run one node of a stored flow with pinned inputs, or the flow from it (from_run)")
async def run_one_node(flow_id: str, node_id: str, body: NodeRunRequest, context: ContextDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    tenant = principal.tenant_id
    stored = await context.flows.read(tenant, flow_id, body.version)
    records: list[Any] = []
    if body.from_run:
        started = await context.node_runs.run_from(tenant, stored.document, node_id, body.from_run,
                                                   session_id=body.session_id, version=stored.version,
                                                   on_records=lambda _run, found: records.extend(found))
    else:
        started = await context.node_runs.run_node(tenant, stored.document, node_id, body.inputs,
                                                   session_id=body.session_id, version=stored.version,
                                                   on_records=lambda _run, found: records.extend(found))
    result = await started.handle.result()
    views = context.node_runs.view(tenant, started.run_id, records)
    node = next((v.to_dict() for v in views if v.row["node_id"] == node_id), None)
    return {"run_id": started.run_id, "status": result.status, "error": result.error, "node": node,
            "nodes": [v.to_dict() for v in views] if body.from_run else None}
