"""The port the ``knowledge_retrieval`` node (and an agent's tool) calls: one async search."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from ..errors import AkisError

SearchMode = Literal["auto", "lexical", "vector", "hybrid"]
KB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,53}$"  # short enough for the cache tag knowledge:<id>


class KnowledgeError(AkisError):
    """A refusal in words a person can act on: unknown knowledge base, unreadable file, ..."""


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved chunk: where it comes from, where in the document, how well it matched.

    ``score`` is the mode's own: BM25 for lexical, cosine similarity for vector, the reciprocal
    rank fusion sum for hybrid (docs/knowledge.md)."""

    knowledge_base: str
    document_id: str
    document: str  # the document's title (its file name unless given)
    position: int  # the chunk's index in its document, from 0
    score: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KnowledgeBases(Protocol):
    """Search a tenant's knowledge bases. A plain async function on purpose: the node and an
    agent's tool call the same thing."""

    async def search(self, tenant_id: str, knowledge_bases: list[str], query: str, top_k: int = 5,
                     min_score: float = 0.0, mode: SearchMode = "auto") -> list[Passage]:
        """The best ``top_k`` passages, best first. Raises :class:`KnowledgeError` for a
        knowledge base the tenant does not have (another tenant's answers the same)."""
        ...


ALL_KNOWLEDGE = "knowledge"  # the tag every retrieval carries: the event knowledge.updated clears it


def cache_tag(knowledge_base: str) -> str:
    """The cache tag of one knowledge base: a document change there invalidates it."""
    return f"knowledge:{knowledge_base}"
