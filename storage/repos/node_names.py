"""Node labels for charts and lists that only have ids (metric rows keep ``flow_id``, ``node_id``).

A chart says "Product search · pallet-assistant", not "node_3 · pallet-assistant": the names come
from each flow's current version (the id is added only where two nodes share a label, and a node
no longer in the flow keeps its id).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from runtime.flow.names import NodeNames

from .flows import get_document


def node_labels(session: Session, tenant_id: str, flow_ids: Iterable[str]) -> dict[tuple[str, str], str]:
    """``{(flow_id, node_id): display name}`` for the nodes of the tenant's given flows."""
    out: dict[tuple[str, str], str] = {}
    for flow_id in sorted(set(flow_ids)):
        document = get_document(session, tenant_id, flow_id)
        if document is None:
            continue
        names = NodeNames(document)
        for node in document.nodes:
            out[(flow_id, node.id)] = names.plain(node.id)
    return out
