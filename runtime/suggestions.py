"""Optimisation suggestions: from a flow's structure and its measured node times, the changes
that would make it answer sooner, each with an estimated saving and an edit that applies it.

Pure: no I/O. The caller (the editor) reads the metrics with SQL and passes one
:class:`NodeStats` per node. Savings come from :func:`estimate`, a small simulation of the
engine's scheduler (dependency order, one-at-a-time AI nodes, sequential mode), so "what would
this change save" is always "the estimated run time before minus after". Every edit is checked
with the validator: a suggestion whose edit would break a rule is never offered.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .estimate import Estimate, estimate
from .estimate import node_types as _types
from .flow.graph import FlowGraph
from .flow.model import CacheStrategy, EdgeSpec, FlowDocument, ParallelGroup
from .flow.validate import validate_flow
from .nodes.base import NodeType
from .nodes.registry import NodeRegistry
from .reads import cache_of as _cache_of
from .reads import full_config as _full_config
from .reads import key_fields as _key_fields
from .reads import template_names

# Node types that read earlier values only through their config templates, so an edge into
# one whose templates name none of the source's outputs carries no data.
TEMPLATE_ONLY_READERS = frozenset(
    {"category_detection", "product_search", "conversation_history", "template", "http_request", "delay"}
)
NO_REWIRE_SOURCES = frozenset({"user_input", "condition", "output"})
MIN_EXECUTIONS = 5  # fewer measurements than this say nothing
REPEAT_THRESHOLD = 0.2  # add a cache when at least this share of key values was seen before
LOW_HIT_RATE = 0.2
MIN_LOOKUPS = 20
SUGGESTED_TTL_S = 300
DEFAULT_LOOKUP_MS = 1.0  # a cache lookup when no hit was measured yet
MIN_SAVING_MS = 1.0  # a saving shown as "~0 ms" is not offered
CRITICAL_SHARE = 0.15  # a node taking this share of the critical path is worth naming


@dataclass(frozen=True, slots=True)
class NodeStats:
    """Aggregates for one node over recent runs (what ``storage.repos.dashboard`` returns)."""

    node_id: str
    node_type: str = ""
    count: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    hits: int = 0
    misses: int = 0
    p50_hit_ms: float | None = None
    p50_miss_ms: float | None = None
    repeat_rate: float | None = None  # share of executions whose key inputs were seen before


@dataclass(slots=True)
class Suggestion:
    kind: str  # parallel | rewire | add_cache | low_hit_rate | critical
    title: str
    detail: str
    node_ids: tuple[str, ...]
    saving_ms: float  # estimated, per run
    edit: Callable[[FlowDocument], None] | None = field(default=None, repr=False)

    @property
    def can_apply(self) -> bool:
        return self.edit is not None

    def apply(self, document: FlowDocument) -> FlowDocument:
        """A changed copy of ``document``; the original is left as it was."""
        if self.edit is None:
            raise ValueError(f"suggestion {self.title!r} has no automatic change")
        copy = document.model_copy(deep=True)
        self.edit(copy)
        return copy


def durations_of(stats: Mapping[str, NodeStats]) -> dict[str, float]:
    return {node_id: s.p50_ms for node_id, s in stats.items()}


# --- the suggestions -------------------------------------------------------------------------
def suggest(document: FlowDocument, stats: Mapping[str, NodeStats], registry: NodeRegistry | None = None,
            tenant_id: str | None = None) -> list[Suggestion]:
    """Every suggestion that applies, largest estimated saving first."""
    types = _types(document, registry, tenant_id)
    durations = durations_of(stats)
    base = estimate(document, durations, registry, tenant_id)
    problems_before = {p.message for p in validate_flow(document, registry, tenant_id)}
    found: list[Suggestion] = []
    found += _parallel(document, durations, base, registry, tenant_id)
    found += _rewire(document, types, durations, base, registry, tenant_id)
    found += _add_cache(document, types, stats, durations, base, registry, tenant_id)
    found += _low_hit_rate(document, types, stats)
    found = [s for s in found if _keeps_valid(s, document, problems_before, registry, tenant_id)]
    covered = {n for s in found if s.kind != "parallel" for n in s.node_ids}
    limit = base if document.settings.execution != "sequential" else estimate(
        document, durations, registry, tenant_id, execution="parallel")
    critical = _critical(document, types, stats, limit, covered, registry, tenant_id)
    found += [s for s in critical if s.edit is None or _keeps_valid(s, document, problems_before, registry, tenant_id)]
    found = [s for s in found if s.saving_ms >= MIN_SAVING_MS]  # "~0 ms per run" is no suggestion
    return sorted(found, key=lambda s: (not s.can_apply, -s.saving_ms, s.kind, s.node_ids))


def _parallel(document: FlowDocument, durations: Mapping[str, float], base: Estimate,
              registry: NodeRegistry | None, tenant_id: str | None) -> list[Suggestion]:
    if document.settings.execution != "sequential":
        return []
    after = estimate(document, durations, registry, tenant_id, execution="parallel")
    saving = base.total_ms - after.total_ms
    if saving <= 0:
        return []

    def edit(doc: FlowDocument) -> None:
        doc.settings.execution = "parallel"
        doc.settings = doc.settings  # marks it set, so the export carries it

    return [Suggestion(
        "parallel", "Run independent nodes in parallel",
        f"The flow runs one node at a time. Its independent nodes could run at the same time: about "
        f"{_ms(base.total_ms)} becomes {_ms(after.total_ms)} (the critical path).",
        tuple(n for n in after.start if after.start[n] < base.start.get(n, 0.0)), round(saving, 1), edit,
    )]


def _rewire(document: FlowDocument, types: Mapping[str, NodeType], durations: Mapping[str, float], base: Estimate,
            registry: NodeRegistry | None, tenant_id: str | None) -> list[Suggestion]:
    """Nodes that wait for others although they read nothing those write: one suggestion per
    waiting node, covering every such edge into it."""
    found: list[Suggestion] = []
    for spec_t in document.nodes:
        target = types.get(spec_t.id)
        if target is None or target.type_id not in TEMPLATE_ONLY_READERS or target.background:
            continue
        reads = template_names(_full_config(target, spec_t.config))
        if "nodes" in reads:
            continue
        sources: list[str] = []
        writes: set[str] = set()
        for edge in document.edges:
            source, spec_s = types.get(edge.source), document.node(edge.source)
            if edge.target != spec_t.id or source is None or spec_s is None or edge.branch is not None:
                continue
            if source.type_id in NO_REWIRE_SOURCES or not source.parallel_safe or source.background:
                continue
            written = source.output_keys(_full_config(source, spec_s.config))
            if not reads & written:
                sources.append(edge.source)
                writes |= written
        if not sources:
            continue
        edit = _rewire_edit(sources, spec_t.id, registry, tenant_id)
        trial = document.model_copy(deep=True)
        edit(trial)
        saving = base.total_ms - estimate(trial, durations, registry, tenant_id).total_ms
        if saving <= 0:
            continue
        label_t = _label(document, spec_t.id)
        labels = _and([_label(document, n) for n in sources])
        one = len(sources) == 1
        found.append(Suggestion(
            "rewire", f"Run {label_t} alongside {labels}",
            f"{label_t} waits for {labels} but reads none of {'its' if one else 'their'} outputs "
            f"({', '.join(sorted(writes)) or 'none'}). Starting it after what {'it waits' if one else 'they wait'} "
            "for lets them run at the same time, in one parallel group.",
            (*sources, spec_t.id), round(saving, 1), edit,
        ))
    return found


def _rewire_edit(sources: list[str], target: str, registry: NodeRegistry | None,
                 tenant_id: str | None) -> Callable[[FlowDocument], None]:
    def edit(doc: FlowDocument) -> None:
        """The target keeps waiting for what its sources waited for; what came after the target
        now also waits for the sources. Then the target joins their parallel group, if that is valid."""
        succs = [e.target for e in doc.edges if e.source == target]
        dropped = {(s, target) for s in sources}
        doc.edges = [e for e in doc.edges if (e.source, e.target) not in dropped]
        have = {(e.source, e.target) for e in doc.edges}
        for source in sources:
            preds = [e.source for e in doc.edges if e.target == source]
            for new in [(p, target) for p in preds] + [(source, s) for s in succs]:
                if new not in have:
                    doc.edges.append(EdgeSpec(source=new[0], target=new[1]))
                    have.add(new)
        doc.edges = doc.edges  # marks the field set, so the export carries it
        before = {p.message for p in validate_flow(doc, registry, tenant_id)}
        trial = doc.model_copy(deep=True)
        _join_group(trial, sources, target)
        if {p.message for p in validate_flow(trial, registry, tenant_id)} <= before:
            _join_group(doc, sources, target)
    return edit


def _join_group(doc: FlowDocument, sources: list[str], target: str) -> None:
    """Put the target in its sources' group (moving the join if needed), or group them anew."""
    if any(target in g.nodes for g in doc.parallel_groups):
        return
    group = next((g for g in doc.parallel_groups if all(s in g.nodes for s in sources)), None)
    if group is None:
        if any(s in g.nodes for g in doc.parallel_groups for s in sources):
            return
        taken = {g.id for g in doc.parallel_groups}
        group_id = next(f"parallel_{i}" for i in range(1, len(taken) + 2) if f"parallel_{i}" not in taken)
        doc.parallel_groups = [*doc.parallel_groups, ParallelGroup(id=group_id, label="Parallel",
                                                                   nodes=[*sources, target])]
        return
    group.nodes = [*group.nodes, target]
    graph = FlowGraph.build(doc)
    join = graph.index.get(group.join_at) if group.join_at else None
    if join is not None and not graph.is_ancestor(graph.index[target], join):
        found = graph.discover_join([graph.index[m] for m in group.nodes if m in graph.index])
        group.join_at = graph.ids[found] if found is not None else None


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _add_cache(document: FlowDocument, types: Mapping[str, NodeType], stats: Mapping[str, NodeStats],
               durations: Mapping[str, float], base: Estimate, registry: NodeRegistry | None,
               tenant_id: str | None) -> list[Suggestion]:
    found: list[Suggestion] = []
    for spec in document.nodes:
        node_type, s = types.get(spec.id), stats.get(spec.id)
        if node_type is None or s is None or not node_type.cacheable or _cache_of(document, spec.id) is not None:
            continue
        if s.count < MIN_EXECUTIONS or s.repeat_rate is None or s.repeat_rate < REPEAT_THRESHOLD:
            continue
        lookup = s.p50_hit_ms if s.p50_hit_ms is not None else DEFAULT_LOOKUP_MS
        expected = s.p50_ms * (1 - s.repeat_rate) + lookup * (1 + s.repeat_rate)
        after = estimate(document, {**durations, spec.id: expected}, registry, tenant_id)
        saving = base.total_ms - after.total_ms
        if saving <= 0:
            continue
        fields = _key_fields(node_type, spec.config)
        label = _label(document, spec.id)
        found.append(Suggestion(
            "add_cache", f"Cache {label} for {SUGGESTED_TTL_S // 60} minutes",
            f"In {round(100 * s.repeat_rate)}% of its last {s.count} runs, {_fields_text(fields)} repeated an "
            f"earlier run's, and it takes {_ms(s.p50_ms)} (p50). A {SUGGESTED_TTL_S} s cache keyed on "
            f"{_fields_text(fields)} would answer those from memory.",
            (spec.id,), round(saving, 1), _cache_edit(spec.id, CacheStrategy(ttl=SUGGESTED_TTL_S, key_fields=fields)),
        ))
    return found


