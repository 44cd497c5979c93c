"""Per-node records of runs (``run_nodes``): written with the run's row, read for inspection.

Values are made safe here, in the writer's thread (off the event loop): secrets masked, large
values folded (:func:`runtime.fold.fold`), so a row stays small whatever a node returned."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlmodel import Session, col, select

from runtime.engine.inspect import NodeRecord
from runtime.fold import Folder

from ..models import Run
from ..tables.inspection import RunNode
from ..types import utcnow
from ._common import tenant_key
from .runs import record_run

MAX_KEY = 255  # the cache_key column
RUN_NODES: Table = RunNode.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table classes


def node_values(tenant: str, run_id: str, position: int, record: NodeRecord, folder: Folder) -> dict[str, Any]:
    """The row of one node record, its values masked and folded by ``folder``."""
    inputs, folded_in = folder.fold(record.inputs)
    config, folded_config = folder.fold(record.config) if record.config is not None else (None, False)
    output, folded_out = folder.fold(record.output) if record.output is not None else (None, False)
    text, folded_text = folder.long_text(record.text)
    error, _ = folder.long_text(record.error)
    return {
        "run_id": run_id, "node_id": record.node_id[:64], "tenant_id": tenant, "node_type": record.node_type[:64],
        "position": position, "status": record.status[:16], "start_ms": float(record.start_ms),
        "duration_ms": float(record.duration_ms),
        "inputs": inputs if isinstance(inputs, dict) else {"value": inputs},
        "config": config if config is None or isinstance(config, dict) else {"value": config},
        "output": output if output is None or isinstance(output, dict) else {"value": output},
        "text": text, "folded": folded_in or folded_config or folded_out or folded_text,
        "cache": record.cache[:16], "cache_key": (record.cache_key or None) and record.cache_key[:MAX_KEY],
        "cache_ttl": record.cache_ttl, "attempts": record.attempts, "tokens_in": int(record.tokens_in),
        "tokens_out": int(record.tokens_out), "error": error, "created_at": utcnow(),
    }


def record_run_with_nodes(session: Session, tenant_id: str, run_id: str, flow_id: str, *,
                          nodes: Sequence[NodeRecord], secrets: Iterable[str] = (), **run: Any) -> bool:
    """:func:`~storage.repos.runs.record_run` and its nodes' records in one unit of work (one
    INSERT for the nodes); False, and nothing written, when the run was already recorded."""
    added = record_run(session, tenant_id, run_id, flow_id, **run)
    if added:
        _insert(session, tenant_id, run_id, nodes, secrets)
    return added


def add_nodes(session: Session, tenant_id: str, run_id: str, nodes: Sequence[NodeRecord],
              secrets: Iterable[str] = ()) -> bool:
    """The node records of a run of this tenant, recorded already (a worker's run, with its row's
    end); False, and nothing written, for a run the tenant does not have."""
    query = select(Run.id).where(Run.id == run_id, Run.tenant_id == tenant_key(tenant_id))
    if session.exec(query).first() is None:
        return False
    _insert(session, tenant_id, run_id, nodes, secrets)
    return True


def _insert(session: Session, tenant_id: str, run_id: str, nodes: Sequence[NodeRecord], secrets: Iterable[str]) -> None:
    """The records, masked and folded, in one INSERT."""
    if nodes:
        tenant, folder = tenant_key(tenant_id), Folder(secrets)
        rows = [node_values(tenant, run_id, i, r, folder) for i, r in enumerate(nodes)]
        session.execute(insert(RUN_NODES), rows)  # the Core table: no ORM bookkeeping per row (-40% a write)


def run_nodes(session: Session, tenant_id: str, run_id: str) -> list[RunNode]:
    """A run's node records in start order; empty for another tenant's run."""
    query = select(RunNode).where(RunNode.tenant_id == tenant_key(tenant_id), RunNode.run_id == run_id)
    return list(session.exec(query.order_by(col(RunNode.position))))


def run_node(session: Session, tenant_id: str, run_id: str, node_id: str) -> RunNode | None:
    query = select(RunNode).where(RunNode.tenant_id == tenant_key(tenant_id), RunNode.run_id == run_id,
                                  RunNode.node_id == node_id)
    return session.exec(query).first()
