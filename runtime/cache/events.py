"""Events clear the cache by tag: ``product.updated`` -> ``products`` (event-based clearing).

The defaults apply to every tenant. A flow's ``settings.cache_events`` applies to the tenant
that owns the flow, and to no other: a mapping is kept per tenant and per flow, so saving a
flow again replaces its mapping and deleting it removes it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from .keys import check_tags
from .tiered import TieredCache

log = logging.getLogger("runtime.cache")

DEFAULT_EVENTS: dict[str, list[str]] = {
    "product.updated": ["products"],
    "category.updated": ["categories"],
    "knowledge.updated": ["knowledge"],  # every knowledge_retrieval entry of the tenant (one base: its own tag)
}

EventMap = Mapping[str, Iterable[str]]


class CacheEvents:
    def __init__(self, cache: TieredCache, defaults: EventMap | None = None) -> None:
        self.cache = cache
        self.defaults: dict[str, list[str]] = checked(DEFAULT_EVENTS if defaults is None else defaults)
        self._flows: dict[str, dict[str, dict[str, list[str]]]] = {}  # tenant -> flow id -> event -> tags

    def set_flow(self, tenant_id: Any, flow_id: str, mapping: EventMap) -> None:
        """A tenant's flow maps these events (its ``settings.cache_events``); replaces what it mapped before.

        Raises :class:`~runtime.cache.keys.CacheKeyError` for an unusable tag (nothing changes then)."""
        tenant = str(tenant_id)
        clean = checked(mapping)
        flows = self._flows.setdefault(tenant, {})
        if clean:
            flows[str(flow_id)] = clean
        else:
            flows.pop(str(flow_id), None)

    def drop_flow(self, tenant_id: Any, flow_id: str) -> None:
        """The flow was deleted: its events no longer clear anything."""
        self._flows.get(str(tenant_id), {}).pop(str(flow_id), None)

    def add_flows(self, tenant_id: Any, flows: Iterable[Any]) -> None:
        """Each flow's ``settings.cache_events``, for this tenant."""
        for flow in flows:
            self.set_flow(tenant_id, str(flow.flow_id), flow.settings.cache_events)

    def tags_for(self, tenant_id: Any, event_name: str) -> list[str]:
        """The defaults' tags for the event, then this tenant's flows' (never another tenant's)."""
        tags = list(self.defaults.get(event_name, []))
        for mapping in self._flows.get(str(tenant_id), {}).values():
            for tag in mapping.get(event_name, []):
                if tag not in tags:
                    tags.append(tag)
        return tags

    def events_for(self, tenant_id: Any) -> list[str]:
        """Every event name this tenant can emit with an effect, sorted."""
        names = set(self.defaults)
        for mapping in self._flows.get(str(tenant_id), {}).values():
            names.update(mapping)
        return sorted(names)

    async def emit(self, tenant_id: Any, event_name: str) -> list[str]:
        """Invalidate the tags mapped to ``event_name`` for this tenant; returns those tags.

        An unknown event clears nothing (and says so in the log); a down version store is
        reported by the cache's breaker and returns no tags.
        """
        tags = self.tags_for(tenant_id, event_name)
        if not tags:
            log.info("cache event %r maps to no tags for tenant %s: nothing cleared", event_name[:100], tenant_id)
            return []
        if not await self.cache.invalidate(tenant_id, tags):
            return []
        log.info("cache event %r for tenant %s cleared tags %s", event_name[:100], tenant_id, ", ".join(tags))
        return tags


def checked(mapping: EventMap) -> dict[str, list[str]]:
    """A copy of ``event -> tags`` with every tag checked (duplicates dropped, order kept)."""
    out: dict[str, list[str]] = {}
    for event, tags in mapping.items():
        current = out.setdefault(str(event), [])
        for tag in check_tags(tags):
            if tag not in current:
                current.append(tag)
    return out
