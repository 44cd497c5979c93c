"""Per-node policy: timeout, retries with backoff, and what a failure does to the run."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from editor.graph import EditError, FlowDraft

from .schema import parse_json, show_json

ON_ERROR = {
    "fail": "Fail the run",
    "continue": "Continue without its output",
    "fallback": "Continue with a fallback value",
}


class PolicyEditor:
    """Controls built in the current container; every change is written to the draft at once."""

    def __init__(self, draft: FlowDraft, node_id: str, on_change: Callable[[], None]) -> None:
        self.draft, self.node_id, self.on_change = draft, node_id, on_change
        node = draft.node(node_id)
        retry = node.retry
        self.timeout = ui.number("Timeout (seconds)", value=node.timeout_s, min=0, max=3600,
                                 on_change=lambda e: self._write(timeout_s=e.value or None)).props(
            "outlined dense clearable data-testid=policy-timeout").classes("w-full")
        self.timeout.props["hint"] = "Empty: no limit. The node is cancelled when it runs longer"
        with ui.row().classes("no-wrap gap-2 w-full"):
            self.attempts = ui.number("Attempts", value=retry.attempts if retry else 1, min=1, max=10, step=1,
                                      precision=0, on_change=lambda _: self._write_retry()).props(
                "outlined dense data-testid=policy-attempts").classes("grow")
            self.backoff = ui.number("Backoff (s)", value=retry.backoff_s if retry else 0.2, min=0, max=60, step=0.1,
                                     on_change=lambda _: self._write_retry()).props(
                "outlined dense data-testid=policy-backoff").classes("grow")
        ui.label("Attempts count the first try; the wait doubles after each retry.").classes("text-xs akis-muted")
        self.on_error = ui.select(ON_ERROR, label="On error", value=node.on_error,
                                  on_change=lambda e: self._on_error(e.value)).props(
            "outlined dense data-testid=policy-on-error").classes("w-full")
        self.fallback = ui.textarea("Fallback value (JSON object)", value=show_json(node.fallback),
                                    on_change=lambda e: self._fallback(e.value)).props(
            "outlined dense autogrow data-testid=policy-fallback").classes("w-full akis-mono").without_auto_validation()
        self.fallback.props["hint"] = 'Used as the node\'s output when it fails, e.g. {"products": []}'
        self.fallback.visible = node.on_error == "fallback"
        self._local_error: str | None = None

    def _write(self, **policy: object) -> None:
        try:
            self.draft.set_policy(self.node_id, **policy)
        except EditError as exc:
            ui.notify(str(exc), type="negative")
            return
        self.on_change()

    def _write_retry(self) -> None:
        attempts = int(self.attempts.value or 1)
        backoff = float(self.backoff.value if self.backoff.value is not None else 0.2)
        default = attempts == 1 and backoff == 0.2
        self._write(retry=None if default else {"attempts": attempts, "backoff_s": backoff})

    def _on_error(self, value: str) -> None:
        self.fallback.visible = value == "fallback"
        self._write(on_error=value)

    def _fallback(self, text: str | None) -> None:
        value, error = parse_json(text or "")
        if error is None and value is not None and not isinstance(value, dict):
            error = "the fallback must be a JSON object: the node's output keys and their values"
        self._local_error = error
        self.fallback.error = error
        if error is None:
            self._write(fallback=value)

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        messages = [m for key, found in errors.items() if key == "fallback" for m in found]
        if self._local_error:
            messages.insert(0, self._local_error)
        self.fallback.error = "; ".join(messages) or None
