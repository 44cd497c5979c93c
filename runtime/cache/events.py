"""Events clear the cache by tag: ``product.updated`` -> ``products`` (the seed's event-based
clearing). A global mapping, extended per flow by ``settings.cache_events``.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from .keys import check_tags
from .tiered import TieredCache

log = logging.getLogger("runtime.cache")

DEFAULT_EVENTS: dict[str, list[str]] = {
    "product.updated": ["products"],
    "category.updated": ["categories"],
}


class CacheEvents:
    def __init__(self, cache: TieredCache, mapping: Mapping[str, Iterable[str]] | None = None) -> None:
        self.cache = cache
        self.mapping: dict[str, list[str]] = {}
        self.add(DEFAULT_EVENTS if mapping is None else mapping)

    def add(self, mapping: Mapping[str, Iterable[str]]) -> None:
        """Merge more ``event -> tags`` (a flow's ``settings.cache_events``); tags accumulate."""
        for event, tags in mapping.items():
            current = self.mapping.setdefault(event, [])
            for tag in check_tags(tags):
                if tag not in current:
                    current.append(tag)

    def add_flows(self, flows: Iterable[Any]) -> None:
        for flow in flows:
            self.add(flow.settings.cache_events)

    def tags_for(self, event_name: str) -> list[str]:
        return list(self.mapping.get(event_name, []))

    async def emit(self, tenant_id: Any, event_name: str) -> list[str]:
        """Invalidate the tags mapped to ``event_name`` for this tenant; returns those tags.

        An unknown event clears nothing (and says so in the log); a down version store is
        reported by the cache's breaker and returns no tags.
        """
        tags = self.tags_for(event_name)
        if not tags:
            log.info("cache event %s maps to no tags: nothing cleared", event_name)
            return []
        if not await self.cache.invalidate(tenant_id, tags):
            return []
        log.info("cache event %s for tenant %s cleared tags %s", event_name, tenant_id, ", ".join(tags))
        return tags
