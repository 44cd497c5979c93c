"""Names for the elements tests look for: one name, two audiences."""
from __future__ import annotations

from typing import TypeVar

from nicegui.element import Element

E = TypeVar("E", bound=Element)


def tag(element: E, name: str) -> E:
    """``data-testid`` for the browser tests and a marker for NiceGUI's simulated ``User``."""
    element.props(f"data-testid={name}")
    element.mark(name)
    return element
