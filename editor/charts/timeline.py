"""The timeline of one run: a bar per node on a time axis, coloured by outcome, the critical
path outlined, and markers for the first streamed chunk and the result.

Bars that overlap in time ran in parallel; the outlined chain is what the answer waited for.
"""
from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from runtime.report import RunReport

from .style import (
    CONFIG,
    CRITICAL_LINE,
    NEUTRAL,
    OUTCOME_COLORS,
    OUTCOME_NAMES,
    axis,
    base_layout,
    empty_figure,
    fmt_ms,
    legend_below,
)

TOLERANCE_MS = 3.0  # a node that started within this of another's end was waiting for it
STEP_MARK = "\u21b3 "  # a step's row, under its node's: "↳ model 1: calls product_search"


@dataclass(frozen=True, slots=True)
class TimelineBar:
    node_id: str
    label: str
    node_type: str
    start_ms: float
    duration_ms: float
    outcome: str  # a key of OUTCOME_COLORS
    error: str | None = None
    cache: str = "off"
    parent: str | None = None  # a step of that node (an agent's turn, a sub-flow's node), drawn under it

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms


def outcome_of(status: str, cache: str) -> str:
    if status.endswith("(background)"):
        return "failed" if status.startswith("failed") else "background"
    if status in ("failed", "continued"):
        return "failed"
    if status in ("skipped", "running", "cancelled"):
        return status
    return "cached" if cache == "hit" else "done"


def bars_from_report(report: RunReport, labels: Mapping[str, str] | None = None,
                     end_ms: float | None = None) -> list[TimelineBar]:
    """One bar per node of ``report``. A node still running at ``end_ms`` (or cut off when the
    run ended) is drawn up to that moment."""
    labels = labels or {}
    until = end_ms if end_ms is not None else report.result_ms
    bars = []
    for row in report.ordered():
        outcome = outcome_of(row.status, row.cache)
        duration = row.duration_ms
        if duration is None:
            duration = max(0.0, (until or row.start_ms) - row.start_ms)
            if report.status in ("cancelled", "failed"):
                outcome = "cancelled"
        if row.parent is not None:
            label = f"{STEP_MARK}{row.label or row.node_id}"  # right under its node: the name is enough
        else:
            label = labels.get(row.node_id) or row.node_id
        bars.append(TimelineBar(row.node_id, label, row.node_type, row.start_ms, duration, outcome, row.error,
                                row.cache, row.parent))
    return bars


def observed_critical_path(bars: Iterable[TimelineBar], preds: Mapping[str, Iterable[str]],
                           slack_ms: float = 0.05, blockers: Container[str] | None = None) -> list[str]:
    """The chain the run waited for, first to last: from the last node to finish, step back to
    whatever ended just before it started: its latest predecessor, or, when a predecessor ended
    much earlier, the node it queued behind (sequential mode, an AI node running alone).

    ``slack_ms``: how far after a node's start an earlier node's end may be and still count as
    before it (rounding in events; timelines rebuilt from stored rows need more). ``blockers``:
    the nodes another can queue behind (the exclusive ones); ``None``: any (a sequential run).
    Without it, a node started late by a busy event loop would seem to queue behind a sibling."""
    usable = {b.node_id: b for b in bars if b.outcome not in ("skipped", "background") and b.parent is None}
    if not usable:
        return []
    current = max(usable.values(), key=lambda b: (b.end_ms, b.start_ms)).node_id
    path = [current]
    seen = {current}
    while True:
        start = usable[current].start_ms
        before = [b for b in usable.values() if b.node_id not in seen and b.end_ms <= start + slack_ms]
        queued = [b for b in before if blockers is None or b.node_id in blockers]
        latest = max(queued, key=lambda b: b.end_ms) if queued else None
        from_preds = [b for b in before if b.node_id in set(preds.get(current, ()))]
        best_pred = max(from_preds, key=lambda b: b.end_ms) if from_preds else None
        if best_pred is not None and (latest is None or best_pred.end_ms >= latest.end_ms - TOLERANCE_MS):
            chosen = best_pred
        elif latest is not None and (best_pred is not None or start - latest.end_ms <= TOLERANCE_MS):
            chosen = latest
        else:
            break  # nothing ended right before it: it started on its own (a root)
        current = chosen.node_id
        path.append(current)
        seen.add(current)
    path.reverse()
    return path


def timeline_traces(bars: list[TimelineBar], critical: set[str], *, yaxis: str = "y",
                    show_legend: bool = True) -> list[dict[str, Any]]:
    """One horizontal bar trace per outcome (so the legend names outcomes), and the critical path
    as outlines drawn over its bars (its own legend entry)."""
    total = max((b.end_ms for b in bars), default=0.0)
    min_width = max(total * 0.004, 0.5)
    axes = {"yaxis": yaxis, "xaxis": yaxis.replace("y", "x")}

    def geometry(group: list[TimelineBar]) -> dict[str, Any]:
        return {"y": [b.label for b in group], "base": [round(b.start_ms, 2) for b in group],
                "x": [round(max(b.duration_ms, min_width), 2) for b in group], **axes}

    traces = []
    for outcome, color in OUTCOME_COLORS.items():
        group = [b for b in bars if b.outcome == outcome]
        if not group:
            continue
        traces.append({
            "type": "bar", "orientation": "h", "name": OUTCOME_NAMES[outcome], "legendgroup": outcome,
            "showlegend": show_legend, **geometry(group), "marker": {"color": color},
            "customdata": [[b.node_id, b.node_type, fmt_ms(b.start_ms), fmt_ms(b.duration_ms), b.cache,
                            "critical path" if b.node_id in critical else "", (b.error or "")[:200]] for b in group],
            "hovertemplate": ("<b>%{y}</b> (%{customdata[1]})<br>start %{customdata[2]}, took %{customdata[3]}"
                              "<br>cache %{customdata[4]} %{customdata[5]}<br>%{customdata[6]}<extra></extra>"),
        })
    on_path = [b for b in bars if b.node_id in critical]
    if on_path:
        traces.append({"type": "bar", "orientation": "h", "name": "critical path", "legendgroup": "critical",
                       "showlegend": show_legend, **geometry(on_path), "hoverinfo": "skip",
                       "marker": {"color": "rgba(0,0,0,0)", "line": {"color": CRITICAL_LINE, "width": 2.5}}})
    return traces


