"""Split a document into overlapping chunks at natural breaks (paragraph, line, sentence, word)."""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SIZE = 800
DEFAULT_OVERLAP = 100
_BREAKS = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ")


@dataclass(frozen=True, slots=True)
class Chunk:
    position: int  # index in the document, from 0
    start: int  # character offset of the chunk in the extracted text
    text: str


def check_sizes(size: int, overlap: int) -> None:
    if not 100 <= size <= 8000:
        raise ValueError(f"chunk size {size}: must be 100 to 8000 characters")
    if not 0 <= overlap < size // 2 + 1:
        raise ValueError(f"chunk overlap {overlap}: must be 0 to half the chunk size ({size // 2})")


def chunk_text(text: str, size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP) -> list[Chunk]:
    """Chunks of at most ``size`` characters; each starts ``overlap`` characters (about, moved
    to a word start) before the previous one ended, so a sentence cut by a boundary is whole in one."""
    check_sizes(size, overlap)
    chunks: list[Chunk] = []
    start, length = 0, len(text)
    while start < length:
        end = min(start + size, length)
        if end < length:
            end = _break_before(text, start, end)
        piece = text[start:end].strip()
        if piece:
            chunks.append(Chunk(len(chunks), start, piece))
        if end >= length:
            break
        next_start = max(end - overlap, start + 1)
        if overlap:
            space = text.find(" ", next_start, end)
            next_start = space + 1 if space != -1 else next_start
        start = next_start
    return chunks


def _break_before(text: str, start: int, end: int) -> int:
    """The latest natural break in the second half of ``text[start:end]``, else ``end``."""
    floor = start + (end - start) // 2
    for mark in _BREAKS:
        at = text.rfind(mark, floor, end)
        if at != -1:
            return at + len(mark)
    return end
