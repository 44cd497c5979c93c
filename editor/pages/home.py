"""Flows list (placeholder until the editor lands)."""
from __future__ import annotations

from typing import Any

from nicegui import ui


def register(context: Any) -> None:
    @ui.page("/")
    def flows_page() -> None:
        ui.label("Akis").classes("text-h4")
        ui.label("Visual editor and runtime for AI chatbot workflows.")
