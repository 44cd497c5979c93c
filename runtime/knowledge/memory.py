"""Knowledge bases in memory: the default without storage (``akis run``, ``Engine()``).

It serves the example knowledge base shipped with the package (``support-docs``, the documents
in ``runtime/data/examples/knowledge/``) to every tenant, so the example flow runs offline with
no database; tests add their own bases per tenant.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

from .ingest import PreparedDocument, prepare
from .port import KnowledgeError, Passage, SearchMode
from .retriever import BaseInfo, Embedder, Retriever, StoredChunk

EXAMPLE_BASE = "support-docs"
SHARED = "*"  # the tenant key of the shipped example, visible to every tenant


@dataclass
class _Base:
    id: str
    revision: int = 0
    documents: dict[str, PreparedDocument] = field(default_factory=dict)


class MemoryKnowledge:
    """Implements the ``KnowledgeBases`` port; ``add``/``remove`` documents by name."""

    def __init__(self, embedder: Embedder | None = None, examples: bool = True) -> None:
        self._bases: dict[tuple[str, str], _Base] = {}
        self._examples_loaded = not examples
        self.retriever = Retriever(self, embedder)

    async def search(self, tenant_id: str, knowledge_bases: list[str], query: str, top_k: int = 5,
                     min_score: float = 0.0, mode: SearchMode = "auto") -> list[Passage]:
        await self._load_examples()
        return await self.retriever.search(tenant_id, knowledge_bases, query, top_k, min_score, mode)

    async def add(self, tenant_id: str, base_id: str, filename: str, data: bytes, chunk_size: int = 800,
                  chunk_overlap: int = 100) -> PreparedDocument:
        """Add or replace the document ``filename`` of the base (made when missing)."""
        prepared = await prepare(filename, data, None, chunk_size, chunk_overlap, self.retriever.embedder)
        base = self._bases.setdefault((str(tenant_id), base_id), _Base(base_id))
        base.documents[filename] = prepared
        base.revision += 1
        return prepared

    def remove(self, tenant_id: str, base_id: str, filename: str) -> bool:
        base = self._bases.get((str(tenant_id), base_id))
        if base is None or base.documents.pop(filename, None) is None:
            return False
        base.revision += 1
        return True

    # --- ChunkSource ---------------------------------------------------------------------------
    async def bases(self, tenant_id: str, ids: list[str]) -> list[BaseInfo]:
        out = []
        for base_id in ids:
            base = self._bases.get((tenant_id, base_id)) or self._bases.get((SHARED, base_id))
            if base is None:
                raise KnowledgeError(f"knowledge base {base_id!r} not found")
            models = {d.embedding_model for d in base.documents.values()}
            model = models.pop() if len(models) == 1 else None
            out.append(BaseInfo(f"{base_id}", base.revision, model))
        return out

    async def chunks(self, tenant_id: str, base_id: str, vectors: bool = True) -> list[StoredChunk]:
        base = self._bases.get((tenant_id, base_id)) or self._bases[(SHARED, base_id)]
        out = []
        for name, doc in base.documents.items():
            blobs: list[bytes | None] = list(doc.embeddings) if doc.embeddings else [None] * len(doc.chunks)
            out += [StoredChunk(name, name, c.position, c.text, v) for c, v in zip(doc.chunks, blobs, strict=True)]
        return out

    async def _load_examples(self) -> None:
        if self._examples_loaded:
            return
        self._examples_loaded = True
        for name, data in example_documents():
            await self.add(SHARED, EXAMPLE_BASE, name, data)


def example_documents() -> list[tuple[str, bytes]]:
    """The shipped example knowledge base's files: (name, bytes), by name."""
    folder = resources.files("runtime.data").joinpath("examples").joinpath("knowledge")
    return sorted((f.name, f.read_bytes()) for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
