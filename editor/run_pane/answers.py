"""One output pane per streaming node: its text as it arrives, word by word, and the time to
its first chunk. Chunks only mark the pane dirty; a short timer sends the text, so a fast model
costs at most ~16 small updates a second instead of one per chunk."""
from __future__ import annotations

from nicegui import ui

from ..charts.style import fmt_ms
from .live import Answer, LiveRun
from .marks import tag

FLUSH_S = 0.06


class AnswerPanes(ui.column):
    def __init__(self) -> None:
        super().__init__()
        self.classes("w-full gap-2")
        self._texts: dict[str, ui.label] = {}
        self._meta: dict[str, ui.label] = {}
        self._live: LiveRun | None = None
        self._dirty = False
        self._timer = ui.timer(FLUSH_S, self.flush, active=False)

    def start(self, live: LiveRun) -> None:
        """New panes for a new run, one per streaming node, in flow order."""
        self._live = live
        self.set_visibility(True)  # chat mode hides the last reply once the transcript shows it
        self.clear()
        self._texts.clear()
        self._meta.clear()
        with self:
            for answer in live.answers.values():
                self._pane(answer)
        self._timer.activate()

    def _pane(self, answer: Answer) -> None:
        node_id = answer.node_id
        with tag(ui.card(), f"answer-card-{node_id}").classes("w-full q-pa-sm gap-1").props("flat bordered"):
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                ui.icon("smart_toy", size="18px").classes("text-purple-7")
                ui.label(answer.label).classes("text-weight-medium")
                ui.space()
                self._meta[node_id] = tag(ui.label("waiting"), f"answer-meta-{node_id}").classes(
                    "text-caption text-grey-7")
            self._texts[node_id] = tag(ui.label(""), f"answer-{node_id}").classes("w-full").style(
                "white-space: pre-wrap; min-height: 1.5em; line-height: 1.45")

    def touch(self) -> None:
        """New text arrived: the next tick sends it."""
        self._dirty = True

    def flush(self) -> None:
        """Send what changed; after the run, the last flush stops the timer."""
        live = self._live
        if live is None:
            return
        if self._dirty:
            self._dirty = False
            for node_id, answer in live.answers.items():
                if node_id not in self._texts:
                    with self:
                        self._pane(answer)
                label = self._texts[node_id]
                if label.text != answer.text:
                    label.set_text(answer.text)
                self._meta[node_id].set_text(self.meta_text(answer, live.finished))
        if live.finished:
            for node_id, answer in live.answers.items():
                if node_id in self._meta:
                    self._meta[node_id].set_text(self.meta_text(answer, True))
            self._timer.deactivate()

    @staticmethod
    def meta_text(answer: Answer, run_over: bool) -> str:
        if answer.first_chunk_ms is None:
            return "no text" if run_over else "waiting"
        state = "done" if answer.finished else ("stopped" if run_over else "streaming")
        return f"first chunk {fmt_ms(answer.first_chunk_ms)} · {answer.chunks} chunks · {state}"

    def text_of(self, node_id: str) -> str:
        label = self._texts.get(node_id)
        return label.text if label is not None else ""
