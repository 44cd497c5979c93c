"""A run's trace id on a page (run pane, History, dashboard), the same way everywhere.

Short (the first 8 hex digits) so it fits a list row; the full id on hover and one click to copy,
because a tracing UI is searched by the whole id. With ``AKIS_TRACE_URL`` the id is a link to the
trace (a new tab, ``rel=noopener``: the tracing UI gets no handle on the editor's window); without
it, plain text. A run without a trace id (tracing off, or recorded before it) shows nothing.
"""
from __future__ import annotations

from nicegui import ui

from runtime.settings import AkisSettings
from storage.recorder import TRACE_ID

SHORT = 8
# The Clipboard API exists only in secure contexts (https, localhost); an editor served over plain
# http on a LAN copies through a selected textarea instead.
COPY_JS = ("() => {{ const id = '{trace_id}'; if (navigator.clipboard && window.isSecureContext) {{ "
           "navigator.clipboard.writeText(id); return; }} const area = document.createElement('textarea'); "
           "area.value = id; document.body.appendChild(area); area.select(); document.execCommand('copy'); "
           "area.remove(); }}")


def usable(trace_id: str | None) -> str | None:
    """The id when it is one a link and the copy button can carry as is (32 lowercase hex)."""
    return trace_id if trace_id and TRACE_ID.fullmatch(trace_id) else None


def trace_id_view(trace_id: str | None, settings: AkisSettings, name: str, *, prefix: str = "trace ",
                  stop_clicks: bool = False) -> ui.row | None:
    """The id as a link or text, named ``name`` (``data-testid`` and marker), with a copy button;
    None and no element for a run without one. ``stop_clicks``: inside a clickable row (History),
    following the link or copying does not also open the row."""
    found = usable(trace_id)
    if found is None:
        return None
    href = settings.trace_link(found)
    with ui.row().classes("items-center no-wrap gap-0 akis-trace") as row:
        shown: ui.link | ui.label
        if href:
            shown = ui.link(f"{prefix}{found[:SHORT]}", href, new_tab=True).props('rel="noopener noreferrer"')
            if stop_clicks:
                shown.on("click.stop", js_handler="() => {}")
        else:
            shown = ui.label(f"{prefix}{found[:SHORT]}").style("user-select: all")
        shown.classes("text-caption").style("font-family: ui-monospace, monospace").props(
            f'title="{found}" data-testid={name}').mark(name)
        copy = ui.button(icon="content_copy").props(f'flat dense round size=xs title="Copy trace id {found}" '
                                                     f"data-testid={name}-copy").classes("text-grey-7")
        copy.on("click.stop" if stop_clicks else "click", js_handler=COPY_JS.format(trace_id=found))
    return row
