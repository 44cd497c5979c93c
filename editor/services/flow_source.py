"""The runtime's ``FlowSource`` port over the flows service: what sub-flow, iterate and an
agent's flow tools read another flow of the same tenant through (a parsed version is shared,
so the engine reuses its compiled plan)."""
from __future__ import annotations

from runtime.errors import NodeError
from runtime.flow.model import FlowDocument

from .errors import DATABASE_ERRORS, NotFound
from .flows import FlowService


class StoredFlowSource:
    def __init__(self, flows: FlowService) -> None:
        self.flows = flows

    async def load(self, tenant_id: str, flow_id: str, version: int | None = None) -> FlowDocument:
        try:
            stored = await self.flows.read(tenant_id, flow_id, version)
        except NotFound:
            which = f"version {version} of flow {flow_id!r}" if version else f"flow {flow_id!r}"
            raise NodeError(f"{which} does not exist for this tenant") from None
        except DATABASE_ERRORS as exc:
            raise NodeError(f"flow {flow_id!r} could not be read: {type(exc).__name__}") from None
        if stored.problems:
            raise NodeError(f"flow {flow_id!r} version {stored.version} cannot run: {stored.problems[0].message}")
        return stored.document
