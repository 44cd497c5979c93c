"""What the dashboard reads besides the aggregates: how far back the tenant's runs go (for the
default range) and, for the busiest cache keys, which node of which flow looked them up and with
what values (from the runs' per-node records, ``run_nodes``)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from ..models import Run
from ..tables.inspection import RunNode
from ..types import utcnow
from ._common import tenant_key

LOOK_BACK = timedelta(days=30)
RECORDS_PER_KEY = 20  # enough to know the flows a key serves; the newest gives its values


def oldest_run(session: Session, tenant_id: str, now: datetime | None = None) -> datetime | None:
    """The start of the tenant's oldest run of the last 30 days (an index lookup), or None."""
    now = now or utcnow()
    query = select(func.min(Run.started_at)).where(col(Run.tenant_id) == tenant_key(tenant_id),
                                                   col(Run.started_at) >= now - LOOK_BACK)
    value = session.execute(query).scalar()
    return value if isinstance(value, datetime) else None


@dataclass(slots=True)
class KeyRecord:
    """Who looked a cache key up: its node type, the (flow, node) pairs, and the newest
    lookup's config as rendered (masked and folded when it was recorded)."""

    node_type: str
    nodes: list[tuple[str, str]] = field(default_factory=list)  # (flow_id, node_id), newest first
    config: dict[str, Any] | None = None

    @property
    def flows(self) -> set[str]:
        return {flow for flow, _ in self.nodes}


def cache_key_records(session: Session, tenant_id: str, keys: Sequence[str]) -> dict[str, KeyRecord]:
    """The records of these keys (a few at most: the dashboard's top ten); keys never recorded
    (runs without per-node records) are left out."""
    if not keys:
        return {}
    tenant = tenant_key(tenant_id)
    query = (select(col(RunNode.cache_key), col(RunNode.node_type), col(RunNode.node_id), col(RunNode.config),
                    col(Run.flow_id))
             .join(Run, (col(Run.id) == col(RunNode.run_id)) & (col(Run.tenant_id) == col(RunNode.tenant_id)))
             .where(col(RunNode.tenant_id) == tenant, col(RunNode.cache_key).in_(list(keys)))
             .order_by(col(RunNode.created_at).desc())
             .limit(RECORDS_PER_KEY * len(keys)))
    found: dict[str, KeyRecord] = {}
    for key, node_type, node_id, config, flow_id in session.execute(query):
        record = found.setdefault(str(key), KeyRecord(str(node_type), config=config))
        pair = (str(flow_id), str(node_id))
        if pair not in record.nodes:
            record.nodes.append(pair)
    return found
