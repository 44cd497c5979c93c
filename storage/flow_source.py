"""The runtime's ``FlowSource`` port over the flows tables: what sub-flow, iterate and an
agent's flow tools read another flow of the tenant through where the app's flows service is not
running (``akis worker`` in queue mode). A version is read, checked and parsed once, then the
same document is handed out, so the engine reuses its compiled plan."""
from __future__ import annotations

import asyncio
from datetime import datetime

from cachetools import LRUCache

from runtime.errors import NodeError
from runtime.flow.model import FlowDocument
from runtime.flow.storable import check_storable
from runtime.nodes.registry import NodeRegistry

from .db import Database
from .errors import StorageError
from .repos.flows import get_flow, get_version


class SqlFlowSource:
    def __init__(self, database: Database, registry: NodeRegistry, parsed_versions: int = 256) -> None:
        self.database = database
        self.registry = registry
        # versions never change: (tenant, flow, the flow's creation time, version) never goes stale
        self._parsed: LRUCache[tuple[str, str, datetime, int], FlowDocument] = LRUCache(maxsize=parsed_versions)

    async def load(self, tenant_id: str, flow_id: str, version: int | None = None) -> FlowDocument:
        try:
            flow = await self.database.run(get_flow, tenant_id, flow_id)
        except StorageError as exc:
            raise NodeError(str(exc)) from None
        if flow is None:
            raise NodeError(f"flow {flow_id!r} does not exist for this tenant")
        wanted = version or flow.current_version
        key = (str(tenant_id), flow.id, flow.created_at, wanted)
        document = self._parsed.get(key)
        if document is not None:
            return document
        row = await self.database.run(get_version, tenant_id, flow_id, wanted)
        if row is None:
            raise NodeError(f"version {wanted} of flow {flow_id!r} does not exist for this tenant")
        checked, problems = await asyncio.to_thread(check_storable, dict(row.document), self.registry, str(tenant_id))
        if checked is None or problems:
            why = problems[0].message if problems else "it cannot be read"
            raise NodeError(f"flow {flow_id!r} version {wanted} cannot run: {why}")
        self._parsed[key] = checked
        return checked
