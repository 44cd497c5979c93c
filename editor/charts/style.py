"""Colours and layout shared by every chart; outcome colours match the canvas's status colours."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

OUTCOME_COLORS: dict[str, str] = {
    "done": "#16a34a",
    "cached": "#2563eb",
    "failed": "#dc2626",
    "skipped": "#94a3b8",
    "running": "#f59e0b",
    "cancelled": "#64748b",
    "background": "#7c3aed",
}
OUTCOME_NAMES: dict[str, str] = {
    "done": "done",
    "cached": "from cache",
    "failed": "failed",
    "skipped": "skipped",
    "running": "running",
    "cancelled": "cancelled",
    "background": "background",
}
SERIES = ["#2563eb", "#16a34a", "#f59e0b", "#7c3aed", "#db2777", "#0d9488", "#dc2626", "#64748b", "#ea580c", "#4f46e5"]
CRITICAL_LINE = "#e11d48"  # readable on light and dark pages alike
NEUTRAL = "#71809a"  # text and marker lines, readable on light and dark pages
TABLE_LINE = "rgba(148,163,184,0.35)"  # table rules, on light and dark pages
LEGEND_ROW_PX = 22
LEGEND_WIDTH_PX = 380  # the narrowest a dashboard chart gets (its grid's 440 px minus margins)
TABLE_WIDTH_PX = 400  # a dashboard table at its narrowest (the 440 px card less padding and margins)
TABLE_PAD_PX = 8  # plotly.js's cellPad
CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True,
                          "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def base_layout(title: str | None = None, height: int = 320, *, legend_top: bool = False,
                legend_names: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """``legend_top``: the legend sits between the title and the plot, where it can never cover
    tick labels (dates on the x axis take a varying height). ``legend_names``: when the legend
    may wrap, the top margin grows by its rows, so a long legend never reaches the title."""
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40 if title else 12, "b": 36},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "Roboto, system-ui, sans-serif", "size": 12, "color": NEUTRAL},
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "hoverlabel": {"font": {"size": 12}},
    }
    if title:
        layout["title"] = {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}}
    if legend_top:
        rows = legend_rows(legend_names or [])
        layout["margin"]["t"] = (66 if title else 34) + LEGEND_ROW_PX * (rows - 1)
        layout["height"] = height + LEGEND_ROW_PX * (rows - 1)
        layout["legend"] = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.01, "yanchor": "bottom"}
        if title:
            layout["title"].update(yref="container", y=1, yanchor="top", pad={"t": 10})
    layout.update(extra)
    return layout


def legend_rows(names: list[str], width: int = LEGEND_WIDTH_PX) -> int:
    """How many rows a horizontal legend of ``names`` takes at ``width`` px (12 px text: about
    7 px a character, plus the symbol and the gap)."""
    rows, used = 1, 0
    for name in names:
        item = 7 * len(name) + 46
        if used and used + item > width:
            rows, used = rows + 1, 0
        used += item
    return rows


def table_height(rows: Sequence[Sequence[str]], weights: Sequence[float], *, width: int = TABLE_WIDTH_PX,
                 min_row: int = 24) -> float:
    """The height a plotly.js table's rows (header first) take at ``width`` px: it wraps a cell's
    text at spaces to its column (``weights`` share the width) and scrolls whatever does not fit
    the figure, which then looked cut off. 12 px text: about 6 px a character, 1.3 of the font
    size a line, 8 px padding above and below."""
    rooms = [width * w / sum(weights) - 2 * TABLE_PAD_PX for w in weights]
    height = 0.0
    for row in rows:
        lines = max(_wrapped_lines(text, room) for text, room in zip(row, rooms, strict=True))
        height += max(min_row, lines * 1.3 * 12 + 2 * TABLE_PAD_PX)
    return height


def _wrapped_lines(text: str, room_px: float, char_px: float = 6.0) -> int:
    lines, used = 1, 0
    for word in str(text).split(" "):
        if used and (used + 1 + len(word)) * char_px > room_px:
            lines, used = lines + 1, 0
        used += len(word) + (1 if used else 0)
    return lines


def legend_below(height: int, margin_top: int, margin_bottom: int) -> dict[str, Any]:
    """A horizontal legend a fixed distance under the x axis, whatever the chart's height."""
    plot = max(1, height - margin_top - margin_bottom)
    return {"orientation": "h", "x": 0, "xanchor": "left", "yanchor": "top", "y": -30 / plot}


def axis(title: str = "", **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "gridcolor": "rgba(148,163,184,0.25)", "zeroline": False,
            "automargin": True, **extra}


def empty_figure(message: str, title: str | None = None, height: int = 240) -> dict[str, Any]:
    """A chart with nothing to plot says so instead of showing empty axes."""
    layout = base_layout(title, height, xaxis={"visible": False}, yaxis={"visible": False})
    layout["annotations"] = [{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                              "x": 0.5, "y": 0.5, "font": {"size": 13, "color": "#94a3b8"}}]
    return {"data": [], "layout": layout, "config": CONFIG}


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"
