"""The state of one live run, from its events: what each canvas node should show and what each
answer pane holds. No UI here, so the pane's logic is testable without a browser.

Each event becomes at most one small canvas patch (``status``, ``duration_ms``, ``error``) for one
node: the canvas is updated per node, never re-sent whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.events import (
    BACKGROUND_FINISHED,
    MESSAGE_CHUNK,
    NODE_FAILED,
    NODE_FINISHED,
    NODE_SKIPPED,
    NODE_STARTED,
    RUN_FINISHED,
    RUN_STARTED,
    Event,
)
from runtime.flow.graph import FlowGraph
from runtime.flow.model import FlowDocument
from runtime.flow.names import NodeNames
from runtime.nodes.registry import NodeRegistry
from runtime.report import RunReport
from storage.recorder import trace_id_of

from ..charts.timeline import TimelineBar, bars_from_report, observed_critical_path

Patch = tuple[str, dict[str, Any]]


@dataclass
class Answer:
    """One streaming node's pane: the text so far and when its first chunk came."""

    node_id: str
    label: str
    text: str = ""
    chunks: int = 0
    first_chunk_ms: float | None = None
    finished: bool = False


@dataclass
class LiveRun:
    """``streaming``: ids of the nodes that stream text (one answer pane each);
    ``background``: ids of the nodes that run after the answer (save_message)."""

    document: FlowDocument
    streaming: frozenset[str] = frozenset()
    background: frozenset[str] = frozenset()
    exclusive: frozenset[str] = frozenset()  # nodes that run alone (ai_response): others queue behind them
    report: RunReport = field(default_factory=RunReport)
    answers: dict[str, Answer] = field(default_factory=dict)
    finished: bool = False
    trace_id: str | None = None  # the run's trace (run.started/run.finished), None with tracing off

    def __post_init__(self) -> None:
        names = NodeNames(self.document)  # two nodes with one label: the id is added to tell them apart
        self.labels = {n.id: names.plain(n.id) for n in self.document.nodes}
        for node in self.document.nodes:
            if node.id in self.streaming:
                self.answers[node.id] = Answer(node.id, self.labels[node.id])

    @classmethod
    def for_flow(cls, document: FlowDocument, registry: NodeRegistry, tenant_id: str | None) -> LiveRun:
        """Which nodes stream and which run in the background, from their node types."""
        streaming, background = set(), set()
        for node in document.nodes:
            node_type = registry.get(node.type, tenant_id)
            if node_type is not None and node_type.streams and getattr(node_type, "shows_text", True):
                streaming.add(node.id)  # an answer pane (not for iterate: its items are steps, not text)
            if node_type is not None and node_type.background:
                background.add(node.id)
        return cls(document, frozenset(streaming), frozenset(background),
                   exclusive_nodes(document, registry, tenant_id))

    # -- events -------------------------------------------------------------------------------
    def start_patches(self) -> list[Patch]:
        """Every node waiting, with last run's duration and error cleared."""
        return [(n.id, {"status": "waiting", "duration_ms": None, "error": None}) for n in self.document.nodes]

    def observe(self, event: Event) -> list[Patch]:
        """Fold one event in; return the canvas patches it causes."""
        self.report.observe(event)
        kind, node = event.event, event.node_id
        if kind == MESSAGE_CHUNK and node:
            answer = self.answers.get(node) or self.answers.setdefault(node, Answer(node, self.labels.get(node, node)))
            answer.text += event.text or ""
            answer.chunks += 1
            if answer.first_chunk_ms is None:
                answer.first_chunk_ms = event.t_ms
            return []
        if kind == NODE_STARTED and node:
            return [(node, {"status": "running", "duration_ms": None, "error": None})]
        if kind == NODE_FINISHED and node:
            if node in self.answers:
                self.answers[node].finished = True
            status = "cached" if event.cache == "hit" else "done"
            return [(node, {"status": status, "duration_ms": _ms(event.duration_ms), "error": None})]
        if kind == NODE_FAILED and node:
            error = event.error or "failed"
            status = "failed"
            if event.status == "continued":  # shown "failed, continued" in amber, not a plain red failure
                error, status = f"{error} (the run went on: on_error is 'continue')", "continued"
            return [(node, {"status": status, "duration_ms": _ms(event.duration_ms), "error": error})]
        if kind == NODE_SKIPPED and node:
            return [(node, {"status": "skipped", "duration_ms": None, "error": None})]
        if kind == BACKGROUND_FINISHED and node:
            failed = event.status == "failed"
            return [(node, {"status": "failed" if failed else "done", "duration_ms": _ms(event.duration_ms),
                            "error": event.error if failed else None})]
        if kind in (RUN_STARTED, RUN_FINISHED):
            self.trace_id = trace_id_of(event) or self.trace_id
        if kind == RUN_FINISHED:
            return self._finish(event)
        return []

    def _finish(self, event: Event) -> list[Patch]:
        self.finished = True
        patches: list[Patch] = []
        if event.status != "succeeded":
            stopped = event.status == "cancelled"
            why = "cancelled: the run was stopped" if stopped else "not finished: the run failed"
            for row in self.report.rows.values():
                if row.status == "running":
                    patches.append((row.node_id, {"status": "skipped", "duration_ms": None, "error": why}))
            never = "not run: the run was stopped" if stopped else "not run: the run failed before it"
            for node in self.document.nodes:
                if node.id not in self.report.rows:
                    patches.append((node.id, {"status": "skipped", "duration_ms": None, "error": never}))
        return patches

    # -- results ------------------------------------------------------------------------------
    @property
    def status(self) -> str | None:
        return self.report.status

    @property
    def error(self) -> str | None:
        return self.report.error

    @property
    def output(self) -> dict[str, Any] | None:
        return self.report.output

    def bars(self, now_ms: float | None = None) -> list[TimelineBar]:
        return bars_from_report(self.report, self.labels, now_ms)

    def critical_path(self) -> list[str]:
        return observed_critical_path(self.bars(), predecessors(self.document),
                                      blockers=queue_blockers(self.document, self.exclusive))


def exclusive_nodes(document: FlowDocument, registry: NodeRegistry, tenant_id: str | None) -> frozenset[str]:
    """Ids of the nodes whose type never runs beside another node of the run."""
    found = set()
    for node in document.nodes:
        node_type = registry.get(node.type, tenant_id)
        if node_type is not None and not node_type.parallel_safe:
            found.add(node.id)
    return frozenset(found)


def queue_blockers(document: FlowDocument, exclusive: frozenset[str]) -> frozenset[str] | None:
    """What a node may have queued behind: in a sequential run anything, else an exclusive node."""
    return None if document.settings.execution == "sequential" else exclusive


def predecessors(document: FlowDocument) -> dict[str, list[str]]:
    graph = FlowGraph.build(document)
    return {graph.ids[i]: [graph.ids[p] for p in graph.preds[i]] for i in range(len(graph.ids))}


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
