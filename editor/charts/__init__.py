"""Plotly figure builders for the run pane and the dashboard.

Each returns a plain Plotly figure dict (``data``/``layout``/``config``): NiceGUI sends it as is,
which is the fast path for ``ui.plotly``, and ``plotly.graph_objects.Figure(fig)`` accepts it.
"""
from .compare import compare_figure
from .dashboard import (
    cache_keys_figure,
    cache_types_figure,
    durations_figure,
    first_chunk_figure,
    percentiles_figure,
    runs_figure,
    tokens_figure,
)
from .timeline import TimelineBar, bars_from_report, observed_critical_path, timeline_figure

__all__ = [
    "TimelineBar",
    "bars_from_report",
    "cache_keys_figure",
    "cache_types_figure",
    "compare_figure",
    "durations_figure",
    "first_chunk_figure",
    "observed_critical_path",
    "percentiles_figure",
    "runs_figure",
    "timeline_figure",
    "tokens_figure",
]
