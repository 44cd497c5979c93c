"""Knowledge bases in the runtime: extraction, chunking, lexical and vector ranking, fusion.

No storage and no NiceGUI here: storage keeps documents and chunks and implements the
:class:`~runtime.knowledge.port.KnowledgeBases` port with these pieces; the in-memory default
(``memory.py``) serves the shipped example documents with the same ranking.
"""
from __future__ import annotations

from .chunking import Chunk, chunk_text
from .extract import SUPPORTED_TYPES, extract_text
from .fusion import reciprocal_rank_fusion
from .port import KnowledgeBases, KnowledgeError, Passage, SearchMode

__all__ = [
    "SUPPORTED_TYPES", "Chunk", "KnowledgeBases", "KnowledgeError", "Passage", "SearchMode", "chunk_text",
    "extract_text", "reciprocal_rank_fusion",
]