MARKERS = (("first chunk", "#8b5cf6", "dash"), ("result", NEUTRAL, "dot"))


def markers(first_chunk_ms: float | None, result_ms: float | None, *, xref: str = "x",
            yref: str = "y domain") -> list[dict[str, Any]]:
    """Vertical lines at the first streamed chunk and at the result (named in the legend)."""
    shapes = []
    for value, (_, color, dash) in zip((first_chunk_ms, result_ms), MARKERS, strict=True):
        if value is not None:
            shapes.append({"type": "line", "xref": xref, "yref": yref, "x0": value, "x1": value, "y0": 0, "y1": 1,
                           "line": {"color": color, "width": 1.5, "dash": dash}})
    return shapes


def marker_legend(first_chunk_ms: float | None, result_ms: float | None, *,
                  values: bool = True) -> list[dict[str, Any]]:
    """Legend entries for the marker lines (shapes have none of their own)."""
    return [{"type": "scatter", "x": [None], "y": [None], "mode": "lines",
             "name": f"{name} {fmt_ms(value)}" if values else name,
             "line": {"color": color, "dash": dash, "width": 1.5}, "hoverinfo": "skip"}
            for value, (name, color, dash) in zip((first_chunk_ms, result_ms), MARKERS, strict=True)
            if value is not None]


SELECTED_LINE = "#2563eb"  # the outline of the bar of the node selected on the canvas
# a click on a bar reports its node (customdata[0]); overlays (critical path, selection) carry none
BAR_CLICK_JS = "(e) => { const p = (e.points || []).find((p) => p.customdata); if (p) emit(p.customdata[0]); }"


def timeline_figure(bars: list[TimelineBar], *, critical: Iterable[str] = (), first_chunk_ms: float | None = None,
                    result_ms: float | None = None, title: str | None = None,
                    selected: str | None = None) -> dict[str, Any]:
    """``selected``: a node whose bar is outlined (the node selected on the canvas)."""
    if not bars:
        return empty_figure("No node ran.", title)
    bars = unique_labels(in_rows(bars))
    height = 130 + 26 * len({b.label for b in bars}) + (30 if title else 0)
    layout = base_layout(
        title, height=height, barmode="overlay", bargap=0.35, shapes=markers(first_chunk_ms, result_ms),
        xaxis=axis("", rangemode="tozero", ticksuffix=" ms"),
        yaxis=axis("", autorange="reversed", categoryorder="array", categoryarray=_labels(bars)),
    )
    layout["margin"].update(t=40 if title else 12, b=86)
    layout["legend"] = legend_below(height, layout["margin"]["t"], layout["margin"]["b"])
    data = timeline_traces(bars, set(critical)) + marker_legend(first_chunk_ms, result_ms)
    chosen = [b for b in bars if selected is not None and b.node_id == selected]
    if chosen:
        data.append({"type": "bar", "orientation": "h", "name": "selected", "showlegend": False, "hoverinfo": "skip",
                     "y": [b.label for b in chosen], "base": [round(b.start_ms, 2) for b in chosen],
                     "x": [round(max(b.duration_ms, 0.5), 2) for b in chosen],
                     "marker": {"color": "rgba(37,99,235,0.12)", "line": {"color": SELECTED_LINE, "width": 3}}})
    return {"data": data, "layout": layout, "config": CONFIG}


def selected_label(figure: dict[str, Any]) -> str | None:
    """The row label of the bar ``figure`` outlines, if any."""
    for trace in figure.get("data", []):
        if trace.get("name") == "selected" and trace.get("y"):
            return str(trace["y"][0])
    return None


def in_rows(bars: list[TimelineBar]) -> list[TimelineBar]:
    """Bars by start time, each node's steps right under it."""
    starts = {b.node_id: (b.start_ms, b.node_id) for b in bars if b.parent is None}

    def key(bar: TimelineBar) -> tuple[float, str, int, float, str]:
        if bar.parent is None:
            return (bar.start_ms, bar.node_id, 0, 0.0, "")
        start, owner = starts.get(bar.parent, (bar.start_ms, bar.parent))
        return (start, owner, 1, bar.start_ms, bar.node_id)

    return sorted(bars, key=key)


def unique_labels(bars: list[TimelineBar]) -> list[TimelineBar]:
    """Two nodes with one label would share a row: name the node too."""
    counts: dict[str, int] = {}
    for b in bars:
        counts[b.label] = counts.get(b.label, 0) + 1
    return [replace(b, label=f"{b.label} ({b.node_id})") if counts[b.label] > 1 else b for b in bars]


def _labels(bars: list[TimelineBar]) -> list[str]:
    return list(dict.fromkeys(b.label for b in bars))
