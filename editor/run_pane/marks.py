"""Names for the elements tests look for: one name, two audiences."""
from __future__ import annotations

from typing import Any, TypeVar

from nicegui import ui
from nicegui.element import Element

E = TypeVar("E", bound=Element)


def tag(element: E, name: str) -> E:
    """``data-testid`` for the browser tests and a marker for NiceGUI's simulated ``User``."""
    element.props(f"data-testid={name}")
    element.mark(name)
    return element


def fixed(figure: dict[str, Any]) -> dict[str, Any]:
    """The figure, not following its container's size: NiceGUI resizes a responsive chart when its
    size changes, and a tab that hides it (size 0) makes plotly.js throw. The pane's width does
    not change, so nothing is lost."""
    return {**figure, "config": {**figure.get("config", {}), "responsive": False}}


def fixed_plot(figure: dict[str, Any]) -> ui.plotly:
    return ui.plotly(fixed(figure))
