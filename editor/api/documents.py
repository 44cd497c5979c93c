"""Stored flow versions, parsed and validated once.

Versions are immutable, so a parsed document keyed by (tenant, flow, the flow's creation
time, version) never goes stale (a deleted and re-created flow has a new creation time); reusing the same object also lets the engine reuse its compiled plan. Only the pointer
to the current version is read on each request.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from runtime.flow.model import FlowDocument


class DocumentCache:
    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str, int], tuple[FlowDocument, list[dict[str, Any]]]] = OrderedDict()

    def get(self, tenant: str, flow_id: str, created: str, version: int) -> tuple[FlowDocument, list[dict[str, Any]]] | None:
        key = (tenant, flow_id, created, version)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, tenant: str, flow_id: str, created: str, version: int, document: FlowDocument,
            problems: list[dict[str, Any]]) -> None:
        self._entries[(tenant, flow_id, created, version)] = (document, problems)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
