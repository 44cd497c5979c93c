"""Flows of the caller's tenant: list, create, import, read, update (a new version), delete,
versions, export. Another tenant's flow answers 404, as does one that does not exist.

A document is stored only once it parsed strictly, validated with no problem and read back the
same (``flow_body``); otherwise 422 lists every problem and nothing is stored. A stored version
that cannot be read (saved before these checks existed) answers 422 naming why, never a 500.
"""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from editor.auth.principal import Principal
from runtime.errors import Problem
from runtime.flow.model import FlowDocument

from .deps import not_found, principal_dependency
from .documents import read_stored, unreadable
from .errors import encodable
from .flow_body import (
    PROBLEMS_RESPONSE,
    body_text,
    checked_document,
    flow_body_openapi,
    problems,
)
from .models import FlowOut, FlowSummary, FlowVersionInfo


def _summary(flow: Any) -> dict[str, Any]:
    return {"flow_id": flow.id, "name": encodable(flow.name or ""), "current_version": flow.current_version,
            "created_at": flow.created_at, "updated_at": flow.updated_at}


def build_router(context: Any) -> APIRouter:
    from editor import flowstore
    from storage.errors import Conflict, StorageError
    from storage.repos import flows as repo

    router = APIRouter(prefix="/api/flows", tags=["flows"])
    require = principal_dependency(context)

    def learn_events(tenant: str, flow_id: str, document: FlowDocument) -> None:
        """A saved flow's ``settings.cache_events`` count for POST /api/events, for its tenant only."""
        if context.cache_events is not None:
            context.cache_events.set_flow(tenant, flow_id, document.settings.cache_events)

    def storage_key(flow_id: str | int) -> str:
        try:
            return repo.flow_key(flow_id)
        except StorageError as exc:
            raise problems("the flow id cannot be stored", [Problem("flow_id", str(exc), field="flow_id")]) from None

    async def flow_out(tenant: str, flow_id: str) -> dict[str, Any]:
        def read(session: Any) -> tuple[dict[str, Any], dict[str, Any] | None, int] | None:
            flow = repo.get_flow(session, tenant, flow_id)
            if flow is None:
                return None
            row = repo.get_version(session, tenant, flow_id)
            return _summary(flow), (row.document if row else None), flow.current_version
        try:
            found = await context.database.run(read)
        except StorageError:
            found = None
        if found is None:
            raise not_found(f"flow {flow_id!r}")
        summary, data, version = found
        if data is None:
            return {**summary, "document": {}, "problems": []}
        document, found_problems = await run_in_threadpool(read_stored, data, context.registry, tenant)
        if document is None:
            raise unreadable(flow_id, version, found_problems)
        return {**summary, "document": document.dump(), "problems": found_problems}

    @router.get("", response_model=list[FlowSummary], summary="List the tenant's flows")
    async def list_flows(principal: Principal = Depends(require)) -> list[dict[str, Any]]:
        rows = await context.database.run(repo.list_flows, principal.tenant_id)
        return [_summary(f) for f in rows]

    @router.post("", response_model=FlowOut, status_code=201, summary="Create a flow (its version 1)",
                 openapi_extra=flow_body_openapi(), responses=PROBLEMS_RESPONSE)
    async def create_flow(request: Request, comment: str | None = Query(None, max_length=500),
                          principal: Principal = Depends(require)) -> Any:
        tenant = principal.tenant_id
        document = await checked_document(await body_text(request), context.registry, tenant)
        flow_id = storage_key(document.flow_id)

        def create(session: Any) -> None:
            if repo.get_flow(session, tenant, flow_id) is not None:
                raise Conflict(f"flow {flow_id!r} already exists: PUT /api/flows/{flow_id} saves a new version")
            repo.save_flow(session, tenant, document, comment)

        try:
            await context.database.run(create)
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        except StorageError as exc:
            raise HTTPException(422, str(exc)) from None
        learn_events(tenant, flow_id, document)
        return JSONResponse(_jsonable(await flow_out(tenant, flow_id)), status_code=201)

    @router.post("/import", response_model=FlowOut, status_code=201, responses=PROBLEMS_RESPONSE,
                 summary="Import a flow file (what export writes): a new flow, a new version, or a copy",
                 openapi_extra=flow_body_openapi())
    async def import_flow(request: Request,
                          mode: Literal["new", "version", "copy"] = Query(
                              "new", description="new: 409 if the id is taken; version: add a version; "
                                                 "copy: save under a fresh id"),
                          principal: Principal = Depends(require)) -> Any:
        tenant = principal.tenant_id
        text = await body_text(request)
        try:
            result = await run_in_threadpool(flowstore.import_flow, context.database, context.registry, tenant,
                                             text, mode=mode)
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        except StorageError as exc:
            raise HTTPException(422, str(exc)) from None
        if result.exists and result.document is not None:
            raise HTTPException(409, f"flow {str(result.document.flow_id)!r} already exists: import with "
                                     "?mode=version to add a version, or ?mode=copy to save a copy")
        if result.flow_id is None or result.document is None:
            raise problems(f"the flow has {len(result.problems)} problem(s) and was not imported", result.problems)
        learn_events(tenant, result.flow_id, result.document)
        return JSONResponse(_jsonable(await flow_out(tenant, result.flow_id)), status_code=201)

    @router.get("/{flow_id}", response_model=FlowOut, summary="Read a flow (its current version)",
                responses=PROBLEMS_RESPONSE)
    async def read_flow(flow_id: str, principal: Principal = Depends(require)) -> dict[str, Any]:
        return await flow_out(principal.tenant_id, flow_id)

    @router.put("/{flow_id}", response_model=FlowOut, summary="Save a new version of a flow",
                openapi_extra=flow_body_openapi(), responses=PROBLEMS_RESPONSE)
    async def update_flow(flow_id: str, request: Request, comment: str | None = Query(None, max_length=500),
                          principal: Principal = Depends(require)) -> dict[str, Any]:
        tenant = principal.tenant_id
        document = await checked_document(await body_text(request), context.registry, tenant)
        if str(document.flow_id) != flow_id:
            raise problems("the body is for another flow", [Problem(
                "flow_id", f"the document's flow_id {str(document.flow_id)!r} is not {flow_id!r}", field="flow_id")])

        def update(session: Any) -> bool:
            if repo.get_flow(session, tenant, flow_id) is None:
                return False
            repo.save_flow(session, tenant, document, comment)
            return True

        try:
            saved = await context.database.run(update)
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        except StorageError:
            saved = False
        if not saved:
            raise not_found(f"flow {flow_id!r}")
        learn_events(tenant, flow_id, document)
        return await flow_out(tenant, flow_id)

    @router.delete("/{flow_id}", status_code=204, summary="Delete a flow with all its versions")
    async def delete_flow(flow_id: str, principal: Principal = Depends(require)) -> Response:
        try:
            deleted = await context.database.run(repo.delete_flow, principal.tenant_id, flow_id)
        except StorageError:
            deleted = False
        if not deleted:
            raise not_found(f"flow {flow_id!r}")
        if context.cache_events is not None:
            context.cache_events.drop_flow(principal.tenant_id, flow_id)
        return Response(status_code=204)

    @router.get("/{flow_id}/versions", response_model=list[FlowVersionInfo], summary="A flow's versions, newest first")
    async def list_versions(flow_id: str, principal: Principal = Depends(require)) -> list[dict[str, Any]]:
        try:
            rows = await context.database.run(repo.list_versions, principal.tenant_id, flow_id)
        except StorageError:
            rows = []
        if not rows:
            raise not_found(f"flow {flow_id!r}")
        return [{"version": v.version, "comment": encodable(v.comment) if v.comment else v.comment,
                 "created_at": v.created_at} for v in rows]

    @router.get("/{flow_id}/export", summary="The flow document as JSON (what import reads)",
                response_description="The flow document", responses=PROBLEMS_RESPONSE)
    async def export_flow(flow_id: str, version: int | None = Query(None, ge=1, le=2**31 - 1),
                          principal: Principal = Depends(require)) -> Response:
        tenant = principal.tenant_id
        try:
            row = await context.database.run(repo.get_version, tenant, flow_id, version)
        except StorageError:
            row = None
        if row is None:
            raise not_found(f"flow {flow_id!r}" + (f" version {version}" if version else ""))
        document, found = await run_in_threadpool(read_stored, row.document, context.registry, tenant)
        if document is None:
            raise unreadable(flow_id, row.version, found)
        return Response(document.dump_json() + "\n", media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{flow_id}.json"'})

    return router


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)
