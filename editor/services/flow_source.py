"""The runtime's ``FlowSource`` port over the flows service: what sub-flow, iterate and an
agent's flow tools read another flow of the same tenant through (a parsed version is shared,
so the engine reuses its compiled plan)."""
from __future__ import annotations

from runtime.errors import NodeError
from runtime.flow.model import FlowDocument

from .errors import DATABASE_ERRORS, FlowProblems, NotFound
from .flows import FlowService


class StoredFlowSource:
    """``runnable_only=False`` hands out versions stored with problems too (an editor's draft):
    the save's cycle check follows their calls, which a run never reaches."""

    def __init__(self, flows: FlowService, *, runnable_only: bool = True) -> None:
        self.flows = flows
        self.runnable_only = runnable_only

    async def load(self, tenant_id: str, flow_id: str, version: int | None = None) -> FlowDocument:
        try:
            stored = await self.flows.read(tenant_id, flow_id, version)
        except NotFound:
            which = f"version {version} of flow {flow_id!r}" if version else f"flow {flow_id!r}"
            raise NodeError(f"{which} does not exist for this tenant") from None
        except DATABASE_ERRORS as exc:
            raise NodeError(f"flow {flow_id!r} could not be read: {type(exc).__name__}") from None
        except FlowProblems as exc:  # a row stored before the checks existed
            raise NodeError(f"flow {flow_id!r} cannot be read: {exc.detail}") from None
        if stored.problems and self.runnable_only:
            raise NodeError(f"flow {flow_id!r} version {stored.version} cannot run: {stored.problems[0].message}")
        return stored.document
