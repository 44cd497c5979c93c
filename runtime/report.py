"""Turning a run's events into per-node rows and totals: for the CLI table, the run pane's
timeline and the HTTP API. One consumer of events, used by every front end."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from .errors import Problem
from .events import Event


@dataclass
class NodeRow:
    node_id: str
    node_type: str
    start_ms: float
    duration_ms: float | None = None
    cache: str = "off"
    status: str = "running"
    error: str | None = None
    chunks: int = 0
    first_chunk_ms: float | None = None
    parent: str | None = None  # a step of this node (node.step): an agent's turn, a sub-flow's node
    label: str = ""
    tokens: int = 0


@dataclass
class RunReport:
    rows: dict[str, NodeRow] = field(default_factory=dict)
    first_chunk_ms: float | None = None
    last_chunk_ms: float | None = None
    result_ms: float | None = None
    status: str | None = None
    error: str | None = None
    output: dict[str, Any] | None = None
    texts: dict[str, str] = field(default_factory=dict)

    def observe(self, event: Event) -> None:
        kind = event.event
        if kind == "node.started" and event.node_id:
            self.rows[event.node_id] = NodeRow(event.node_id, event.node_type or "", event.t_ms)
        elif kind == "message.chunk" and event.node_id:
            self.first_chunk_ms = self.first_chunk_ms if self.first_chunk_ms is not None else event.t_ms
            self.last_chunk_ms = event.t_ms
            self.texts[event.node_id] = self.texts.get(event.node_id, "") + (event.text or "")
            row = self.rows.get(event.node_id)
            if row:
                row.chunks += 1
                row.first_chunk_ms = row.first_chunk_ms if row.first_chunk_ms is not None else event.t_ms
        elif kind in {"node.finished", "node.failed"} and event.node_id:
            row = self.rows.setdefault(event.node_id, NodeRow(event.node_id, event.node_type or "", event.t_ms))
            row.duration_ms = event.duration_ms
            row.status = event.status or ("failed" if kind == "node.failed" else "succeeded")
            row.cache = event.cache or row.cache
            row.error = event.error
        elif kind == "node.skipped" and event.node_id:
            self.rows[event.node_id] = NodeRow(event.node_id, event.node_type or "", event.t_ms, 0.0, status="skipped")
        elif kind == "background.finished" and event.node_id:
            self.rows[event.node_id] = NodeRow(
                event.node_id, event.node_type or "", event.t_ms - (event.duration_ms or 0), event.duration_ms,
                status=f"{event.status} (background)", error=event.error,
            )
        elif kind == "node.step" and event.node_id:
            step = str(event.extra.get("step", ""))
            usage = event.usage or {}
            key = f"{event.node_id}/{step}"
            self.rows[key] = NodeRow(
                key, f"{event.node_type or ''}.{event.extra.get('kind', 'step')}",
                float(event.extra.get("start_ms", event.t_ms - (event.duration_ms or 0))), event.duration_ms,
                status=event.status or "succeeded", error=event.error, parent=event.node_id,
                label=str(event.extra.get("label") or step),
                tokens=usage.get("tokens_in", 0) + usage.get("tokens_out", 0),
            )
        elif kind == "run.finished":
            self.result_ms, self.status, self.error, self.output = event.t_ms, event.status, event.error, event.output

    def ordered(self) -> list[NodeRow]:
        """Nodes by start time, each node's steps right after it (by their start time)."""
        steps: dict[str, list[NodeRow]] = {}
        for row in self.rows.values():
            if row.parent is not None:
                steps.setdefault(row.parent, []).append(row)
        out: list[NodeRow] = []
        for row in sorted((r for r in self.rows.values() if r.parent is None), key=lambda r: (r.start_ms, r.node_id)):
            out.append(row)
            out.extend(sorted(steps.get(row.node_id, ()), key=lambda r: (r.start_ms, r.node_id)))
        return out


def node_table(report: RunReport) -> str:
    """A plain-text table: id, type, start offset, duration, cache, status."""
    header = ("node", "type", "start ms", "duration ms", "cache", "status")
    lines = [header] + [
        (r.node_id, r.node_type, f"{r.start_ms:.1f}", "-" if r.duration_ms is None else f"{r.duration_ms:.1f}",
         r.cache, r.status)
        for r in report.ordered()
    ]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    rendered = ["  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    rendered.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(rendered)


def totals_line(report: RunReport) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} ms"

    return (f"first chunk {ms(report.first_chunk_ms)} | last chunk {ms(report.last_chunk_ms)} | "
            f"result {ms(report.result_ms)} | status {report.status}")


def print_problems(source: Path | str, problems: list[Problem]) -> None:
    typer.echo(f"{source}: {len(problems)} problem(s)", err=True)
    for problem in problems:
        typer.echo(f"  - {problem.message}", err=True)
