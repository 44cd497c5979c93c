"""The runtime's ``KnowledgeBases`` port over the knowledge tables.

Revisions and chunks come from the database; ranking is the runtime's (BM25 with bm25s, exact
cosine vectors, reciprocal rank fusion), with an index per (tenant, base, revision) kept in this
process, so every process sees a change at its next search. Vectors are ranked by the
database's engine when it has one (sqlite-vec, pgvector: ``storage.knowledge_vectors``), else
in process.
"""
from __future__ import annotations

from runtime.knowledge.port import KnowledgeError, Passage, SearchMode
from runtime.knowledge.retriever import BaseInfo, Embedder, Retriever, StoredChunk, VectorEngine

from .db import Database
from .errors import NotFound
from .repos import knowledge as repo


class SqlKnowledge:
    def __init__(self, database: Database, embedder: Embedder | None = None, max_indexes: int = 32,
                 vector_engine: bool = True) -> None:
        """``vector_engine=False`` ranks vectors in process even where an engine is available
        (the benchmark's baseline, the tests' reference)."""
        from .knowledge_vectors import vector_engine as find_engine

        self.database = database
        engine: VectorEngine | None = find_engine(database) if vector_engine and embedder is not None else None
        self.retriever = Retriever(self, embedder, max_indexes, engine)

    @property
    def vector_engine(self) -> str:
        """What ranks vectors here, for the Settings page and logs."""
        engine = self.retriever.engine
        return engine.name if engine is not None else "exact, in process (numpy)"

    @property
    def embedder(self) -> Embedder | None:
        return self.retriever.embedder

    async def search(self, tenant_id: str, knowledge_bases: list[str], query: str, top_k: int = 5,
                     min_score: float = 0.0, mode: SearchMode = "auto") -> list[Passage]:
        return await self.retriever.search(tenant_id, knowledge_bases, query, top_k, min_score, mode)

    async def bases(self, tenant_id: str, ids: list[str]) -> list[BaseInfo]:
        try:
            return await self.database.run(repo.base_infos, tenant_id, ids)
        except NotFound as exc:
            raise KnowledgeError(str(exc)) from None

    async def chunks(self, tenant_id: str, base_id: str, vectors: bool = True) -> list[StoredChunk]:
        return await self.database.run(repo.load_chunks, tenant_id, base_id, vectors)


def sql_knowledge(database: Database) -> SqlKnowledge:
    """The port over ``database`` with the configured embedder (``AKIS_EMBEDDING_MODEL``) and
    vector search (``AKIS_KNOWLEDGE_VECTOR_SEARCH``), as the app and the queue-mode worker use it."""
    from runtime.knowledge.embeddings import build_embedder
    from runtime.knowledge.settings import KnowledgeSettings

    settings = KnowledgeSettings()
    return SqlKnowledge(database, build_embedder(settings),
                        vector_engine=settings.knowledge_vector_search == "database")
