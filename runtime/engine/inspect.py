"""Runs whose nodes can be inspected afterwards (the debugging loop of the editor).

An :class:`InspectedRun` keeps, per node, what it received (the values its config reads),
its config as rendered, its output, the cache's answer with the key, the attempts, tokens,
duration and error, and hands the list to a sink just before ``run.finished`` (the recorder
writes it with the run's row). It is a subclass, like the resumed run it extends: the plain
run's hot path does not change, and an inspected run may start with some node outputs known
("run from here" reuses a past run's upstream outputs; one node runs with pinned inputs).

Values are kept by reference here; masking secrets and folding large values happens where
they are written (``storage.repos.node_runs``), off the event loop.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cachetools import LRUCache

from ..events import NODE_STARTED, Event
from ..flow.model import FlowDocument
from ..nodes.base import NodeContext
from ..reads import full_config, template_names
from .engine import Engine, RunHandle
from .plan import Plan, PlannedNode
from .result import describe_error
from .resume import Known, ResumedRun
from .run import Listener, Run, RunResult

REUSED = "reused"  # the cache column of a node whose output came from an earlier run
IMPLICIT_READS: dict[str, tuple[str, ...]] = {"ai_response": ("history",), "agent": ("history",)}


@dataclass(slots=True)
class NodeRecord:
    node_id: str
    node_type: str
    status: str = "running"
    start_ms: float = 0.0
    duration_ms: float = 0.0
    inputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    text: str | None = None  # a streaming node's answer
    cache: str = "off"  # hit | miss | off | reused
    cache_key: str | None = None
    cache_ttl: int | None = None  # the strategy's TTL (s); what is left is asked of the cache when shown
    attempts: int = 1
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = None


RecordSink = Callable[[str, list[NodeRecord]], None]  # (run id, records in start order)

@dataclass(frozen=True, slots=True)
class PlanFacts:
    """What inspection needs of a plan, worked out once: the plan its runs use (the same, each
    templated node's renderer also keeping what it rendered: the config is not rendered twice),
    the value names each node's config reads (templates, defaults included), each config
    without templates as JSON (by node index), and each node by id."""

    plan: Plan
    reads: list[frozenset[str]]
    static: list[dict[str, Any] | None]
    by_id: dict[str, PlannedNode]


# id(plan) -> (plan, its facts): the plan is held, so its id is not reused while the entry lives
_FACTS: LRUCache[int, tuple[Plan, PlanFacts]] = LRUCache(maxsize=256)
# id(a running inspected run's values) -> node id -> its config as rendered
_RENDERED: dict[int, dict[str, Any]] = {}


def _keeping(node: PlannedNode) -> PlannedNode:
    """``node`` whose renderer also keeps what it rendered for the inspected run rendering it."""
    render, node_id = node.render, node.id
    if render is None:
        return node

    def rendered(values: dict[str, Any]) -> Any:
        out = render(values)
        kept = _RENDERED.get(id(values))
        if kept is not None:
            kept[node_id] = out
        return out

    return replace(node, render=rendered)


def plan_facts(plan: Plan) -> PlanFacts:
    found = _FACTS.get(id(plan))
    if found is not None and found[0] is plan:
        return found[1]
    reads, static = [], []
    for node in plan.nodes:
        config = node.spec.config or {}
        names = set(template_names(full_config(node.node_type, config)))
        names.update(IMPLICIT_READS.get(node.type_id, ()))
        fields = config.get("fields") if node.type_id == "output" else None
        if isinstance(fields, list):
            names.update(str(f) for f in fields)
        reads.append(frozenset(names))
        static.append(node.config.model_dump(mode="json") if node.config is not None else None)
    nodes = [_keeping(node) for node in plan.nodes]
    kept = Plan(plan.flow, plan.flow_id, plan.tenant_id, nodes, plan.roots, plan.sequential, plan.foreground_count,
                answer_ids=plan.answer_ids)
    facts = PlanFacts(kept, reads, static, {node.id: node for node in nodes})
    _FACTS[id(plan)] = (plan, facts)
    return facts


class InspectedRun(ResumedRun):
    """A run that records each node for inspection; see the module docstring."""

    __slots__ = ("facts", "outer", "records", "sink")
    facts: PlanFacts
    outer: Listener | None
    records: dict[str, NodeRecord]
    sink: RecordSink | None

    def inspect(self, facts: PlanFacts, sink: RecordSink | None, known: Known) -> None:
        """Set up after construction (the run's own ``__init__`` is shared with every run)."""
        self.known = dict(known)
        self.sink = sink
        self.records = {}
        self.facts = facts
        _RENDERED[id(self.values)] = {}
        self.outer = self.listener
        self.listener = self._observe

    def _observe(self, event: Event) -> None:
        if event.event == NODE_STARTED and event.node_id is not None:
            node = self.facts.by_id.get(event.node_id)
            if node is not None:
                self._started(node, event.t_ms)
        if self.outer is not None:
            self.outer(event)

    def _started(self, node: PlannedNode, t_ms: float) -> None:
        """Called right before the node renders its config: the values are the ones it sees."""
        self.records[node.id] = NodeRecord(node.id, node.type_id, start_ms=t_ms, inputs=self._inputs(node))

    def _config(self, node: PlannedNode) -> dict[str, Any] | None:
        """The node's config as rendered for it (before validation), None if it did not render."""
        if node.render is None:
            return self.facts.static[node.index]
        kept = _RENDERED.get(id(self.values), {})
        rendered = kept.get(node.id)
        if rendered is None:
            return None
        return rendered if isinstance(rendered, dict) else {"config": rendered}

    def _inputs(self, node: PlannedNode) -> dict[str, Any]:
        values, names = self.values, self.facts.reads[node.index]
        inputs = {name: values[name] for name in names if name != "nodes" and name in values}
        if "nodes" in names:
            inputs["nodes"] = dict(self.results)
        elif not names:  # it reads no value by name: what its predecessors produced
            ids = self.plan.ids
            inputs["nodes"] = {ids[p]: self.results[ids[p]] for p in node.preds if ids[p] in self.results}
        return inputs

    def retrying(self, node: PlannedNode) -> None:
        record = self.records.get(node.id)
        if record is not None:
            record.attempts += 1

    def _record(self, node: PlannedNode, start: float, status: str, cache: Any, ctx: NodeContext,
                error: str | None) -> float:
        end = Run._record(self, node, start, status, cache, ctx, error)
        record = self.records.get(node.id)
        if record is None:
            return end
        record.status, record.duration_ms, record.cache = status, end - start, cache
        record.error = error or record.error  # a fallback's error was kept by _failed
        record.config = self._config(node)
        usage = ctx.reported_usage
        if usage:
            record.tokens_in, record.tokens_out = usage.get("tokens_in", 0), usage.get("tokens_out", 0)
        if status in ("succeeded", "fallback"):
            record.output = self.results.get(node.id)
        parts = self.texts.get(node.id)
        if parts:
            record.text = "".join(parts)
        strategy = node.cache
        if strategy is not None and cache != "off" and record.config is not None:
            make_key = getattr(self.cache, "key", None)
            try:  # as the engine made it: from the validated config (``Run._cached``)
                rendered = node.node_type.Config.model_validate(record.config).model_dump(mode="json")
                fields = {k: rendered.get(k) for k in strategy.key_fields} if strategy.key_fields else rendered
                record.cache_key = make_key(self.tenant_id, node.type_id, fields) if callable(make_key) else None
            except Exception:  # noqa: BLE001 - a key the cache refused: the node computed instead
                record.cache_key = None
            record.cache_ttl = strategy.ttl
        return end

    def _failed(self, node: PlannedNode, start: float, cache: Any, ctx: NodeContext,
                exc: Exception) -> tuple[str, dict[str, Any]]:
        outcome = Run._failed(self, node, start, cache, ctx, exc)
        record = self.records.get(node.id)
        if outcome[0] == "fallback" and record is not None:  # it answers with its fallback: say why
            record.error = describe_error(exc, node)
        return outcome

    async def execute(self) -> RunResult:
        try:
            return await Run.execute(self)
        finally:
            _RENDERED.pop(id(self.values), None)

    def _finish(self, status: str, error: str | None = None, failed_node: str | None = None) -> RunResult:
        if self.sink is not None:
            self.sink(self.run_id, self._settled_records())
        return Run._finish(self, status, error, failed_node)

    def _settled_records(self) -> list[NodeRecord]:
        """Every node that started, was skipped or was reused, in start order."""
        out: list[tuple[float, NodeRecord]] = []
        for i, timing in enumerate(self.clock.by_index):
            if timing is None:
                continue
            node = self.plan.nodes[i]
            record = self.records.get(node.id)
            if record is None:  # skipped, or settled with a known output
                reused = node.id in self.known and timing.status == "succeeded"
                record = NodeRecord(node.id, node.type_id, timing.status, timing.start_ms,
                                    cache=REUSED if reused else "off",
                                    output=self.results.get(node.id) if reused else None)
            elif record.status == "running":  # cancelled, or still going when the run failed
                record.status, record.duration_ms = timing.status, timing.duration_ms
                record.config = self._config(node)
                if record.status == "running":
                    record.status = "cancelled"
            out.append((timing.start_ms, record))
        out.sort(key=lambda pair: pair[0])
        return [record for _, record in out]


def start_inspected(engine: Engine, flow: FlowDocument, inputs: Mapping[str, Any], *, tenant_id: str,
                    session_id: str, run_id: str, on_event: Listener | None, sink: RecordSink | None,
                    known: Known | None = None, seed: Mapping[str, dict[str, Any]] | None = None,
                    trace_parent: Mapping[str, str] | None = None,
                    trace_attributes: Mapping[str, str] | None = None) -> RunHandle:
    """Start ``flow`` as an inspected run. ``known``: node outputs settled without running the
    node (run from here). ``seed``: outputs of nodes that are not in ``flow`` which its templates
    read as ``nodes.<id>`` (one node run with pinned inputs)."""
    return start_inspected_run(engine, flow, inputs, tenant_id=tenant_id, session_id=session_id, run_id=run_id,
                               on_event=on_event, sink=sink, known=known, seed=seed, trace_parent=trace_parent,
                               trace_attributes=trace_attributes)[1]


def start_inspected_run(engine: Engine, flow: FlowDocument, inputs: Mapping[str, Any], *, tenant_id: str,
                        session_id: str, run_id: str, on_event: Listener | None, sink: RecordSink | None,
                        known: Known | None = None, seed: Mapping[str, dict[str, Any]] | None = None,
                        trace_parent: Mapping[str, str] | None = None,
                        trace_attributes: Mapping[str, str] | None = None) -> tuple[InspectedRun, RunHandle]:
    """:func:`start_inspected`, and the run itself (a worker checkpoints its ``results``)."""
    base = engine._prepare(flow, dict(inputs), tenant_id=tenant_id, session_id=session_id, run_id=run_id,
                           on_event=on_event, trace_parent=trace_parent, trace_attributes=trace_attributes)
    facts = plan_facts(base.plan)
    run = InspectedRun(facts.plan, base.values, run_id=base.run_id, tenant_id=base.tenant_id,
                       session_id=base.session_id, services=base.services, cache=base.cache, metrics=base.metrics,
                       listener=base.listener, on_succeeded=base.on_succeeded, trace_parent=base.trace_parent,
                       trace_attributes=base.trace_attributes)
    run.inspect(facts, sink, known or {})
    if seed:
        run.results.update({key: dict(value) for key, value in seed.items()})
    task = asyncio.get_running_loop().create_task(run.execute(), name=f"akis-run-{run.run_id}")
    return run, RunHandle(run, task)
