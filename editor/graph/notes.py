"""Sticky notes: Markdown on the canvas for the people reading a flow; runs never see them.

On the canvas a note is a Vue Flow node whose id is ``note:<note id>`` (a colon never appears in
a node id, so the two can never collide); the edits here take the note's own id.
"""
from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import markdown2  # type: ignore[import-untyped]  # a NiceGUI dependency (ui.markdown)

from runtime.flow.model import FlowDocument, StickyNote

from .common import EditError

NOTE_PREFIX = "note:"
NOTE_TYPE = "sticky_note"  # the palette entry that adds a note
MARKDOWN_EXTRAS = ["fenced-code-blocks", "tables", "cuddled-lists", "break-on-newline", "strike"]
NOTE_SIZE = (StickyNote.model_fields["width"].default, StickyNote.model_fields["height"].default)
NEW_NOTE_TEXT = "## Note\nDouble-click to edit. **Markdown** works."


def note_html(text: str) -> str:
    """The note's Markdown as HTML; raw HTML in it is escaped and unsafe links dropped."""
    return str(markdown2.markdown(text, safe_mode="escape", extras=MARKDOWN_EXTRAS))


def note_props(document: FlowDocument) -> list[dict[str, Any]]:
    """What the canvas draws for each note."""
    return [{"id": f"{NOTE_PREFIX}{n.id}", "text": n.text, "html": note_html(n.text), "x": n.x, "y": n.y,
             "width": n.width, "height": n.height, "color": n.color} for n in document.notes]


def split_ids(ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """Canvas ids -> (node ids, note ids)."""
    nodes, notes = [], []
    for item in ids:
        if str(item).startswith(NOTE_PREFIX):
            notes.append(str(item).removeprefix(NOTE_PREFIX))
        else:
            nodes.append(str(item))
    return nodes, notes


class NoteEdits:
    """Mixed into FlowDraft, which provides ``document`` and ``_edit``."""

    if TYPE_CHECKING:
        document: FlowDocument

        def _edit(self, key: Hashable | None = None) -> AbstractContextManager[None]: ...

    def note(self, note_id: str) -> StickyNote:
        note = next((n for n in self.document.notes if n.id == note_id), None)
        if note is None:
            raise EditError(f"there is no sticky note {note_id!r} in this flow")
        return note

    def add_note(self, x: float, y: float, text: str = NEW_NOTE_TEXT) -> str:
        """A new note with its top-left corner at (x, y); returns its id."""
        used = {n.id for n in self.document.notes}
        numbers = [int(m.group(1)) for i in used if (m := re.fullmatch(r"note_(\d+)", i))]
        note_id = f"note_{max(numbers, default=0) + 1}"
        with self._edit():
            self.document.notes = [*self.document.notes, StickyNote(id=note_id, text=text, x=round(x), y=round(y))]
        return note_id

    def set_note_text(self, note_id: str, text: str) -> None:
        with self._edit(("note", note_id)):
            note = self.note(note_id)
            note.text = StickyNote.model_validate({"id": note_id, "text": text}).text

    def set_note_box(self, note_id: str, *, x: float | None = None, y: float | None = None,
                     width: float | None = None, height: float | None = None) -> None:
        """Move or resize a note (one undo step); sizes are kept within the note's bounds."""
        with self._edit():
            self._place_note(note_id, x, y, width, height)

    def set_note_color(self, note_id: str, color: str) -> None:
        with self._edit():
            note = self.note(note_id)
            self.document.notes = [StickyNote.model_validate({**note.model_dump(), "color": color})
                                   if n.id == note_id else n for n in self.document.notes]

    def _place_note(self, note_id: str, x: float | None = None, y: float | None = None,
                    width: float | None = None, height: float | None = None) -> None:
        note = self.note(note_id)
        fields = note.model_dump()
        for name, value in (("x", x), ("y", y), ("width", width), ("height", height)):
            if value is not None:
                fields[name] = round(float(value))
        fields["width"] = min(2000, max(120, fields["width"]))
        fields["height"] = min(2000, max(60, fields["height"]))
        self.document.notes = [StickyNote.model_validate(fields) if n.id == note_id else n
                               for n in self.document.notes]

    def _move_notes(self, moves: dict[str, tuple[float, float]]) -> None:
        """Inside an edit: the notes of a drag (which may hold nodes too)."""
        for note_id, (x, y) in moves.items():
            if any(n.id == note_id for n in self.document.notes):
                self._place_note(note_id, x, y)

    def _drop_notes(self, note_ids: Iterable[str]) -> None:
        gone = set(note_ids)
        if any(n.id in gone for n in self.document.notes):
            self.document.notes = [n for n in self.document.notes if n.id not in gone]
