"""The editor's side panels (palette, inspector and run pane) fold into a narrow rail, so the
canvas keeps most of a laptop screen.

Each panel is ``open``, ``closed`` or, until the person chooses, ``auto``: open on a wide window,
folded below ``NARROW_PX`` (a CSS media query, so the page is drawn right the first time with no
round trip). The choice is remembered per browser in ``app.storage.user``.
"""
from __future__ import annotations

from typing import Literal

from nicegui import app, ui

State = Literal["open", "closed", "auto"]
STORAGE_KEY = "editor_panels"
NARROW_PX = 1280
RAIL_PX = 44

CSS = f"""
.akis-fold {{ flex: none; height: 100%; position: relative; }}
.akis-fold > .akis-fold__rail {{ display: none; width: {RAIL_PX}px; height: 100%; padding-top: 6px; }}
.akis-fold > .akis-fold__body {{ width: var(--akis-fold-w); height: 100%; }}
.akis-fold[data-state=closed] > .akis-fold__body {{ display: none; }}
.akis-fold[data-state=closed] > .akis-fold__rail {{ display: flex; }}
@media (max-width: {NARROW_PX - 1}px) {{
  .akis-fold[data-state=auto] > .akis-fold__body {{ display: none; }}
  .akis-fold[data-state=auto] > .akis-fold__rail {{ display: flex; }}
}}
.akis-fold__label {{ writing-mode: vertical-rl; font-size: 12px; letter-spacing: .04em; margin-top: 8px;
  color: var(--akis-muted); cursor: pointer; user-select: none; }}
.akis-fold__close {{ position: absolute; top: 6px; z-index: 2; }}
.akis-fold--right .akis-fold__close {{ left: 4px; }}
.akis-fold--right > .akis-fold__body > .q-tabs {{ padding-left: 34px; }}
"""


def stored_state(name: str) -> State:
    try:
        value = app.storage.user.get(STORAGE_KEY, {}).get(name)
    except (RuntimeError, AssertionError, AttributeError):  # no user storage (outside a page)
        return "auto"
    return value if value in ("open", "closed") else "auto"


class FoldingPanel(ui.element):
    """A side panel of ``width`` px that folds to a rail; build its content inside ``body``."""

    def __init__(self, name: str, width: int, label: str, *, side: Literal["left", "right"]) -> None:
        super().__init__("div")
        ui.add_css(CSS, shared=True)
        self.name = name
        self.state: State = stored_state(name)
        border = "border-r" if side == "left" else "border-l"
        self.classes(f"akis-fold akis-fold--{side} akis-panel {border}").style(f"--akis-fold-w: {width}px")
        self.props(f"data-state={self.state} data-testid=fold-{name}")
        with self:
            with ui.column().classes("akis-fold__rail items-center gap-1 no-wrap") as self.rail:
                icon = "chevron_right" if side == "left" else "chevron_left"
                ui.button(icon=icon, on_click=lambda: self.set_state("open")).props(
                    f"flat round dense data-testid=unfold-{name}").tooltip(f"Show the {label.lower()}")
                ui.label(label).classes("akis-fold__label").on("click", lambda: self.set_state("open"))
            self.body = ui.column().classes("akis-fold__body gap-0 no-wrap")
            with self.body:
                if side == "left":  # a title row; on the right the button sits beside the tabs
                    with ui.row().classes("w-full items-center no-wrap px-3 pt-2"):
                        ui.label(label).classes("text-xs font-semibold uppercase tracking-wide akis-muted")
                        ui.space()
                        self._close_button("chevron_left", label)
                else:
                    self._close_button("chevron_right", label).classes("akis-fold__close")

    def _close_button(self, icon: str, label: str) -> ui.button:
        return ui.button(icon=icon, on_click=lambda: self.set_state("closed")).props(
            f"flat round dense size=sm data-testid=fold-close-{self.name}").tooltip(f"Hide the {label.lower()}")

    def set_state(self, state: State) -> None:
        """Open or fold the panel and remember it for this browser."""
        self.state = state
        self.props(f"data-state={state}")
        try:
            app.storage.user[STORAGE_KEY] = {**app.storage.user.get(STORAGE_KEY, {}), self.name: state}
        except (RuntimeError, AssertionError) as exc:  # no user storage: the choice lasts for this page
            ui.notify(f"The panel layout is not remembered: {exc}", type="warning")
