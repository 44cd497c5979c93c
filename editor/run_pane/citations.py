"""The sources an answer cites: ``ai_response`` told to cite puts numbered passages in the run's
output (``citations``); the run pane lists them as ``[n] document · part p``, each opening to
the passage, so a reader checks the answer's ``[n]`` against its source."""
from __future__ import annotations

from typing import Any

from nicegui import ui

from .marks import tag


def cited(output: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The well-formed citations of a run's output (none when the flow does not cite)."""
    found = (output or {}).get("citations")
    if not isinstance(found, list):
        return []
    return [c for c in found if isinstance(c, dict) and isinstance(c.get("text"), str) and "n" in c]


def title(citation: dict[str, Any]) -> str:
    position = citation.get("position")
    where = f" · part {position + 1}" if isinstance(position, int) else ""
    return f"[{citation['n']}] {citation.get('document') or 'source'}{where}"


def citations_view(output: dict[str, Any] | None) -> None:
    """The numbered sources, each an expansion that opens the passage; nothing when none."""
    citations = cited(output)
    if not citations:
        return
    with tag(ui.column(), "run-citations").classes("w-full gap-0"):
        ui.label("Sources").classes("text-weight-medium")
        for citation in citations:
            with tag(ui.expansion(title(citation), icon="format_quote"), f"citation-{citation['n']}").classes(
                    "w-full").props("dense"):
                ui.label(citation["text"]).classes("text-body2").style("white-space: pre-wrap")
