"""The dashboard's charts, each from one SQL aggregate of ``storage.repos.dashboard``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from storage.repos.dashboard import PercentileRow

from .style import CONFIG, NEUTRAL, SERIES, TABLE_LINE, axis, base_layout, empty_figure, fmt_ms, table_height

NO_DATA = "No data yet: no runs in this range."
TimeRange = tuple[datetime, datetime] | None


def time_axis(window: TimeRange, last_end: datetime | None = None) -> dict[str, Any]:
    """A date axis over the whole selected range (UTC), so one busy bucket is not stretched
    over the chart and quiet periods show as quiet. ``last_end``: where the newest bucket's bar
    ends; the current bucket runs past "now", and its bar was cut at the axis end (or hidden)."""
    extra: dict[str, Any] = {"type": "date"}
    if window is not None:
        extra["range"] = [_iso(window[0]), _iso(max(window[1], last_end) if last_end else window[1])]
    return axis("UTC", **extra)


def percentiles_figure(rows: Sequence[PercentileRow], *, by: str = "node_type", title: str | None = None,
                       limit: int = 15, names: Mapping[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """p50 and p95 per node type (or node), slowest p50 on top. Per node, the axis names each node
    by its label (``names``: ``(flow_id, node_id) -> label``), its id when the label is unknown."""
    title = title or ("Duration by node type" if by == "node_type" else "Duration by node")
    rows = list(rows)[:limit]
    if not rows:
        return empty_figure(NO_DATA, title)
    names = names or {}
    labels = [r.key if by == "node_type" else f"{names.get((r.flow_id or '', r.key), r.key)} · {r.flow_id}"
              for r in rows]
    hover = [[r.node_type, r.count, fmt_ms(r.avg_ms), fmt_ms(r.max_ms)] for r in rows]
    template = ("<b>%{y}</b> (%{customdata[0]})<br>%{fullData.name} %{x:.1f} ms<br>"
                "%{customdata[1]} runs, mean %{customdata[2]}, max %{customdata[3]}<extra></extra>")
    data = [
        {"type": "bar", "orientation": "h", "name": "p50", "y": labels, "x": [r.p50_ms for r in rows],
         "marker": {"color": "#2563eb"}, "customdata": hover, "hovertemplate": template},
        {"type": "bar", "orientation": "h", "name": "p95", "y": labels, "x": [r.p95_ms for r in rows],
         "marker": {"color": "#93c5fd"}, "customdata": hover, "hovertemplate": template},
    ]
    layout = base_layout(title, height=130 + 34 * len(rows), legend_top=True, barmode="group",
                         xaxis=axis("", rangemode="tozero", ticksuffix=" ms"), yaxis=axis("", autorange="reversed"))
    return {"data": data, "layout": layout, "config": CONFIG}


def durations_figure(series: Sequence[tuple[datetime, str, float, int]], title: str = "Mean duration over time",
                     *, window: TimeRange = None) -> dict[str, Any]:
    if not series:
        return empty_figure(NO_DATA, title)
    by_type: dict[str, list[tuple[datetime, float, int]]] = {}
    for at, node_type, avg, n in series:
        by_type.setdefault(node_type, []).append((at, avg, n))
    ranked = sorted(by_type, key=lambda t: -max(avg for _, avg, _ in by_type[t]))
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": node_type, "line": {"color": SERIES[i % len(SERIES)]},
         "marker": {"size": 5}, "cliponaxis": False, "x": [_iso(at) for at, _, _ in by_type[node_type]],
         "y": [avg for _, avg, _ in by_type[node_type]], "customdata": [n for _, _, n in by_type[node_type]],
         "hovertemplate": "%{fullData.name}<br>%{x}<br>mean %{y:.1f} ms over %{customdata} runs<extra></extra>"}
        for i, node_type in enumerate(ranked)
    ]
    layout = base_layout(title, height=320, legend_top=True, legend_names=ranked, xaxis=time_axis(window),
                         yaxis=axis("ms", rangemode="tozero"))
    return {"data": data, "layout": layout, "config": CONFIG}


def cache_types_figure(by_type: Mapping[str, Mapping[str, Any]], title: str = "Cache hit rate by node type",
                       ) -> dict[str, Any]:
    """The cache's ``{total, hits, rate}`` per node type (docs/cache.md, "Hit rates") as bars of the rate."""
    if not by_type:
        return empty_figure("No data yet: no cached node ran in this range.", title)
    types = sorted(by_type, key=lambda t: -by_type[t]["total"])
    data = [{
        "type": "bar", "x": types, "y": [by_type[t]["rate"] for t in types], "marker": {"color": "#2563eb"},
        "text": [f"{by_type[t]['rate']:.0f}% of {by_type[t]['total']}" for t in types], "textposition": "auto",
        "customdata": [[by_type[t]["hits"], by_type[t]["total"]] for t in types],
        "hovertemplate": "%{x}<br>%{customdata[0]} hits of %{customdata[1]} lookups (%{y:.1f}%)<extra></extra>",
    }]
    layout = base_layout(title, height=280, yaxis=axis("hit rate %", range=[0, 100]), xaxis=axis(""))
    return {"data": data, "layout": layout, "config": CONFIG}


