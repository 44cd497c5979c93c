"""Cache events and stats, the metrics aggregate, and the health checks.

- ``/healthz``: database, cache tiers, Redis and the channel relay, up or not (as before).
- ``/healthz/live``: the process answers (its event loop runs). A restart is the cure when not.
- ``/healthz/ready``: send this instance work? 503 once it drains (SIGTERM, ``editor/drain.py``)
  or while the database or Redis does not answer; the body also carries the scaling signal
  (queue depth, runs per worker, run latency) and the warm-up's state.
"""
from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import Session

from editor.context import AkisContext
from runtime.redis_clients import redis_client, request_timeouts
from runtime.settings import AkisSettings
from storage.repos.metrics import summary

from .deps import ContextDep, PrincipalDep
from .models import CacheEventRequest, CacheEventResponse, MetricRowOut, MetricsOut

_DURATION = re.compile(r"^\s*(\d{1,6}(?:\.\d{1,3})?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_WINDOW = timedelta(days=366)


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``, ``24h``, ``7d`` back from now, or an ISO time; 422 for anything else."""
    match = _DURATION.match(text)
    if match:
        window = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        return now - min(window, MAX_WINDOW)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HTTPException(422, f"since={text[:50]!r}: use 30m, 24h, 7d or an ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


router = APIRouter(prefix="/api", tags=["cache and metrics"])
health_router = APIRouter(tags=["health"])


@router.post("/events", summary="An event (product.updated, ...) clears its mapped cache tags for the caller's tenant")
async def cache_event(body: CacheEventRequest, context: ContextDep, principal: PrincipalDep) -> CacheEventResponse:
    if context.cache_events is None:
        return CacheEventResponse(event=body.event, tags_cleared=[])
    tags = await context.cache_events.emit(principal.tenant_id, body.event)
    return CacheEventResponse(event=body.event, tags_cleared=tags)


@router.get("/cache/stats", summary="Cache hit rates of the caller's tenant, per key and per node type")
async def cache_stats(context: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    if context.cache is None:
        return {"source": "off", "keys": {}, "node_types": {}, "outages": {}}
    stats = await context.cache.stats(principal.tenant_id)
    return {**stats, "node_types": stats.get("node_types", {}).get(principal.tenant_id, {})}


@router.get("/metrics", summary="Average duration and count per node type (or node) over a time range, slowest first")
async def metrics(
    context: ContextDep, principal: PrincipalDep,
    since: Annotated[str, Query(max_length=40, description="30m, 24h, 7d or an ISO time.")] = "24h",
    flow_id: Annotated[str | None, Query(max_length=64)] = None,
    by: Annotated[Literal["node_type", "node_id"], Query()] = "node_type",
) -> MetricsOut:
    now = datetime.now(UTC)
    start = parse_since(since, now)
    await context.metrics.flush()  # rows of runs that just finished count too
    stats = await context.database.run(summary, principal.tenant_id, start, flow_id=flow_id, by=by)
    rows = [MetricRowOut(key=s.key, avg_ms=s.avg_ms, count=s.count, max_ms=s.max_ms, cache_hit_rate=s.hit_rate,
                         failures=s.failures) for s in stats]
    return MetricsOut(since=start, until=now, by=by, flow_id=flow_id, rows=rows)


@health_router.get("/healthz", summary="Database, cache tiers and Redis: up or not (no credentials, no secrets)")
async def healthz(context: ContextDep) -> JSONResponse:
    checks: dict[str, Any] = {"database": await _database(context)}
    if context.cache is not None:
        checks["cache"] = {name: {"ok": bool(info.get("available")), "outages": int(info.get("outages", 0))}
                           for name, info in context.cache.health().items()}
    if context.settings.redis_url:
        checks["redis"] = await _redis(context.settings)
    channels: dict[str, Any] = {"ok": context.hub is not None,
                                "kind": type(context.hub).__name__ if context.hub else None}
    if context.hub is not None:  # the relay: available, outages so far, events it could not pass on
        channels.update(context.hub.health())
    checks["channels"] = channels
    healthy = checks["database"]["ok"] and checks.get("redis", {"ok": True})["ok"]
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)


@health_router.get("/healthz/live", summary="Liveness: the process answers (nothing else is checked)")
async def live(context: ContextDep) -> dict[str, Any]:
    return {"status": "ok", "draining": context.drain.draining}


@health_router.get("/healthz/ready", summary="Readiness: 503 while draining or when the database or Redis is down; "
                                              "with the scaling signal (queue depth, runs per worker, latency)")
async def ready(context: ContextDep) -> JSONResponse:
    drain = context.drain
    drain.probed = True  # a balancer watches: a drain gives it time to see readiness fail
    checks: dict[str, Any] = {"database": await _database(context)}
    if context.settings.redis_url:
        checks["redis"] = await _redis(context.settings)
    up = all(check["ok"] for check in checks.values())
    status = "draining" if drain.draining else "ok" if up else "degraded"
    body: dict[str, Any] = {
        "status": status, "draining": drain.draining, "checks": checks,
        "in_flight": {"runs": drain.running(), "requests": drain.requests},
        "scaling": (await context.scaling.read()).to_dict() if context.scaling is not None else None,
        "warmup": context.warmup.status() if context.warmup is not None else None,
    }
    return JSONResponse(body, status_code=200 if status == "ok" else 503)


# The database ping's own thread: in the shared pool it waited behind every run's recording, so
# under load (1000 streamed runs) /healthz took seconds and, past 3 s, said the database was down
# (bench/bench_healthz.py).
_PING_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="akis-health")


def _ping(session: Session) -> None:
    session.execute(text("SELECT 1"))


async def _database(context: AkisContext) -> dict[str, Any]:
    try:
        ping = asyncio.get_running_loop().run_in_executor(_PING_THREAD, context.database.call, _ping)
        await asyncio.wait_for(ping, 3.0)
        return {"ok": True, "dialect": context.database.dialect}
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return {"ok": False, "dialect": context.database.dialect, "error": type(exc).__name__}


async def _redis(settings: AkisSettings) -> dict[str, Any]:
    try:
        timeouts = request_timeouts(settings)
        client = redis_client(settings.redis_url, timeouts)
        try:
            await asyncio.wait_for(client.ping(), timeouts.call_s + 0.5)
        finally:
            await client.aclose()
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return {"ok": False, "error": type(exc).__name__}
