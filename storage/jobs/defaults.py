"""What ``akis worker`` runs when nothing else is wired: the engine's own background executor
and, with a shared cache tier, the scheduled warm-up of every stored flow.

This is wiring, so it is the one storage module that reaches into the engine and the cache.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from runtime.cache.warmup import ROUND_SHARE, cluster_round_lock, warm_up
from runtime.engine.background import execute_job
from runtime.ports import BackgroundJob
from runtime.services import Services
from runtime.settings import get_settings
from runtime.wiring import build_cache, build_engine, build_registry, build_services

from ..db import Database
from ..repos import flows, tenants

log = logging.getLogger(__name__)


def engine_executor(services: Services) -> Callable[[BackgroundJob], Awaitable[None]]:
    """``runtime.engine.background.execute_job`` over the full services, storage-backed."""
    full = build_services(conversations=services.conversations, catalogue=services.catalogue)
    return partial(execute_job, registry=build_registry(), services=full)


def stored_flows_warmup(services: Services, database: Database) -> Callable[[], Awaitable[Any]]:
    """Warm-up over the current version of every stored flow that has warm-up inputs, once per
    round across the cluster: the web instances claim the same round (``cluster_round_lock``)."""
    settings = get_settings()
    cache = build_cache()
    shared = any(t in ("redis", "memcached") for t in settings.tiers)
    lock = cluster_round_lock(settings)

    async def warm() -> Any:
        if cache is None or not shared:
            log.info("cache warm-up skipped: no shared cache tier (AKIS_CACHE_TIERS) for workers to fill")
            return None
        if lock is not None and not await lock.claim(max(settings.warmup_interval_s, 60.0) * ROUND_SHARE):
            log.info("cache warm-up skipped: another instance warms this round")
            return None
        runs = 0
        for tenant_id in await database.run(tenants.list_tenant_ids):
            documents = await database.run(documents_with_warmup, tenant_id)
            if documents:
                report = await warm_up(documents, cache, default_tenant=tenant_id,
                                       engine_factory=lambda c: build_engine(cache=c, services=services))
                runs += report.runs
        return runs

    return warm


def documents_with_warmup(session: Any, tenant_id: str) -> list[Any]:
    """The tenant's current flows that have warm-up inputs, each input pinned to the tenant:
    a flow never warms another tenant's cache keys, whatever its inputs say."""
    found = []
    for flow in flows.list_flows(session, tenant_id):
        document = flows.get_document(session, tenant_id, flow.id)
        if document is None or not document.settings.warmup_inputs:
            continue
        pinned = [{**inputs, "tenant_id": tenant_id} for inputs in document.settings.warmup_inputs]
        settings = document.settings.model_copy(update={"warmup_inputs": pinned})
        found.append(document.model_copy(update={"settings": settings}))
    return found
