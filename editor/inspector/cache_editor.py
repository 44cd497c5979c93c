"""The cache strategy editor, for one node: on/off, TTL, key fields, tags, and scope.

Scope "type" writes the flow's ``cache_strategy`` for the node's type (every node of that type
shares it); scope "node" writes the node's own ``cache`` override. A node type
that must never be cached (``ai_response``) gets the controls disabled and the reason.
"""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from editor.graph import EditError, FlowDraft
from runtime.flow.model import CacheStrategy
from runtime.nodes.base import NodeType

NEVER_CACHED_REASONS = {
    "ai_response": "An AI response is never cached: its answer depends on the whole context "
                   "(cache the inputs, never the model's answer).",
}
TTL_PRESETS = {60: "1 min", 300: "5 min", 3600: "1 h", 86400: "1 day"}


def never_cached_reason(node_type: NodeType | None) -> str | None:
    """Why this node type cannot be cached, or None when it can."""
    if node_type is None or node_type.cacheable:
        return None
    if node_type.type_id in NEVER_CACHED_REASONS:
        return NEVER_CACHED_REASONS[node_type.type_id]
    if node_type.background:
        return "A background node is never cached: it runs for its side effect (saving), not for an answer."
    return f"{node_type.type_id} declares that its output may not be cached."


class CacheEditor:
    """Controls built in the current container; every change is written to the draft at once."""

    def __init__(self, draft: FlowDraft, node_id: str, node_type: NodeType | None,
                 on_change: Callable[[], None]) -> None:
        self.draft, self.node_id, self.on_change = draft, node_id, on_change
        node = draft.node(node_id)
        self.reason = never_cached_reason(node_type)
        self.key_select: ui.select | None = None
        if self.reason is not None:
            ui.switch("Cache this node's output", value=False).props("disable data-testid=cache-enabled")
            reason = ui.row().classes("items-start no-wrap gap-2 text-sm akis-muted")
            with reason.props("data-testid=cache-disabled-reason"):
                ui.icon("block").classes("text-lg text-red-500")
                ui.label(self.reason)
            return
        fields = list(node_type.Config.model_fields) if node_type is not None else list(node.config)
        scope = draft.cache_scope(node_id)
        strategy = draft.effective_cache(node_id) or CacheStrategy(enabled=False)
        count = sum(1 for n in draft.document.nodes if n.type == node.type)
        self.scope = ui.toggle({"type": f"Every {node.type} node ({count})", "node": "Only this node"}, value=scope,
                               on_change=lambda _: self._write()).props("dense no-caps data-testid=cache-scope")
        self.enabled = ui.switch("Cache this node's output", value=strategy.enabled,
                                 on_change=lambda _: self._write()).props("data-testid=cache-enabled")
        with ui.row().classes("items-center no-wrap gap-2 w-full"):
            self.ttl = ui.number("TTL (seconds)", value=strategy.ttl, min=1, max=30 * 24 * 3600, step=1, precision=0,
                                 on_change=lambda _: self._write()).props("outlined dense data-testid=cache-ttl")
            self.ttl.classes("grow")
            for seconds, text in TTL_PRESETS.items():
                ui.button(text, on_click=lambda _, s=seconds: self.ttl.set_value(s)).props("flat dense no-caps size=sm")
        chosen = list(strategy.key_fields or [])
        options = fields + [k for k in chosen if k not in fields]  # an unknown one stays visible, marked
        self.key_select = ui.select(options, multiple=True, label="Key fields", value=chosen,
                                    on_change=lambda _: self._write()).props(
            "outlined dense use-chips data-testid=cache-key-fields").classes("w-full").without_auto_validation()
        self.key_select.props["hint"] = "Config fields whose resolved values form the key; none chosen: all of them"
        self.tags = ui.input_chips("Tags", value=list(strategy.tags), new_value_mode="add-unique",
                                   on_change=lambda _: self._write()).props("outlined dense data-testid=cache-tags")
        self.tags.classes("w-full")
        self.tags.props["hint"] = "An event such as product.updated clears every entry with its tag"
        with ui.row().classes("items-center no-wrap gap-2 text-xs akis-muted"):
            ui.icon("lock").classes("text-sm")
            ui.label(f"Keys always carry the tenant: tenant_{{id}}_{node.type}_{{hash}}")

    def _write(self) -> None:
        ttl = int(self.ttl.value or 300)
        strategy = {"enabled": bool(self.enabled.value), "ttl": max(1, ttl), "tags": list(self.tags.value or [])}
        if self.key_select is not None and self.key_select.value:
            strategy["key_fields"] = list(self.key_select.value)
        try:
            self.draft.set_cache(self.node_id, strategy, scope=self.scope.value)
        except EditError as exc:
            ui.notify(str(exc), type="negative")
            return
        self.on_change()

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        if self.key_select is None:
            return
        messages = [m for key, found in errors.items() if key.startswith("cache") for m in found]
        self.key_select.error = "; ".join(messages) or None