def _low_hit_rate(document: FlowDocument, types: Mapping[str, NodeType],
                  stats: Mapping[str, NodeStats]) -> list[Suggestion]:
    """A cache that rarely hits still costs a lookup on every run and a write on every miss."""
    found: list[Suggestion] = []
    for spec in document.nodes:
        strategy, s = _cache_of(document, spec.id), stats.get(spec.id)
        if strategy is None or s is None or spec.id not in types:
            continue
        lookups = s.hits + s.misses
        if lookups < MIN_LOOKUPS or s.hits / lookups >= LOW_HIT_RATE:
            continue
        rate = s.hits / lookups
        lookup = s.p50_hit_ms if s.p50_hit_ms is not None else DEFAULT_LOOKUP_MS
        compute = max(0.0, (s.p50_miss_ms if s.p50_miss_ms is not None else s.p50_ms) - 2 * lookup)
        saving = lookup * (2 - rate) - rate * compute  # cost with the cache minus cost without
        if saving <= 0:
            continue
        label = _label(document, spec.id)
        found.append(Suggestion(
            "low_hit_rate", f"Turn off the cache of {label}",
            f"Only {round(100 * rate)}% of {lookups} lookups hit, which saves less than the lookup and write every "
            f"run pays. Key it on fields that repeat (now {_fields_text(strategy.key_fields)}), or turn it off.",
            (spec.id,), round(saving, 1), _cache_edit(spec.id, CacheStrategy(enabled=False)),
        ))
    return found


