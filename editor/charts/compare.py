"""Sequential against parallel: the same flow and input run both ways, one timeline above the
other on one time axis, and the time saved, made visible."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .style import CONFIG, axis, base_layout, fmt_ms, legend_below
from .timeline import TimelineBar, marker_legend, markers, timeline_traces, unique_labels

TOP = 76  # the two-line title and the row title above the first row


def compare_figure(sequential: list[TimelineBar], parallel: list[TimelineBar], *,
                   sequential_ms: float, parallel_ms: float,
                   sequential_critical: Iterable[str] = (), parallel_critical: Iterable[str] = (),
                   sequential_first_chunk_ms: float | None = None,
                   parallel_first_chunk_ms: float | None = None) -> dict[str, Any]:
    saved = sequential_ms - parallel_ms
    share = f" ({100 * saved / sequential_ms:.0f}% less)" if sequential_ms > 0 else ""
    title = (f"Sequential {fmt_ms(sequential_ms)} → parallel {fmt_ms(parallel_ms)}:<br>"  # two lines: a
             f"{fmt_ms(max(saved, 0.0))} saved{share}" if saved >= 0 else      # narrow pane shows it whole
             f"Sequential {fmt_ms(sequential_ms)}, parallel {fmt_ms(parallel_ms)}:<br>no time saved")
    seq = unique_labels(sorted(sequential, key=lambda b: (b.start_ms, b.node_id)))
    par = unique_labels(sorted(parallel, key=lambda b: (b.start_ms, b.node_id)))
    data = timeline_traces(seq, set(sequential_critical), yaxis="y") + \
        timeline_traces(par, set(parallel_critical), yaxis="y2", show_legend=False)
    data += marker_legend(parallel_first_chunk_ms, parallel_ms, values=False)
    rows = max(len(seq), len(par), 1)
    shapes = markers(sequential_first_chunk_ms, sequential_ms, xref="x", yref="y domain") + markers(
        parallel_first_chunk_ms, parallel_ms, xref="x2", yref="y2 domain")
    end = max(sequential_ms, parallel_ms, *(b.end_ms for b in seq + par)) * 1.04
    height = 190 + 2 * 26 * rows
    layout = base_layout(
        title, height=height, barmode="overlay", bargap=0.35, shapes=shapes,
        annotations=[_row_title("Sequential", sequential_first_chunk_ms, sequential_ms, "y domain"),
                     _row_title("Parallel", parallel_first_chunk_ms, parallel_ms, "y2 domain")],
        xaxis=axis("", anchor="y", range=[0, end], ticksuffix=" ms"),
        xaxis2=axis("", anchor="y2", matches="x", range=[0, end], ticksuffix=" ms"),
        yaxis=axis("", domain=[0.55, 0.95], autorange="reversed"),
        yaxis2=axis("", domain=[0.0, 0.40], autorange="reversed"),
    )
    layout["margin"].update(t=TOP, b=86)
    layout["legend"] = legend_below(height, TOP, 86)
    return {"data": data, "layout": layout, "config": CONFIG}


def _row_title(text: str, first_chunk_ms: float | None, result_ms: float, yref: str) -> dict[str, Any]:
    """Above the row, right-aligned so a narrow pane still shows it whole (it may run over the labels)."""
    chunk = f" · first chunk {fmt_ms(first_chunk_ms)}" if first_chunk_ms is not None else ""
    return {"text": f"<b>{text}</b>{chunk} · result {fmt_ms(result_ms)}", "xref": "paper", "yref": yref,
            "x": 1, "y": 1.02, "xanchor": "right", "yanchor": "bottom", "showarrow": False, "font": {"size": 12}}