def cache_keys_figure(keys: Mapping[str, Mapping[str, Any]], *, top: int = 10, title: str = "Top cache keys",
                      about: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The most looked-up keys with their total, hits and rate, as a table. ``about`` (key ->
    an object with ``node`` and ``values``) names the node and the key fields' values; without
    it a key shows as its (shortened) text."""
    if not keys:
        return empty_figure("No data yet: no cached node was looked up.", title)
    ranked = sorted(keys.items(), key=lambda item: (-item[1]["total"], item[0]))[:top]
    about = about or {}
    nodes = [about[k].node if k in about else (k if len(k) <= 52 else k[:30] + "…" + k[-20:]) for k, _ in ranked]
    values = [about[k].values if k in about else "" for k, _ in ranked]
    header, columns = ["node", "key values", "total", "hits", "rate %"], [3, 4, 1, 1, 1]
    data = [{
        "type": "table", "columnwidth": columns,
        "header": {"values": header, "align": ["left", "left", "right"],
                   "fill": {"color": "rgba(148,163,184,0.15)"}, "font": {"size": 12, "color": NEUTRAL},
                   "line": {"color": TABLE_LINE}},
        "cells": {"values": [nodes, values, [c["total"] for _, c in ranked], [c["hits"] for _, c in ranked],
                             [f"{c['rate']:.2f}" for _, c in ranked]],
                  "align": ["left", "left", "right"], "height": 24, "font": {"size": 12, "color": NEUTRAL},
                  "fill": {"color": "rgba(0,0,0,0)"}, "line": {"color": TABLE_LINE}},
    }]
    rows = [header, *([n, v, "", "", ""] for n, v in zip(nodes, values, strict=True))]
    layout = base_layout(title, height=round(40 + 8 + 8 + table_height(rows, columns)),  # margins, a little room
                         margin={"l": 10, "r": 10, "t": 40, "b": 8})
    return {"data": data, "layout": layout, "config": CONFIG}


def runs_figure(series: Sequence[tuple[datetime, int, int]], *, bucket_s: int = 60,
                title: str = "Runs per minute and error rate", window: TimeRange = None) -> dict[str, Any]:
    if not series:
        return empty_figure(NO_DATA, title)
    per_minute = 60.0 / bucket_s
    x = [_iso(at + timedelta(seconds=bucket_s / 2)) for at, _, _ in series]  # bars centred on their bucket
    width = [bucket_s * 1000 * 0.9] * len(series)
    ok = [round((n - failed) * per_minute, 3) for _, n, failed in series]
    bad = [round(failed * per_minute, 3) for _, _, failed in series]
    rate = [round(100.0 * failed / n, 1) if n else 0.0 for _, n, failed in series]
    data = [
        {"type": "bar", "name": "ok", "x": x, "y": ok, "width": width,
         "marker": {"color": "#16a34a"}, "hovertemplate": "%{x}<br>%{y} runs/min<extra></extra>"},
        {"type": "bar", "name": "failed", "x": x, "y": bad, "width": width, "marker": {"color": "#dc2626"},
         "hovertemplate": "%{x}<br>%{y} failed runs/min<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "name": "error %", "x": x, "y": rate, "yaxis": "y2",
         "line": {"color": "#f59e0b"}, "marker": {"size": 5}, "hovertemplate": "%{x}<br>%{y}% failed<extra></extra>"},
    ]
    last_end = series[-1][0] + timedelta(seconds=bucket_s)
    layout = base_layout(title, height=320, legend_top=True, barmode="stack", xaxis=time_axis(window, last_end),
                         yaxis=axis("runs / min", rangemode="tozero"),
                         yaxis2=axis("error %", overlaying="y", side="right", range=[0, 100], showgrid=False))
    return {"data": data, "layout": layout, "config": CONFIG}


def first_chunk_figure(width_ms: float, histogram: Sequence[tuple[float, int]], *, p50: float | None = None,
                       p95: float | None = None, title: str = "Time to first chunk") -> dict[str, Any]:
    """The histogram, with p50 and p95 as lines named in the legend: labels on the lines
    overlapped when the two were close, and the right one was cut at the plot's edge."""
    if not histogram:
        return empty_figure("No data yet: no streamed answer in this range.", title)
    data: list[dict[str, Any]] = [{
        "type": "bar", "x": [start + width_ms / 2 for start, _ in histogram], "y": [n for _, n in histogram],
        "width": [width_ms * 0.92] * len(histogram), "marker": {"color": "#7c3aed"}, "name": "runs",
        "showlegend": False, "customdata": [[start, start + width_ms] for start, _ in histogram],
        "hovertemplate": "%{customdata[0]:.0f}-%{customdata[1]:.0f} ms<br>%{y} runs<extra></extra>",
    }]
    top = max(n for _, n in histogram)
    for value, name, dash in ((p50, "p50", "dash"), (p95, "p95", "dot")):
        if value is not None:
            data.append({"type": "scatter", "mode": "lines", "name": f"{name} {fmt_ms(value)}", "x": [value, value],
                         "y": [0, top], "line": {"color": NEUTRAL, "width": 1.5, "dash": dash},
                         "hovertemplate": f"{name} {fmt_ms(value)}<extra></extra>"})
    layout = base_layout(title, height=280, legend_top=True,
                         xaxis=axis("ms to the first chunk", rangemode="tozero"), yaxis=axis("runs"))
    return {"data": data, "layout": layout, "config": CONFIG}


def tokens_figure(series: Sequence[tuple[datetime, int, int]], title: str = "Tokens used", *, bucket_s: int = 60,
                  window: TimeRange = None) -> dict[str, Any]:
    if not series:
        return empty_figure("No data yet: no tokens were reported in this range.", title)
    x = [_iso(at + timedelta(seconds=bucket_s / 2)) for at, _, _ in series]
    width = [bucket_s * 1000 * 0.9] * len(series)
    data = [
        {"type": "bar", "name": "input", "x": x, "y": [i for _, i, _ in series], "width": width,
         "marker": {"color": "#0d9488"}},
        {"type": "bar", "name": "output", "x": x, "y": [o for _, _, o in series], "width": width,
         "marker": {"color": "#db2777"}},
    ]
    last_end = series[-1][0] + timedelta(seconds=bucket_s)
    layout = base_layout(title, height=300, legend_top=True, barmode="stack", xaxis=time_axis(window, last_end),
                         yaxis=axis("tokens", rangemode="tozero"))
    return {"data": data, "layout": layout, "config": CONFIG}


def _iso(at: datetime) -> str:
    return at.isoformat()
