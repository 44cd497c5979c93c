"""Charts of an evaluation's results (issue 22): per version, each scorer's mean and the pass
rate; the time to first chunk and total duration p50/p95; and the tokens used."""
from __future__ import annotations

from typing import Any

from runtime.evals.report import VersionSummary

from .style import CONFIG, SERIES, axis, base_layout, empty_figure


def _name(summary: VersionSummary, baseline: int | None) -> str:
    return f"v{summary.version}" + (" (baseline)" if summary.version == baseline else "")


def scores_figure(summaries: list[VersionSummary], baseline: int | None = None) -> dict[str, Any]:
    """Pass rate and each scorer's mean (0 to 1), one bar group per scorer, one colour per version."""
    if not any(s.cases for s in summaries):
        return empty_figure("No case has finished yet.", "Scores")
    groups = ["pass rate", *dict.fromkeys(n for s in summaries for n in s.scorers)]
    data = []
    for i, s in enumerate(summaries):
        values = [s.pass_rate, *(s.scorers[n].mean if n in s.scorers else None for n in groups[1:])]
        data.append({"type": "bar", "name": _name(s, baseline), "x": groups, "y": values,
                     "marker": {"color": SERIES[i % len(SERIES)]},
                     "text": [f"{v:.0%}" if v is not None else "" for v in values], "textposition": "auto",
                     "hovertemplate": f"{_name(s, baseline)} · %{{x}}: %{{y:.3f}}<extra></extra>"})
    layout = base_layout("Scores per version (1 is best)", 320, legend_top=True, barmode="group",
                         yaxis=axis("score", range=[0, 1.05], tickformat=".0%"), xaxis=axis())
    return {"data": data, "layout": layout, "config": CONFIG}


def latency_figure(summaries: list[VersionSummary], baseline: int | None = None) -> dict[str, Any]:
    """p50 and p95 of the time to first chunk and of the total duration, per version."""
    if not any(s.duration_p50 is not None for s in summaries):
        return empty_figure("No case has finished yet.", "Latency")
    groups = ["first chunk p50", "first chunk p95", "total p50", "total p95"]
    data = []
    for i, s in enumerate(summaries):
        values = [s.first_chunk_p50, s.first_chunk_p95, s.duration_p50, s.duration_p95]
        data.append({"type": "bar", "name": _name(s, baseline), "x": groups, "y": values,
                     "marker": {"color": SERIES[i % len(SERIES)]},
                     "hovertemplate": f"{_name(s, baseline)} · %{{x}}: %{{y:.0f}} ms<extra></extra>"})
    layout = base_layout("Latency per version (ms)", 300, legend_top=True, barmode="group",
                         yaxis=axis("ms", ticksuffix=" ms"), xaxis=axis())
    return {"data": data, "layout": layout, "config": CONFIG}


def tokens_figure(summaries: list[VersionSummary], baseline: int | None = None) -> dict[str, Any]:
    """Tokens in and out per version (stacked), over the whole dataset."""
    if not any(s.tokens_in + s.tokens_out for s in summaries):
        return empty_figure("These runs used no model tokens.", "Tokens", height=200)
    names = [_name(s, baseline) for s in summaries]
    data = [{"type": "bar", "name": "in", "x": names, "y": [s.tokens_in for s in summaries],
             "marker": {"color": SERIES[0]}, "hovertemplate": "%{x}: %{y} tokens in<extra></extra>"},
            {"type": "bar", "name": "out", "x": names, "y": [s.tokens_out for s in summaries],
             "marker": {"color": SERIES[2]}, "hovertemplate": "%{x}: %{y} tokens out<extra></extra>"}]
    layout = base_layout("Tokens per version", 260, legend_top=True, barmode="stack", yaxis=axis("tokens"),
                         xaxis=axis())
    return {"data": data, "layout": layout, "config": CONFIG}
