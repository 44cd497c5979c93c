"""``GET /metrics``: the app's Prometheus metrics (docs/observability.md).

Not under ``/api/`` (that path is the JSON aggregate of stored runs, ``GET /api/metrics``) and
not for a tenant's token: the metrics span every tenant. A scraper sends the bearer token of
``AKIS_METRICS_TOKEN`` or comes from an address on ``AKIS_METRICS_ALLOW``; with neither set the
metrics are off and the route answers 404.
"""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from editor.observability.metrics import NO_CREDENTIAL, OFF, REFUSED

from .deps import ContextDep

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, context: ContextDep) -> Response:
    metrics = context.runs.prometheus
    if metrics is None:
        raise HTTPException(404, OFF)
    client = request.client.host if request.client is not None else None
    allowed = metrics.allowed(request.headers.get("authorization"), client)
    if allowed is None:
        raise HTTPException(401, NO_CREDENTIAL,
                            headers={"WWW-Authenticate": "Bearer"})
    if not allowed:
        raise HTTPException(403, REFUSED)
    await metrics.refresh()
    if context.scaling is not None:  # the cluster's queue, workers and latency (editor/observability/scaling.py)
        await context.scaling.read()
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
