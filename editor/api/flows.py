"""Flows of the caller's tenant: list, create, read, update (a new version), delete, versions,
export. Another tenant's flow answers 404, as does one that does not exist."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from editor.auth.principal import Principal
from runtime.errors import AkisError
from runtime.flow.model import FlowDocument
from runtime.flow.validate import validate_flow

from .deps import not_found, principal_dependency
from .models import FlowOut, FlowSummary, FlowVersionInfo


def _summary(flow: Any) -> dict[str, Any]:
    return {"flow_id": flow.id, "name": flow.name, "current_version": flow.current_version,
            "created_at": flow.created_at, "updated_at": flow.updated_at}


def build_router(context: Any) -> APIRouter:
    from storage.errors import Conflict, StorageError
    from storage.repos import flows as repo

    router = APIRouter(prefix="/api/flows", tags=["flows"])
    require = principal_dependency(context)

    def learn_events(document: FlowDocument) -> None:
        """A saved flow's ``settings.cache_events`` (event -> tags) count for POST /api/events."""
        if context.cache_events is not None and document.settings.cache_events:
            try:
                context.cache_events.add(document.settings.cache_events)
            except (ValueError, AkisError) as exc:
                raise HTTPException(422, f"settings.cache_events: {exc}") from None

    def problems_of(document: FlowDocument, tenant: str) -> list[dict[str, Any]]:
        return [p.to_dict() for p in validate_flow(document, context.registry, tenant)]

    async def flow_out(tenant: str, flow_id: str) -> dict[str, Any]:
        def read(session: Any) -> dict[str, Any] | None:
            flow = repo.get_flow(session, tenant, flow_id)
            if flow is None:
                return None
            document = repo.get_document(session, tenant, flow_id)
            return {**_summary(flow), "document": document.dump() if document else {}, "_doc": document}
        try:
            found = await context.database.run(read)
        except StorageError:
            found = None
        if found is None:
            raise not_found(f"flow {flow_id!r}")
        document = found.pop("_doc")
        found["problems"] = problems_of(document, tenant) if document is not None else []
        return found

    @router.get("", response_model=list[FlowSummary], summary="List the tenant's flows")
    async def list_flows(principal: Principal = Depends(require)) -> list[dict[str, Any]]:
        rows = await context.database.run(repo.list_flows, principal.tenant_id)
        return [_summary(f) for f in rows]

    @router.post("", response_model=FlowOut, status_code=201, summary="Create a flow (its version 1)")
    async def create_flow(document: FlowDocument, comment: str | None = Query(None, max_length=500),
                          principal: Principal = Depends(require)) -> Any:
        tenant = principal.tenant_id
        learn_events(document)

        def create(session: Any) -> None:
            if repo.get_flow(session, tenant, str(document.flow_id)) is not None:
                raise Conflict(f"flow {str(document.flow_id)!r} already exists: PUT /api/flows/{document.flow_id} "
                               "saves a new version")
            repo.save_flow(session, tenant, document, comment)

        try:
            await context.database.run(create)
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        except StorageError as exc:
            raise HTTPException(422, str(exc)) from None
        return JSONResponse(_jsonable(await flow_out(tenant, str(document.flow_id))), status_code=201)

    @router.get("/{flow_id}", response_model=FlowOut, summary="Read a flow (its current version)")
    async def read_flow(flow_id: str, principal: Principal = Depends(require)) -> dict[str, Any]:
        return await flow_out(principal.tenant_id, flow_id)

    @router.put("/{flow_id}", response_model=FlowOut, summary="Save a new version of a flow")
    async def update_flow(flow_id: str, document: FlowDocument, comment: str | None = Query(None, max_length=500),
                          principal: Principal = Depends(require)) -> dict[str, Any]:
        tenant = principal.tenant_id
        if str(document.flow_id) != flow_id:
            raise HTTPException(422, f"the document's flow_id {str(document.flow_id)!r} is not {flow_id!r}")
        learn_events(document)

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
        return await flow_out(tenant, flow_id)

    @router.delete("/{flow_id}", status_code=204, summary="Delete a flow with all its versions")
    async def delete_flow(flow_id: str, principal: Principal = Depends(require)) -> Response:
        try:
            deleted = await context.database.run(repo.delete_flow, principal.tenant_id, flow_id)
        except StorageError:
            deleted = False
        if not deleted:
            raise not_found(f"flow {flow_id!r}")
        return Response(status_code=204)

    @router.get("/{flow_id}/versions", response_model=list[FlowVersionInfo], summary="A flow's versions, newest first")
    async def list_versions(flow_id: str, principal: Principal = Depends(require)) -> list[dict[str, Any]]:
        try:
            rows = await context.database.run(repo.list_versions, principal.tenant_id, flow_id)
        except StorageError:
            rows = []
        if not rows:
            raise not_found(f"flow {flow_id!r}")
        return [{"version": v.version, "comment": v.comment, "created_at": v.created_at} for v in rows]

    @router.get("/{flow_id}/export", summary="The flow document as JSON (what import reads)",
                response_description="The flow document")
    async def export_flow(flow_id: str, version: int | None = Query(None, ge=1, le=2**31 - 1),
                          principal: Principal = Depends(require)) -> Response:
        try:
            document = await context.database.run(repo.get_document, principal.tenant_id, flow_id, version)
        except StorageError:
            document = None
        if document is None:
            raise not_found(f"flow {flow_id!r}" + (f" version {version}" if version else ""))
        return Response(document.dump_json() + "\n", media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{flow_id}.json"'})

    return router


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)
