"""Plain text out of an uploaded file: text, Markdown, HTML (standard library) and PDF (pypdf).

Every refusal names the file and the reason (unknown type, not UTF-8, a PDF with no text
layer), so an upload fails with a message instead of indexing garbage.
"""
from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import PurePath

from .port import KnowledgeError

# suffix -> kind; the content type a client sends is only a fallback (browsers guess)
SUPPORTED_TYPES: dict[str, str] = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
                                   ".html": "html", ".htm": "html", ".pdf": "pdf"}
_BY_MIME = {"text/plain": "text", "text/markdown": "markdown", "text/html": "html", "application/pdf": "pdf"}


def kind_of(filename: str, content_type: str | None = None) -> str:
    """``text`` | ``markdown`` | ``html`` | ``pdf`` from the file name, else the content type."""
    kind = SUPPORTED_TYPES.get(PurePath(filename).suffix.lower())
    if kind is None and content_type:
        kind = _BY_MIME.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        allowed = ", ".join(sorted(SUPPORTED_TYPES))
        raise KnowledgeError(f"file {filename!r}: unsupported type (allowed: {allowed})")
    return kind


def extract_text(filename: str, data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """``(kind, text)`` of the file; raises :class:`KnowledgeError` naming the file."""
    kind = kind_of(filename, content_type)
    if kind == "pdf":
        text = _pdf_text(filename, data)
    else:
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise KnowledgeError(f"file {filename!r}: not UTF-8 text (byte {exc.start})") from None
        text = html_text(raw) if kind == "html" else raw
    text = normalise(text)
    if not text:
        hint = " (a scanned PDF has none)" if kind == "pdf" else ""
        raise KnowledgeError(f"file {filename!r}: no text found{hint}")
    return kind, text


def normalise(text: str) -> str:
    """Unix line ends, no trailing spaces, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _pdf_text(filename: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise KnowledgeError(f"file {filename!r}: the PDF is encrypted")
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except KnowledgeError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise KnowledgeError(f"file {filename!r}: not a readable PDF ({type(exc).__name__})") from None


_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section",
           "article", "header", "footer", "pre", "blockquote", "dt", "dd", "hr"}
_SKIPPED = {"script", "style", "noscript", "template", "head", "svg"}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The visible text of an HTML page: scripts and styles dropped, blocks on their own lines."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return "\n".join(re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n"))