def _critical(document: FlowDocument, types: Mapping[str, NodeType], stats: Mapping[str, NodeStats],
              base: Estimate, covered: set[str], registry: NodeRegistry | None,
              tenant_id: str | None) -> list[Suggestion]:
    """The slowest nodes on the critical path: each bounds how fast the answer can be. The saving
    is the most it could give: the run time if the node took no time at all."""
    found: list[Suggestion] = []
    if base.total_ms <= 0 or any(n not in stats for n in base.critical):
        return found  # an unmeasured node would look free and the path would be wrong
    durations = {n: base.end[n] - base.start[n] for n in base.end}
    ranked = sorted(base.critical, key=lambda n: -durations[n])
    for node_id in ranked[:3]:
        took = durations[node_id]
        if took < CRITICAL_SHARE * base.total_ms or node_id in covered:
            continue
        bound = base.total_ms - estimate(document, {**durations, node_id: 0.0}, registry, tenant_id,
                                         execution="parallel").total_ms
        if bound <= 0:
            continue
        node_type, spec, s = types.get(node_id), document.node(node_id), stats.get(node_id)
        assert spec is not None
        label = _label(document, node_id)
        share = round(100 * took / base.total_ms)
        detail = (f"{label} takes {_ms(took)} (p50), {share}% of the critical path of {_ms(base.total_ms)}; "
                  f"the answer could come up to {_ms(bound)} sooner.")
        edit = None
        title = f"{label} is on the critical path"
        if node_type is not None and node_type.cacheable and _cache_of(document, node_id) is None:
            fields = _key_fields(node_type, spec.config)
            edit = _cache_edit(node_id, CacheStrategy(ttl=SUGGESTED_TTL_S, key_fields=fields))
            title = f"Cache {label}: it is on the critical path"
            detail += f" A cache keyed on {_fields_text(fields)} answers repeated lookups at once."
        elif node_type is not None and node_type.streams and spec.config.get("stream") is False:
            edit = _config_edit(node_id, "stream", True)
            title = f"Stream {label}'s answer"
            detail += " Streaming shows the first words while the rest is written."
        else:
            p95 = f" (p95 {_ms(s.p95_ms)})" if s is not None and s.p95_ms else ""
            detail += f" Nothing in the flow can hide it: make it faster{p95} or run it less often."
        found.append(Suggestion("critical", title, detail, (node_id,), round(bound, 1), edit))
    return found


