"""Text out of real files the tests write: HTML, PDF, Markdown; and the refusals, each naming the file."""
from __future__ import annotations

from pathlib import Path

import pytest

from runtime.knowledge import KnowledgeError, extract_text
from runtime.knowledge.ingest import check_upload, prepare

from .pdfs import make_pdf


def test_html_file_gives_its_visible_text_without_scripts_or_styles(tmp_path: Path) -> None:
    page = tmp_path / "returns.html"
    page.write_text("<html><head><title>T</title><style>p{color:red}</style><script>var secret = 1;</script></head>"
                    "<body><h1>Returns</h1><p>Send it back within <b>30&nbsp;days</b> &amp; get a refund.</p>"
                    "<ul><li>Fee: 10%</li><li>Freight by you</li></ul></body></html>", encoding="utf-8")
    kind, text = extract_text(page.name, page.read_bytes())
    assert kind == "html"
    assert text.splitlines()[:2] == ["T", ""] or "Returns" in text
    assert "Send it back within 30\xa0days & get a refund." in text
    assert "Fee: 10%" in text and "Freight by you" in text
    assert "secret" not in text and "color" not in text


def test_pdf_file_gives_the_text_of_every_page(tmp_path: Path) -> None:
    path = tmp_path / "manual.pdf"
    path.write_bytes(make_pdf([["Battery care", "Charge after 20% discharge."], ["Page two: distilled water only."]]))
    kind, text = extract_text(path.name, path.read_bytes())
    assert kind == "pdf"
    assert "Battery care" in text and "Charge after 20% discharge." in text
    assert "Page two: distilled water only." in text
    assert text.index("Battery care") < text.index("Page two")


def test_a_pdf_without_text_and_a_broken_pdf_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match=r"'scan.pdf': no text found \(a scanned PDF has none\)"):
        extract_text("scan.pdf", make_pdf([[]]))
    with pytest.raises(KnowledgeError, match=r"'broken\.pdf': not a readable PDF"):
        extract_text("broken.pdf", b"%PDF-1.4\nthis is not a pdf at all")


def test_markdown_and_text_keep_their_words_and_lose_extra_blank_lines() -> None:
    kind, text = extract_text("notes.md", b"# Title\r\n\r\n\r\n\r\nBody line   \r\n")
    assert (kind, text) == ("markdown", "# Title\n\nBody line")
    assert extract_text("a.txt", "\ufeffİstif makinesi".encode())[1] == "İstif makinesi"


def test_unsupported_types_and_non_utf8_text_are_refused_clearly() -> None:
    with pytest.raises(KnowledgeError, match=r"file 'sheet.xlsx': unsupported type \(allowed: .htm, .html, .markdown"):
        extract_text("sheet.xlsx", b"PK\x03\x04")
    with pytest.raises(KnowledgeError, match=r"file 'latin.txt': not UTF-8 text \(byte 3\)"):
        extract_text("latin.txt", b"abc\xe7")
    assert extract_text("noext", b"plain words", "text/plain")[0] == "text"


def test_upload_limits_name_the_file_and_the_limit() -> None:
    with pytest.raises(KnowledgeError, match=r"file 'big.txt' is 2,049 bytes: the limit is 2,048 bytes"):
        check_upload("big.txt", b"x" * 2049, max_bytes=2048)
    with pytest.raises(KnowledgeError, match=r"file 'empty\.md' is empty"):
        check_upload("empty.md", b"")
    with pytest.raises(KnowledgeError, match="no folders"):
        check_upload("../etc/passwd.txt", b"x")


async def test_prepare_refuses_bad_chunk_sizes_before_reading() -> None:
    with pytest.raises(KnowledgeError, match="chunk overlap 600: must be 0 to half the chunk size"):
        await prepare("a.txt", b"words", chunk_size=1000, chunk_overlap=600)
    with pytest.raises(KnowledgeError, match="chunk size 50: must be 100 to 8000"):
        await prepare("a.txt", b"words", chunk_size=50, chunk_overlap=0)
