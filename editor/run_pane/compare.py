"""Compare: the same flow and input run one node at a time, then in parallel, one after the
other, with caches off in both so the second run is not helped by what the first stored."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from editor.services.runs import RunService
from runtime.engine.engine import RunHandle
from runtime.events import Event
from runtime.flow.model import FlowDocument
from runtime.flow.names import node_labels
from runtime.report import RunReport

from ..charts.compare import compare_figure
from ..charts.timeline import bars_from_report, observed_critical_path
from .live import exclusive_nodes, predecessors

Execution = Literal["sequential", "parallel"]
MODES: tuple[Execution, ...] = ("sequential", "parallel")


def variant(document: FlowDocument, execution: Execution) -> FlowDocument:
    """A copy of the flow with ``execution`` set and every cache off."""
    copy = document.model_copy(deep=True)
    copy.settings.execution = execution
    copy.cache_strategy = {}
    for node in copy.nodes:
        node.cache = None
    return copy


@dataclass
class CompareResult:
    document: FlowDocument
    reports: dict[str, RunReport] = field(default_factory=dict)
    error: str | None = None
    exclusive: frozenset[str] = frozenset()  # in the parallel run, the nodes others may queue behind

    @property
    def complete(self) -> bool:
        return all(self.reports.get(m) is not None and self.reports[m].status == "succeeded" for m in MODES)

    def total_ms(self, mode: str) -> float:
        report = self.reports.get(mode)
        return float(report.result_ms or 0.0) if report else 0.0

    @property
    def saved_ms(self) -> float:
        return self.total_ms("sequential") - self.total_ms("parallel")

    def figure(self) -> dict[str, Any]:
        labels = node_labels(self.document)
        preds = predecessors(self.document)
        seq, par = (bars_from_report(self.reports[m], labels) for m in MODES)
        return compare_figure(
            seq, par, sequential_ms=self.total_ms("sequential"), parallel_ms=self.total_ms("parallel"),
            sequential_critical=observed_critical_path(seq, preds),
            parallel_critical=observed_critical_path(par, preds, blockers=self.exclusive),
            sequential_first_chunk_ms=self.reports["sequential"].first_chunk_ms,
            parallel_first_chunk_ms=self.reports["parallel"].first_chunk_ms,
        )


async def run_compare(runs: RunService, document: FlowDocument, inputs: dict[str, Any], *, tenant_id: str,
                      session_id: str, on_event: Callable[[str, Event], None], version: int | None = None,
                      on_start: Callable[[str, RunHandle], None] | None = None) -> CompareResult:
    """Both runs, in order; stops after a run that did not succeed (``result.error`` says why).
    ``on_start(mode, handle)`` lets the caller stop a run; ``on_event(mode, event)`` sees every event."""
    result = CompareResult(document, exclusive=exclusive_nodes(document, runs.engine.registry, tenant_id))
    for mode in MODES:
        report = RunReport()
        result.reports[mode] = report

        def listener(event: Event, mode: str = mode, report: RunReport = report) -> None:
            report.observe(event)
            on_event(mode, event)

        started = await runs.start(tenant_id, variant(document, mode), inputs, session_id=session_id,
                                   version=version, listener=listener)
        handle = started.handle
        if on_start is not None:
            on_start(mode, handle)
        outcome = await handle.result()
        if outcome.status != "succeeded":
            result.error = f"the {mode} run {outcome.status}: {outcome.error or 'no error message'}"
            break
    return result
