"""The editor's look: one colour per node category, the page frame, and dark mode.

Colours come from the canvas (``editor.canvas.CATEGORY_COLORS``) so a node, its palette entry
and its minimap dot always agree. Dark mode is remembered per browser (``app.storage.user``).
"""
from __future__ import annotations

from collections.abc import Callable

from nicegui import app, ui

from editor.auth.user_menu import user_menu
from editor.canvas.model import CATEGORY_COLORS

CATEGORY_LABELS: dict[str, str] = {
    "input": "Input",
    "ai": "AI",
    "data": "Data",
    "logic": "Logic",
    "integration": "Integration",
    "output": "Output",
    "other": "Other",
}
CATEGORY_ORDER = tuple(CATEGORY_LABELS)
PRIMARY = "#4f46e5"

CSS = """
:root { --akis-border: #e2e8f0; --akis-panel: #ffffff; --akis-muted: #64748b; --akis-page: #f8fafc; }
body.body--dark { --akis-border: #334155; --akis-panel: #0f172a; --akis-muted: #94a3b8; --akis-page: #020617; }
body { background: var(--akis-page); }
.akis-panel { background: var(--akis-panel); border-color: var(--akis-border) !important; }
.akis-muted { color: var(--akis-muted); }
.akis-mono, .akis-mono textarea, .akis-mono input {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.akis-header { background: var(--akis-panel); color: inherit; border-bottom: 1px solid var(--akis-border); }
.akis-brand { font-weight: 700; letter-spacing: -0.01em; }
.akis-nav a { color: var(--akis-muted); text-decoration: none; padding: 4px 10px; border-radius: 6px; }
.akis-nav a.active, .akis-nav a:hover { color: inherit; background: rgba(100, 116, 139, 0.12); }
.akis-palette-item { border: 1px solid var(--akis-border); border-left: 4px solid var(--akis-cat); border-radius: 8px;
  cursor: grab; user-select: none; background: var(--akis-panel); transition: box-shadow .12s; }
.akis-palette-item:hover { box-shadow: 0 2px 8px rgba(15, 23, 42, 0.12); }
.akis-palette-item:active { cursor: grabbing; }
.akis-cat-dot { width: 28px; height: 28px; border-radius: 8px; display: flex; align-items: center;
  justify-content: center; color: #fff; background: var(--akis-cat); flex: none; }
.akis-problem-row { cursor: pointer; border-radius: 6px; }
.akis-problem-row:hover { background: rgba(220, 38, 38, 0.08); }
.akis-badge--warning { color: #b45309 !important; border-color: rgba(217, 119, 6, 0.5) !important; }
.akis-unsaved { color: #d97706; }
.akis-diff-added { color: #16a34a; } .akis-diff-removed { color: #dc2626; } .akis-diff-changed { color: #d97706; }
.q-field--dense .q-field__bottom { padding-top: 2px; }
.akis-inspector .q-field__bottom { position: static; transform: none; }
.akis-inspector .q-field--with-bottom { padding-bottom: 0; }
.akis-inspector .q-field__messages > div { white-space: normal; word-break: break-word; }
/* a disabled filled button (Stop while nothing runs) must look disabled, not merely paler; in a layer
   declared before Quasar's important colours (bg-negative), which an unlayered rule cannot beat */
@layer overrides { .q-btn--unelevated.disabled { background: rgba(148, 163, 184, 0.22) !important;
  color: var(--akis-muted) !important; opacity: 0.75 !important; } }
/* chat mode: the reply shows in the transcript, not again as the run's Output JSON */
.akis-chat-result > [data-testid=run-output], .akis-chat-result > :has(+ [data-testid=run-output]) { display: none; }
/* JSON in a narrow side panel wraps instead of running out of sight */
.nicegui-code.akis-wrap pre, [data-testid=run-output] pre { white-space: pre-wrap; word-break: break-word; }
"""


def category_color(category: str) -> str:
    return CATEGORY_COLORS.get(category, CATEGORY_COLORS["other"])


def is_dark() -> bool:
    try:
        return bool(app.storage.user.get("dark", False))
    except (RuntimeError, AssertionError):
        return False


def apply_theme() -> ui.dark_mode:
    """Colours, CSS and the remembered dark mode for the current page."""
    ui.colors(primary=PRIMARY, dark="#0f172a", dark_page="#020617")  # slate, like the canvas
    ui.add_css(CSS)
    ui.query(".nicegui-content").classes("p-0 gap-0")
    return ui.dark_mode(is_dark())


def dark_toggle(dark: ui.dark_mode, on_change: Callable[[bool], None] | None = None) -> ui.button:
    """A header button that flips dark mode and remembers the choice."""
    def flip() -> None:
        value = not bool(dark.value)
        dark.value = value
        app.storage.user["dark"] = value
        button.props(f"icon={'light_mode' if value else 'dark_mode'}")
        if on_change is not None:
            on_change(value)

    button = ui.button(icon="light_mode" if dark.value else "dark_mode", on_click=flip).props(
        "flat round dense data-testid=dark-toggle").tooltip("Dark mode")
    return button


def header(dark: ui.dark_mode, active: str = "", on_dark: Callable[[bool], None] | None = None) -> ui.row:
    """The top bar: brand, navigation, dark mode and the signed-in user. Returns the row for page-specific items."""
    pages = (("Dashboard", "/dashboard"), ("Experiments", "/experiments"), ("Evaluations", "/evaluations"),
             ("Knowledge", "/knowledge"), ("Settings", "/settings"))
    links = [("Flows", "/")] + [(name, path) for name, path in pages if _route_exists(path)]
    with ui.row().classes("akis-header w-full items-center no-wrap gap-3 px-4").style("height: 52px; flex: none"):
        with ui.link(target="/").classes("row items-center gap-2 no-underline text-inherit"):
            ui.icon("water").classes("text-2xl").style(f"color: {PRIMARY}")
            ui.label("Akis").classes("akis-brand text-lg")
        with ui.row().classes("akis-nav gap-1 items-center"):
            for name, path in links:
                ui.link(name, path).classes("active" if name == active else "")
        slot = ui.row().classes("items-center no-wrap gap-2 grow min-w-0")
        dark_toggle(dark, on_dark)
        user_menu()  # who is signed in, and Sign out
    return slot


def _route_exists(path: str) -> bool:
    return any(getattr(route, "path", None) == path for route in app.routes)
