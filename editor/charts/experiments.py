"""Charts of an A/B test's results (issue 17), one figure per question: how fast is each variant
(p50/p95 of the first chunk and of the whole run), how often does it fail, hit the cache and please
its users (with 95% intervals), and how far is each challenger from the control (with its interval)."""
from __future__ import annotations

from typing import Any

from editor.services.experiment_report import VariantResult
from editor.services.experiment_stats import Interval

from .style import CONFIG, NEUTRAL, SERIES, axis, base_layout, empty_figure

METRIC_NAMES = {"first_chunk_ms": "Time to first chunk", "duration_ms": "Total duration",
                "error_rate": "Error rate", "positive_feedback": "Positive feedback"}


def runs_figure(results: list[VariantResult], planned: int) -> dict[str, Any]:
    """Runs per variant against the planned sample (the dashed line)."""
    if not any(r.runs for r in results):
        return empty_figure("No runs yet: new sessions of the flow are split between the variants.", "Runs")
    names = [r.name for r in results]
    data = [{"type": "bar", "x": names, "y": [r.runs for r in results], "name": "runs",
             "marker": {"color": [SERIES[i % len(SERIES)] for i in range(len(results))]},
             "text": [f"{r.runs} runs · {r.sessions} sessions" for r in results], "textposition": "inside",
             "insidetextanchor": "middle",
             "hovertemplate": "%{x}: %{y} runs<extra></extra>"}]
    layout = base_layout(f"Runs per variant (dashed: the planned {planned})", 260, yaxis=axis("runs"),
                         xaxis=axis(), showlegend=False)
    layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": planned, "y1": planned,
                         "line": {"dash": "dash", "color": NEUTRAL, "width": 1.5}}]
    return {"data": data, "layout": layout, "config": CONFIG}


def latency_figure(results: list[VariantResult]) -> dict[str, Any]:
    """p50 and p95 of the time to first chunk and of the total duration, per variant."""
    if not any(r.duration_p50 is not None for r in results):
        return empty_figure("No finished runs yet.", "Latency")
    groups = ["first chunk p50", "first chunk p95", "total p50", "total p95"]
    data = []
    for i, r in enumerate(results):
        values = [r.first_chunk_p50, r.first_chunk_p95, r.duration_p50, r.duration_p95]
        data.append({"type": "bar", "name": r.name, "x": groups, "y": values,
                     "marker": {"color": SERIES[i % len(SERIES)]},
                     "hovertemplate": f"{r.name} · %{{x}}: %{{y:.0f}} ms<extra></extra>"})
    layout = base_layout("Latency per variant (ms)", 300, legend_top=True, barmode="group",
                         yaxis=axis("ms", ticksuffix=" ms"), xaxis=axis())
    return {"data": data, "layout": layout, "config": CONFIG}


def rates_figure(results: list[VariantResult]) -> dict[str, Any]:
    """Error, cache hit and positive feedback rates per variant with their 95% Wilson intervals."""
    groups = [("error rate", "error_rate"), ("cache hit rate", "cache_hit_rate"),
              ("positive feedback", "positive_feedback")]
    if not any(getattr(r, attr) is not None for r in results for _, attr in groups):
        return empty_figure("No finished runs yet.", "Rates")
    data = []
    for i, r in enumerate(results):
        intervals: list[Interval | None] = [getattr(r, attr) for _, attr in groups]
        data.append({
            "type": "bar", "name": r.name, "x": [name for name, _ in groups],
            "y": [100 * v.estimate if v else None for v in intervals],
            "error_y": {"type": "data", "symmetric": False,
                        "array": [100 * (v.high - v.estimate) if v else 0 for v in intervals],
                        "arrayminus": [100 * (v.estimate - v.low) if v else 0 for v in intervals],
                        "color": NEUTRAL, "thickness": 1.2},
            "marker": {"color": SERIES[i % len(SERIES)]},
            "hovertemplate": f"{r.name} · %{{x}}: %{{y:.1f}}%<extra></extra>"})
    layout = base_layout("Rates per variant, with 95% intervals", 300, legend_top=True, barmode="group",
                         yaxis=axis("%", ticksuffix="%", rangemode="tozero"), xaxis=axis())
    return {"data": data, "layout": layout, "config": CONFIG}


def difference_figure(results: list[VariantResult], metric: str) -> dict[str, Any]:
    """Each challenger minus the control on the primary metric, the 95% interval as a bar around
    the estimate: an interval that crosses the zero line is no difference yet."""
    title = f"{METRIC_NAMES.get(metric, metric)}: challenger minus control"
    rows = [(r.name, r.comparisons[metric].difference, r.verdict) for r in results[1:]
            if metric in r.comparisons and r.comparisons[metric].difference is not None]
    if not rows:
        return empty_figure("Not enough runs in the control and a challenger to compare them.", title)
    rate = metric in ("error_rate", "positive_feedback")
    scale = 100.0 if rate else 1.0
    unit = " pts" if rate else " ms"
    colors = {"better": "#16a34a", "worse": "#dc2626"}
    data = [{
        "type": "scatter", "mode": "markers", "y": [name for name, _, _ in rows],
        "x": [scale * d.estimate for _, d, _ in rows if d is not None],
        "error_x": {"type": "data", "symmetric": False,
                    "array": [scale * (d.high - d.estimate) for _, d, _ in rows if d is not None],
                    "arrayminus": [scale * (d.estimate - d.low) for _, d, _ in rows if d is not None],
                    "thickness": 2, "width": 6, "color": NEUTRAL},
        "marker": {"size": 11, "color": [colors.get(v, NEUTRAL) for _, _, v in rows]},
        "text": [v for _, _, v in rows],
        "hovertemplate": "%{y}: %{x:.1f}" + unit + " (%{text})<extra></extra>"}]
    low = min(0.0, *(scale * d.low for _, d, _ in rows if d is not None))
    high = max(0.0, *(scale * d.high for _, d, _ in rows if d is not None))
    pad = max((high - low) * 0.1, 1.0)  # zero always shows, so the distance to "no difference" reads at a glance
    layout = base_layout(title, 150 + 40 * len(rows), showlegend=False,
                         xaxis=axis("difference" + unit, ticksuffix=unit, zeroline=True, zerolinecolor=NEUTRAL,
                                    zerolinewidth=2, range=[low - pad, high + pad]),
                         yaxis=axis(autorange="reversed"))
    return {"data": data, "layout": layout, "config": CONFIG}
