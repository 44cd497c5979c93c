"""Evaluation datasets and evaluations of the caller's tenant (another tenant's answer 404).

Thin doors to ``editor/services/datasets.py`` and ``editor/services/evaluations.py``, which the
editor's pages and ``akis eval`` use too. Routes are listed in docs/api.md.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from editor.services.datasets import check_case
from editor.services.errors import Invalid

from .deps import ContextDep, PrincipalDep
from .evaluation_models import (
    CaseIn,
    CaseOut,
    DatasetDetail,
    DatasetIn,
    DatasetOut,
    DatasetPatch,
    EvaluationIn,
    EvaluationOut,
    ImportOut,
    ReportOut,
)

router = APIRouter(tags=["evaluations"])
Format = Annotated[Literal["jsonl", "csv"], Query(description="jsonl (with the scorers) or csv (cases only)")]
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


async def _dataset_out(context: ContextDep, tenant: str, dataset_id: str) -> DatasetOut:
    row = await context.datasets.get(tenant, dataset_id)
    return DatasetOut.of(row, len(await context.datasets.cases(tenant, row.id)))


# --- datasets ---------------------------------------------------------------------------------
@router.get("/api/datasets", summary="List the tenant's evaluation datasets")
async def list_datasets(context: ContextDep, principal: PrincipalDep) -> list[DatasetOut]:
    return [DatasetOut.of_summary(s) for s in await context.datasets.summaries(principal.tenant_id)]


@router.post("/api/datasets", status_code=201, summary="Create a dataset (409 if the name is taken)")
async def create_dataset(body: DatasetIn, context: ContextDep, principal: PrincipalDep) -> DatasetOut:
    row = await context.datasets.create(principal.tenant_id, body.name, body.description, body.scorers)
    return DatasetOut.of(row, 0)


@router.post("/api/datasets/import", status_code=201,
             summary="Import a JSONL or CSV file into a dataset (created when it does not exist)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/x-ndjson": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}}})
async def import_dataset(request: Request, context: ContextDep, principal: PrincipalDep, format: Format = "jsonl",
                         dataset: Annotated[str | None, Query(max_length=200)] = None,
                         replace: bool = False) -> ImportOut:
    body = await request.body()  # at most AKIS_API_MAX_BODY_BYTES (6 MiB; 413 beyond), as every request
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is not UTF-8 text (byte {exc.start + 1})") from None
    row, count = await context.datasets.import_text(principal.tenant_id, text, format, dataset, replace=replace)
    return ImportOut(dataset=await _dataset_out(context, principal.tenant_id, row.id), imported=count)


@router.get("/api/datasets/{dataset_id}", summary="A dataset (by id or name) with its cases")
async def read_dataset(dataset_id: str, context: ContextDep, principal: PrincipalDep) -> DatasetDetail:
    tenant = principal.tenant_id
    row = await context.datasets.get(tenant, dataset_id)
    cases = await context.datasets.cases(tenant, row.id)
    return DatasetDetail(dataset=DatasetOut.of(row, len(cases)), cases=[CaseOut.of(c) for c in cases])


@router.patch("/api/datasets/{dataset_id}", summary="Rename a dataset, or change its description or scorers")
async def update_dataset(dataset_id: str, body: DatasetPatch, context: ContextDep,
                         principal: PrincipalDep) -> DatasetOut:
    tenant = principal.tenant_id
    row = await context.datasets.update(tenant, dataset_id, name=body.name, description=body.description,
                                        scorers=body.scorers)
    return await _dataset_out(context, tenant, row.id)


@router.delete("/api/datasets/{dataset_id}", status_code=204,
               summary="Delete a dataset with its cases and evaluations")
async def delete_dataset(dataset_id: str, context: ContextDep, principal: PrincipalDep) -> Response:
    await context.datasets.delete(principal.tenant_id, dataset_id)
    return Response(status_code=204)


@router.get("/api/datasets/{dataset_id}/export", summary="The dataset as JSONL or CSV (what import reads)")
async def export_dataset(dataset_id: str, context: ContextDep, principal: PrincipalDep,
                         format: Format = "jsonl") -> Response:
    row = await context.datasets.get(principal.tenant_id, dataset_id)
    text = await context.datasets.export_text(principal.tenant_id, row.id, format)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", row.name) + f".{format}"  # a header value is latin-1
    return Response(text, media_type=MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/api/datasets/{dataset_id}/cases", status_code=201, summary="Add a case")
async def add_case(dataset_id: str, body: CaseIn, context: ContextDep, principal: PrincipalDep) -> CaseOut:
    (row,) = await context.datasets.add_cases(principal.tenant_id, dataset_id, [check_case(body.model_dump())])
    return CaseOut.of(row)


@router.post("/api/datasets/{dataset_id}/cases/from-run/{run_id}", status_code=201,
             summary="Add a case made from a recorded run (its message, inputs and answer)")
async def add_case_from_run(dataset_id: str, run_id: str, context: ContextDep, principal: PrincipalDep) -> CaseOut:
    return CaseOut.of(await context.datasets.case_from_run(principal.tenant_id, dataset_id, run_id))


@router.put("/api/datasets/{dataset_id}/cases/{case_id}", summary="Replace a case")
async def update_case(dataset_id: str, case_id: str, body: CaseIn, context: ContextDep,
                      principal: PrincipalDep) -> CaseOut:
    values = body.model_dump(exclude={"id"})
    return CaseOut.of(await context.datasets.update_case(principal.tenant_id, dataset_id, case_id, values))


@router.delete("/api/datasets/{dataset_id}/cases/{case_id}", status_code=204, summary="Delete a case")
async def delete_case(dataset_id: str, case_id: str, context: ContextDep, principal: PrincipalDep) -> Response:
    await context.datasets.delete_case(principal.tenant_id, dataset_id, case_id)
    return Response(status_code=204)


# --- evaluations ------------------------------------------------------------------------------
@router.post("/api/evaluations", status_code=202,
             summary="Run a dataset through one or more versions of a flow (202; ?wait=true answers when done)")
async def start_evaluation(body: EvaluationIn, context: ContextDep, principal: PrincipalDep,
                           wait: bool = False) -> EvaluationOut:
    tenant = principal.tenant_id
    row = await context.evaluations.start(tenant, body.dataset, body.flow_id, body.versions, baseline=body.baseline,
                                          concurrency=body.concurrency, use_cache=body.use_cache)
    if wait:
        row = await context.evaluations.wait(tenant, row.id)
    return EvaluationOut.of(row)


@router.get("/api/evaluations", summary="The tenant's evaluations, newest first")
async def list_evaluations(context: ContextDep, principal: PrincipalDep,
                           dataset: Annotated[str | None, Query(max_length=200)] = None,
                           limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[EvaluationOut]:
    tenant = principal.tenant_id
    dataset_id = (await context.datasets.get(tenant, dataset)).id if dataset else None
    return [EvaluationOut.of(r) for r in await context.evaluations.recent(tenant, dataset_id, limit)]


@router.get("/api/evaluations/{evaluation_id}", summary="An evaluation's status and progress (done of total)")
async def read_evaluation(evaluation_id: str, context: ContextDep, principal: PrincipalDep) -> EvaluationOut:
    return EvaluationOut.of(await context.evaluations.get(principal.tenant_id, evaluation_id))


@router.get("/api/evaluations/{evaluation_id}/report",
            summary="Per version: scorers, pass rate, latency p50/p95, tokens; case by case across versions")
async def evaluation_report(evaluation_id: str, context: ContextDep, principal: PrincipalDep,
                            changed: bool = False) -> ReportOut:
    return ReportOut.of(await context.evaluations.report(principal.tenant_id, evaluation_id), changed_only=changed)


@router.get("/api/evaluations/{evaluation_id}/results.csv", summary="Every case and version as CSV rows",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def evaluation_csv(evaluation_id: str, context: ContextDep, principal: PrincipalDep) -> Response:
    report = await context.evaluations.report(principal.tenant_id, evaluation_id)
    return Response(report.to_csv(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="evaluation-{report.evaluation.id}.csv"'})


@router.post("/api/evaluations/{evaluation_id}/cancel", summary="Stop a running evaluation")
async def cancel_evaluation(evaluation_id: str, context: ContextDep, principal: PrincipalDep) -> EvaluationOut:
    tenant = principal.tenant_id
    await context.evaluations.cancel(tenant, evaluation_id)
    return EvaluationOut.of(await context.evaluations.get(tenant, evaluation_id))
