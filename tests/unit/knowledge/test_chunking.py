"""Chunks: bounded size, overlap that keeps a cut sentence whole somewhere, natural breaks, positions."""
from __future__ import annotations

import itertools

from runtime.knowledge import chunk_text

TEXT = "\n\n".join(
    f"Paragraph {p}. " + " ".join(f"Sentence {p}.{s} talks about pallets and forklifts." for s in range(6))
    for p in range(12))


def test_chunks_stay_within_the_size_and_cover_the_whole_text() -> None:
    chunks = chunk_text(TEXT, size=300, overlap=60)
    assert len(chunks) > 10
    assert all(len(c.text) <= 300 for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert chunks[0].text.startswith("Paragraph 0.") and chunks[-1].text.endswith("forklifts.")
    for sentence in (f"Sentence {p}.{s} talks about pallets and forklifts." for p in range(12) for s in range(6)):
        assert any(sentence in c.text for c in chunks), sentence


def test_chunks_overlap_and_end_at_natural_breaks() -> None:
    chunks = chunk_text(TEXT, size=300, overlap=60)
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.start + len(before.text)  # they overlap
        assert before.text.endswith((".", "forklifts.")), before.text[-30:]


def test_no_overlap_and_a_short_text_and_one_long_word() -> None:
    assert [c.text for c in chunk_text("short text", 100, 0)] == ["short text"]
    assert chunk_text("", 100, 0) == []
    word = "x" * 250
    assert [len(c.text) for c in chunk_text(word, 100, 0)] == [100, 100, 50]
