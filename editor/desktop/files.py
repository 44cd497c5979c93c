"""Saving and opening files from a page: the operating system's Save and Open dialogs in the
desktop window, the browser's download and upload in web mode.

Every export on a page goes through :func:`save_file` (never ``ui.download`` directly: the
window's webview has downloads off, so a download there does nothing); pages check
:func:`native_dialogs` to offer the Open dialog (:func:`open_file`) instead of an upload field.
A cancelled dialog does nothing; a file that cannot be written or read is reported with its path
and the reason, never a traceback.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from nicegui import app, ui

from editor.auth import local

FLOW_FILE_TYPES = ("Flow JSON files (*.json)", "All files (*.*)")
KINDS = {"json": "JSON files", "jsonl": "JSON Lines files", "csv": "CSV files"}
SAVE_DIALOG, OPEN_DIALOG = 30, 10  # webview.FileDialog.SAVE / .OPEN (webview is only in the desktop extra)


class _LastFolder:
    """The folder of the last file saved or opened: the next dialog starts there."""

    path: Path | None = None


def _window() -> Any:
    """The native window (desktop mode), else None."""
    if local.current() is None:
        return None
    return app.native.main_window


def native_dialogs() -> bool:
    """Whether this page is shown in the desktop window (use the Open/Save dialogs)."""
    return _window() is not None


def _start_folder() -> str:
    folder = _LastFolder.path or Path.home()
    return str(folder) if folder.is_dir() else ""


def _chosen(answer: object) -> Path | None:
    """The path a dialog answered (a tuple of paths, a single path, or None when cancelled)."""
    if isinstance(answer, list | tuple):
        answer = answer[0] if answer else None
    return Path(answer) if isinstance(answer, str) and answer else None


def file_types(filename: str) -> tuple[str, ...]:
    """The Save dialog's filter for ``filename``: its own kind first (a flow, a report, a dataset)."""
    suffix = Path(filename).suffix.lstrip(".").lower()
    if suffix not in KINDS:
        return ("All files (*.*)",)
    return (f"{KINDS[suffix]} (*.{suffix})", "All files (*.*)")


def _write(path: Path, data: bytes) -> None:
    """Write the whole file or leave the old one: a temporary file beside it, then a rename."""
    temporary = path.with_name(f".{path.name}.akis-tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


async def save_file(data: bytes, filename: str, media_type: str = "application/json") -> Path | None:
    """Let the person save ``data``: the Save dialog (desktop) or a download (web). Returns
    the path written in the desktop window, else None."""
    window = _window()
    if window is None:
        ui.download.content(data, filename, media_type)
        return None
    path = _chosen(await window.create_file_dialog(SAVE_DIALOG, directory=_start_folder(),
                                                   save_filename=filename, file_types=file_types(filename)))
    if path is None:
        return None
    try:
        await asyncio.to_thread(_write, path, data)
    except OSError as exc:
        ui.notify(f"Not saved to {path}: {exc.strerror or exc}", type="negative")
        return None
    _LastFolder.path = path.parent
    ui.notify(f"Saved {path}", type="positive")
    return path


def _read(path: Path, max_bytes: int) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"the file is larger than {max_bytes // 1024 // 1024} MB")
    return data


async def open_file(max_bytes: int) -> tuple[str, bytes] | None:
    """The Open dialog (desktop window only): the chosen file's name and content, or None when
    cancelled or unreadable (then the person is told why)."""
    window = _window()
    if window is None:
        return None
    path = _chosen(await window.create_file_dialog(OPEN_DIALOG, directory=_start_folder(),
                                                   allow_multiple=False, file_types=FLOW_FILE_TYPES))
    if path is None:
        return None
    try:
        data = await asyncio.to_thread(_read, path, max_bytes)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        ui.notify(f"Not opened: {path}: {reason}", type="negative")
        return None
    _LastFolder.path = path.parent
    return path.name, data
