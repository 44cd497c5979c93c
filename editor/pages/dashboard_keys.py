"""The dashboard's "Top cache keys": the cache's own per-key counters, each key told by the node
that looked it up (type, label, flow) and the values of its key fields, not by its hash.

The counters know only tenant, node type and a digest; which flow and node used a key, and with
which values, comes from the runs' per-node records (``storage.repos.dashboard_keys``). A key that
no recorded run used keeps its node type and a short hash; with a Flow filter it is left out,
since nothing says it belongs to that flow.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, ServiceError
from runtime.cache.keys import CacheKeyError, parse_key
from runtime.flow.model import FlowDocument
from runtime.reads import cache_of
from storage.repos.dashboard import Filters
from storage.repos.dashboard_keys import KeyRecord, cache_key_records
from storage.repos.node_names import node_labels

READ_ERRORS: tuple[type[Exception], ...] = (ServiceError, *DATABASE_ERRORS)  # a flow gone or unreadable
CANDIDATES = 50  # keys looked at before the flow filter; the busiest of them are shown
VALUE_CHARS = 40


@dataclass(frozen=True, slots=True)
class KeyAbout:
    node: str  # "product_search · Search products (shop)"
    values: str  # "query: 'pallet jack' · category: 'hand'"


@dataclass(slots=True)
class TopKeys:
    counts: dict[str, dict[str, Any]]  # key -> {total, hits, rate}, busiest first
    about: dict[str, KeyAbout]


async def top_cache_keys(context: AkisContext, f: Filters, top: int = 10) -> TopKeys:
    cache = context.cache
    if cache is None:
        return TopKeys({}, {})
    prefix = context.settings.cache_prefix
    stats = await cache.stats(f.tenant_id)
    types: dict[str, str] = {}
    for key in stats.get("keys", {}):
        try:
            types[key] = parse_key(key, prefix)[1]
        except (CacheKeyError, IndexError):
            continue
    keys: dict[str, dict[str, Any]] = {k: c for k, c in stats.get("keys", {}).items()
                                       if k in types and (not f.node_type or types[k] == f.node_type)}
    ranked = sorted(keys, key=lambda k: (-keys[k]["total"], k))[:max(CANDIDATES, top)]
    records = await context.database.run(cache_key_records, f.tenant_id, ranked)
    if f.flow_id:
        ranked = [k for k in ranked if k in records and str(f.flow_id) in records[k].flows]
    ranked = ranked[:top]
    flows = {flow for k in ranked if k in records for flow in records[k].flows}
    labels = await context.database.run(node_labels, f.tenant_id, flows)
    documents = await _documents(context, f.tenant_id, flows)
    about = {k: describe(types[k], records.get(k), labels, documents, k) for k in ranked}
    return TopKeys({k: keys[k] for k in ranked}, about)


async def _documents(context: AkisContext, tenant: str, flows: set[str]) -> dict[str, FlowDocument]:
    found: dict[str, FlowDocument] = {}
    for flow_id in sorted(flows):
        try:
            found[flow_id] = (await context.flows.read(tenant, flow_id)).document
        except READ_ERRORS:  # a deleted flow: its keys show every recorded value
            continue
    return found


def describe(node_type: str, record: KeyRecord | None, labels: Mapping[tuple[str, str], str],
             documents: Mapping[str, FlowDocument], key: str) -> KeyAbout:
    """The node that used the key and the values it was keyed on."""
    if record is None or not record.nodes:
        return KeyAbout(node_type, f"no recorded run · hash …{key[-8:]}")
    flow_id, node_id = record.nodes[0]
    name = labels.get((flow_id, node_id), node_id)
    more = f" +{len(record.nodes) - 1} more" if len(record.nodes) > 1 else ""
    document = documents.get(flow_id)
    strategy = cache_of(document, node_id) if document is not None else None
    return KeyAbout(f"{node_type} · {name} ({flow_id}){more}",
                    key_values(record.config, strategy.key_fields if strategy is not None else None))


def key_values(config: Mapping[str, Any] | None, fields: list[str] | None) -> str:
    """``name: value`` for each key field (every config field when the key takes them all)."""
    if not config:
        return "values not recorded"
    names = fields if fields else sorted(config)
    parts = [f"{name}: {_short(config.get(name))}" for name in names]
    return " · ".join(parts) or "no fields"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
