"""From an uploaded file to chunks ready to store: limits, extraction, chunking, embeddings."""
from __future__ import annotations

from dataclasses import dataclass

from .chunking import DEFAULT_OVERLAP, DEFAULT_SIZE, Chunk, check_sizes, chunk_text
from .extract import extract_text
from .port import KnowledgeError
from .retriever import Embedder

MAX_FILE_BYTES = 5 * 1024 * 1024  # AKIS_KNOWLEDGE_MAX_FILE_BYTES; the API body limit (6 MiB) is above it
MAX_CHUNKS_PER_DOCUMENT = 20_000


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    filename: str
    kind: str  # text | markdown | html | pdf
    size_bytes: int
    text: str
    chunks: list[Chunk]
    embeddings: list[bytes] | None  # one per chunk, when an embedder was given
    embedding_model: str | None


def check_upload(filename: str, data: bytes, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Size and name rules every path (editor, API, CLI) applies before reading the file."""
    if not filename.strip() or len(filename) > 200 or "/" in filename or "\\" in filename or "\x00" in filename:
        raise KnowledgeError(f"file name {filename[:200]!r}: 1 to 200 characters, no folders")
    if not data:
        raise KnowledgeError(f"file {filename!r} is empty")
    if len(data) > max_bytes:
        raise KnowledgeError(f"file {filename!r} is {len(data):,} bytes: the limit is {max_bytes:,} bytes "
                             "(AKIS_KNOWLEDGE_MAX_FILE_BYTES)")


async def prepare(filename: str, data: bytes, content_type: str | None = None, chunk_size: int = DEFAULT_SIZE,
                  chunk_overlap: int = DEFAULT_OVERLAP, embedder: Embedder | None = None,
                  max_bytes: int = MAX_FILE_BYTES) -> PreparedDocument:
    check_upload(filename, data, max_bytes)
    try:
        check_sizes(chunk_size, chunk_overlap)
    except ValueError as exc:
        raise KnowledgeError(str(exc)) from None
    kind, text = extract_text(filename, data, content_type)
    chunks = chunk_text(text, chunk_size, chunk_overlap)
    if len(chunks) > MAX_CHUNKS_PER_DOCUMENT:
        raise KnowledgeError(f"file {filename!r} makes {len(chunks):,} chunks: the limit is "
                             f"{MAX_CHUNKS_PER_DOCUMENT:,} (use a larger chunk size)")
    embeddings = None
    if embedder is not None:
        from .vector import to_blob

        vectors = await embedder.embed([c.text for c in chunks])
        embeddings = [to_blob(v) for v in vectors]
    return PreparedDocument(filename, kind, len(data), text, chunks, embeddings,
                            embedder.model if embedder is not None else None)
