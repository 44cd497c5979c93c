"""The dialog that takes a JSONL or CSV file of evaluation cases: one for the datasets list
(a new dataset) and for a dataset's page (cases added to it)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import events, ui

from editor.services.datasets import FileFormat

MAX_UPLOAD = 5 * 1024 * 1024  # under the app's request body limit (AKIS_API_MAX_BODY_BYTES, 6 MiB)


def file_format(filename: str) -> FileFormat:
    return "csv" if filename.lower().endswith(".csv") else "jsonl"


def open_cases_upload(title: str, explanation: str, testid: str,
                      on_file: Callable[[events.UploadEventArguments], Awaitable[None]]) -> None:
    """Open the dialog; the uploaded file goes to ``on_file`` once the dialog is closed."""
    with ui.dialog() as dialog, ui.card().classes("w-full").style("max-width: 520px"):
        ui.label(title).classes("text-h6")
        ui.label(explanation).classes("text-sm text-grey-7")

        async def upload(e: events.UploadEventArguments) -> None:
            dialog.close()
            await on_file(e)

        ui.upload(label="Choose or drop a .jsonl or .csv file", auto_upload=True, max_file_size=MAX_UPLOAD,
                  on_upload=upload,
                  on_rejected=lambda: ui.notify("The file is larger than 5 MB", type="negative")).props(
            f"accept=.jsonl,.csv,.ndjson flat bordered data-testid={testid}").classes("w-full")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
    dialog.open()
