"""Stored flow versions, parsed and validated once (strictly: a bad stored row is a 422).

Versions are immutable, so a parsed document keyed by (tenant, flow, the flow's creation
time, version) never goes stale (a deleted and re-created flow has a new creation time); reusing the same object also lets the engine reuse its compiled plan. Only the pointer
to the current version is read on each request.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from runtime.flow.model import FlowDocument
from runtime.flow.storable import check_storable
from runtime.flow.strict_json import show
from runtime.nodes.registry import NodeRegistry


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


class FlowProblems(Exception):
    """A flow that cannot be saved or run: answered 422 ``{"detail": ..., "problems": [...]}``."""

    def __init__(self, detail: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems


def read_stored(data: dict[str, Any], registry: NodeRegistry | None, tenant: str) -> tuple[FlowDocument | None, list[dict[str, Any]]]:
    """A stored version, read as strictly as a new one is saved: ``(document, problems)``, the
    document ``None`` when it cannot be read at all. Never raises, so a row stored before these
    checks existed answers a clear 422, not a 500."""
    document, problems = check_storable(data, registry, tenant)
    return document, [p.to_dict() for p in problems]


def unreadable(flow_id: str, version: int, problems: list[dict[str, Any]]) -> FlowProblems:
    return FlowProblems(f"stored flow {show(flow_id)} version {version} cannot be read: save a new version "
                        "(PUT) or delete it", problems)
