"""Sequential against parallel: the same flow and input run both ways, one timeline above the
other on one time axis, and the time saved (the seed's 6 s -> 1.5 s, made visible)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .style import CONFIG, axis, base_layout, fmt_ms
from .timeline import TimelineBar, markers, timeline_traces, unique_labels


def compare_figure(sequential: list[TimelineBar], parallel: list[TimelineBar], *,
                   sequential_ms: float, parallel_ms: float,
                   sequential_critical: Iterable[str] = (), parallel_critical: Iterable[str] = (),
                   sequential_first_chunk_ms: float | None = None,
                   parallel_first_chunk_ms: float | None = None) -> dict[str, Any]:
    saved = sequential_ms - parallel_ms
    share = f" ({100 * saved / sequential_ms:.0f}% less)" if sequential_ms > 0 else ""
    title = (f"Sequential {fmt_ms(sequential_ms)} → parallel {fmt_ms(parallel_ms)}: "
             f"{fmt_ms(max(saved, 0.0))} saved{share}" if saved >= 0 else
             f"Sequential {fmt_ms(sequential_ms)}, parallel {fmt_ms(parallel_ms)}: no time saved")
    seq = unique_labels(sorted(sequential, key=lambda b: (b.start_ms, b.node_id)))
    par = unique_labels(sorted(parallel, key=lambda b: (b.start_ms, b.node_id)))
    data = timeline_traces(seq, set(sequential_critical), yaxis="y") + \
        timeline_traces(par, set(parallel_critical), yaxis="y2", show_legend=False)
    rows = max(len(seq), len(par), 1)
    s_shapes, s_notes = markers(sequential_first_chunk_ms, sequential_ms, xref="x", yref="y domain")
    p_shapes, p_notes = markers(parallel_first_chunk_ms, parallel_ms, xref="x2", yref="y2 domain")
    end = max(sequential_ms, parallel_ms, *(b.end_ms for b in seq + par)) * 1.04
    layout = base_layout(
        title, height=140 + 2 * 26 * rows, barmode="overlay", bargap=0.35,
        shapes=s_shapes + p_shapes, annotations=s_notes + p_notes + [
            _row_title("Sequential", "y domain"), _row_title("Parallel", "y2 domain")],
        xaxis=axis("", anchor="y", range=[0, end]),
        xaxis2=axis("ms since the run started", anchor="y2", matches="x", range=[0, end]),
        yaxis=axis("", domain=[0.56, 1.0], autorange="reversed"),
        yaxis2=axis("", domain=[0.0, 0.44], autorange="reversed"),
    )
    layout["margin"]["t"] = 56
    return {"data": data, "layout": layout, "config": CONFIG}


def _row_title(text: str, yref: str) -> dict[str, Any]:
    return {"text": f"<b>{text}</b>", "xref": "paper", "yref": yref, "x": 1, "y": 1, "xanchor": "right",
            "yanchor": "bottom", "showarrow": False, "font": {"size": 12}}
