"""Flows of the caller's tenant: list, create, import, read, update (a new version), delete,
versions, export. Another tenant's flow answers 404, as does one that does not exist.

Every route is a thin door to the flows service (``editor/services/flows.py``), which the
editor's pages use too: a document is stored only once it parsed strictly, validated with no
problem and read back the same; otherwise 422 lists every problem and nothing is stored.
"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from editor.context import AkisContext
from editor.services.errors import FlowProblems
from editor.services.flows import StoredFlow
from runtime.flow.wiring_checks import wiring_warnings

from .deps import ContextDep, PrincipalDep
from .flow_body import PROBLEMS_RESPONSE, body_text, flow_body_openapi
from .models import FlowOut, FlowSummary, FlowVersionInfo

router = APIRouter(prefix="/api/flows", tags=["flows"])

FlowBody = Annotated[str, Depends(body_text)]
Comment = Annotated[str | None, Query(max_length=500)]
ImportMode = Annotated[Literal["new", "version", "copy"], Query(
    description="new: 409 if the id is taken; version: add a version; copy: save under a fresh id")]
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get("", summary="List the tenant's flows")
async def list_flows(context: ContextDep, principal: PrincipalDep) -> list[FlowSummary]:
    return [FlowSummary.of(flow) for flow in await context.flows.summaries(principal.tenant_id)]


@router.post("", status_code=201, summary="Create a flow (its version 1)",
             openapi_extra=flow_body_openapi(), responses=PROBLEMS_RESPONSE)
async def create_flow(text: FlowBody, context: ContextDep, principal: PrincipalDep,
                      comment: Comment = None) -> FlowOut:
    return _out(context, principal.tenant_id, await context.flows.create(principal.tenant_id, text, comment))


@router.post("/import", status_code=201, responses=PROBLEMS_RESPONSE, openapi_extra=flow_body_openapi(),
             summary="Import a flow file (what export writes): a new flow, a new version, or a copy")
async def import_flow(text: FlowBody, context: ContextDep, principal: PrincipalDep,
                      mode: ImportMode = "new") -> FlowOut:
    tenant = principal.tenant_id
    result = await context.flows.import_text(tenant, text, mode)
    if result.exists and result.document is not None:
        raise HTTPException(409, f"flow {str(result.document.flow_id)!r} already exists: import with "
                                 "?mode=version to add a version, or ?mode=copy to save a copy")
    if result.flow_id is None:
        raise FlowProblems(f"the flow has {len(result.problems)} problem(s) and was not imported", result.problems)
    return _out(context, tenant, await context.flows.read(tenant, result.flow_id))


@router.get("/{flow_id}", summary="Read a flow (its current version)", responses=PROBLEMS_RESPONSE)
async def read_flow(flow_id: str, context: ContextDep, principal: PrincipalDep) -> FlowOut:
    return _out(context, principal.tenant_id, await context.flows.read(principal.tenant_id, flow_id))


@router.put("/{flow_id}", summary="Save a new version of a flow",
            openapi_extra=flow_body_openapi(), responses=PROBLEMS_RESPONSE)
async def update_flow(flow_id: str, text: FlowBody, context: ContextDep, principal: PrincipalDep,
                      comment: Comment = None) -> FlowOut:
    stored = await context.flows.save_version(principal.tenant_id, flow_id, text, comment)
    return _out(context, principal.tenant_id, stored)


@router.delete("/{flow_id}", status_code=204, summary="Delete a flow with all its versions")
async def delete_flow(flow_id: str, context: ContextDep, principal: PrincipalDep) -> Response:
    await context.flows.delete(principal.tenant_id, flow_id)
    return Response(status_code=204)


@router.get("/{flow_id}/versions", summary="A flow's versions, newest first")
async def list_versions(flow_id: str, context: ContextDep, principal: PrincipalDep) -> list[FlowVersionInfo]:
    return [FlowVersionInfo.of(v) for v in await context.flows.versions(principal.tenant_id, flow_id)]


@router.get("/{flow_id}/export", summary="The flow document as JSON (what import reads)",
            response_description="The flow document", responses=PROBLEMS_RESPONSE)
async def export_flow(flow_id: str, context: ContextDep, principal: PrincipalDep, version: Version = None) -> Response:
    text = await context.flows.export_json(principal.tenant_id, flow_id, version)
    return Response(text, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{flow_id}.json"'})


def _out(context: AkisContext, tenant_id: str, stored: StoredFlow) -> FlowOut:
    """The stored flow with its wiring warnings (a flow with errors gets its errors only)."""
    warnings = [] if stored.problems else wiring_warnings(stored.document, context.registry, tenant_id)
    return FlowOut.of_stored(stored, warnings)