# --- edits -----------------------------------------------------------------------------------
def _cache_edit(node_id: str, strategy: CacheStrategy) -> Callable[[FlowDocument], None]:
    """The flow's ``cache_strategy`` for the type when the node is the only one of its type (one
    setting, where a reader of the flow looks for it); else the node's own ``cache``."""
    def edit(doc: FlowDocument) -> None:
        spec = doc.node(node_id)
        assert spec is not None
        same_type = [n for n in doc.nodes if n.type == spec.type]
        if len(same_type) == 1 and spec.cache is None:
            doc.cache_strategy = {**doc.cache_strategy, spec.type: strategy.model_copy()}
        else:
            spec.cache = strategy.model_copy()
    return edit


def _config_edit(node_id: str, key: str, value: Any) -> Callable[[FlowDocument], None]:
    def edit(doc: FlowDocument) -> None:
        spec = doc.node(node_id)
        assert spec is not None
        spec.config = {**spec.config, key: value}
    return edit


def _keeps_valid(s: Suggestion, document: FlowDocument, before: set[str], registry: NodeRegistry | None,
                 tenant_id: str | None) -> bool:
    if s.edit is None:
        return True
    after = s.apply(document)
    return {p.message for p in validate_flow(after, registry, tenant_id)} <= before


# --- helpers ---------------------------------------------------------------------------------
def _label(document: FlowDocument, node_id: str) -> str:
    spec = document.node(node_id)
    return f"'{spec.label}'" if spec is not None and spec.label else f"'{node_id}'"


def _fields_text(fields: list[str] | None) -> str:
    return ", ".join(fields) if fields else "all its config fields"


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{math.floor(value + 0.5)} ms"
