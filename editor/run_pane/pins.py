"""Pinned inputs: per node, the JSON a person runs that node alone with (docs/run_pane.md).

Kept with the flow's unsaved draft in this browser's storage (``app.storage.user``), never in
the flow document: a saved version and the toolbar's export never carry them. "Export with
pinned inputs" (:func:`with_pins`) writes them into each node's ``ui.pinned`` when asked."""
from __future__ import annotations

import contextlib
import json
from typing import Any

from nicegui import app

from runtime.flow.model import FlowDocument


def pins_key(tenant: str, flow_id: str) -> str:
    return f"pins:{tenant}:{flow_id}"


class DraftPins:
    """The pinned inputs of one flow for one tenant, in this browser: node id -> JSON text."""

    def __init__(self, tenant: str, flow_id: str) -> None:
        self.key = pins_key(tenant, flow_id)
        self._memory: dict[str, str] = {}  # outside a page (no user storage): kept for this object only

    def _all(self) -> dict[str, str]:
        try:
            value = app.storage.user.get(self.key)
        except (RuntimeError, AssertionError):
            return dict(self._memory)
        return dict(value) if isinstance(value, dict) else {}

    def _store(self, pins: dict[str, str]) -> None:
        self._memory = pins
        with contextlib.suppress(RuntimeError, AssertionError):
            if pins:
                app.storage.user[self.key] = pins
            else:
                app.storage.user.pop(self.key, None)

    def get(self, node_id: str) -> str | None:
        return self._all().get(node_id)

    def all(self) -> dict[str, str]:
        return self._all()

    def pin(self, node_id: str, text: str) -> None:
        self._store({**self._all(), node_id: text})

    def unpin(self, node_id: str) -> None:
        pins = self._all()
        pins.pop(node_id, None)
        self._store(pins)


def with_pins(document: FlowDocument, pins: dict[str, str]) -> dict[str, Any]:
    """The flow's JSON with each pinned node's inputs in its ``ui.pinned`` (the runtime ignores ``ui``)."""
    data = document.dump()
    for node in data.get("nodes", []):
        text = pins.get(node.get("id", ""))
        if text is None:
            continue
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        node["ui"] = {**(node.get("ui") or {}), "pinned": value}
    return data
