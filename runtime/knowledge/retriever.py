"""Search over a tenant's knowledge bases: lexical, vector or both fused (RRF).

A :class:`ChunkSource` (storage, or the in-memory default) says each base's revision and hands
out its chunks; the indexes are built once per (tenant, base, revision) in a worker thread and
kept in a small LRU, so a document change (which bumps the revision) is seen by the next search
in every process, and an unchanged base costs one revision lookup per search.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .fusion import reciprocal_rank_fusion
from .port import KnowledgeError, Passage, SearchMode

if TYPE_CHECKING:
    from .lexical import LexicalIndex
    from .vector import VectorIndex


@dataclass(frozen=True, slots=True)
class StoredChunk:
    document_id: str
    document: str
    position: int
    text: str
    embedding: bytes | None = None  # float32, from ``embedding_model``


@dataclass(frozen=True, slots=True)
class BaseInfo:
    id: str
    revision: int
    embedding_model: str | None  # set when every chunk has an embedding from this model


class ChunkSource(Protocol):
    async def bases(self, tenant_id: str, ids: list[str]) -> list[BaseInfo]:
        """The tenant's bases of these ids; :class:`KnowledgeError` naming any it lacks."""
        ...

    async def chunks(self, tenant_id: str, base_id: str, vectors: bool = True) -> list[StoredChunk]:
        """The base's chunks; ``vectors=False`` may leave their embeddings out (an engine holds them)."""
        ...


class VectorEngine(Protocol):
    """Nearest chunks by cosine in the database's own engine (sqlite-vec, pgvector), exact.

    ``nearest`` answers ``(document_id, position, cosine)`` best first for the base at exactly
    ``info.revision``, or ``None`` when it cannot (the base changed since, the engine failed):
    the retriever then ranks in process, so a search never fails for the engine's sake."""

    name: str

    async def nearest(self, tenant_id: str, info: BaseInfo, chunks: list[StoredChunk], query: list[float],
                      limit: int) -> list[tuple[str, int, float]] | None: ...

    async def prepare(self, tenant_id: str, info: BaseInfo) -> None:
        """Get ready to search this revision (pgvector copies its vectors), so the first search
        after a change does not wait for it; errors are the next search's to report."""
        ...


class Embedder(Protocol):
    model: str

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


class BaseIndex:
    """One revision of one base: its chunks, BM25, and the vectors when it has embeddings (in
    process only without a vector engine; with one, built only if the engine cannot answer)."""

    def __init__(self, info: BaseInfo, chunks: list[StoredChunk], vectors: bool = True) -> None:
        from .lexical import LexicalIndex  # bm25s and numpy load on the first search, not at start-up

        self.info = info
        self.chunks = chunks
        self.rows = {(c.document_id, c.position): i for i, c in enumerate(chunks)}  # an engine's hit -> chunk
        self.lexical: LexicalIndex = LexicalIndex([c.text for c in chunks])
        # a base whose documents all carry one model's embeddings has one for every chunk (storage)
        self.embedded = bool(chunks) and info.embedding_model is not None and (
            not vectors or all(c.embedding for c in chunks))
        self.vector: VectorIndex | None = None
        if self.embedded and vectors:
            self.vector = self.vectors(chunks)

    def vectors(self, chunks: list[StoredChunk]) -> VectorIndex:
        """The exact index over ``chunks``' embeddings, its rows in this index's order (a chunk
        that is not in this revision any more is left out)."""
        from .vector import VectorIndex

        by_key = {(c.document_id, c.position): c.embedding for c in chunks}
        keep = [i for i, c in enumerate(self.chunks) if by_key.get((c.document_id, c.position))]
        return VectorIndex([by_key[(self.chunks[i].document_id, self.chunks[i].position)] or b"" for i in keep], keep)


class Retriever:
    """Implements :class:`~runtime.knowledge.port.KnowledgeBases` over a chunk source."""

    def __init__(self, source: ChunkSource, embedder: Embedder | None = None, max_indexes: int = 32,
                 engine: VectorEngine | None = None) -> None:
        self.source = source
        self.embedder = embedder
        self.engine = engine  # None: exact ranking in process (runtime.knowledge.vector)
        self.max_indexes = max_indexes
        self._indexes: OrderedDict[tuple[str, str, int], BaseIndex] = OrderedDict()
        self._building: dict[tuple[str, str, int], asyncio.Future[BaseIndex]] = {}

    async def search(self, tenant_id: str, knowledge_bases: list[str], query: str, top_k: int = 5,
                     min_score: float = 0.0, mode: SearchMode = "auto") -> list[Passage]:
        if not knowledge_bases:
            raise KnowledgeError("no knowledge base given")
        if not 1 <= top_k <= 100:
            raise KnowledgeError(f"top_k {top_k}: must be 1 to 100")
        infos = await self.source.bases(str(tenant_id), list(dict.fromkeys(knowledge_bases)))
        indexes = [await self._index(str(tenant_id), info) for info in infos]
        use = self._mode(mode, indexes)
        depth = max(top_k * 4, 20)
        found: list[tuple[Passage, float]] = []
        query_vector = await self._embed_query(query) if use != "lexical" else None
        for index in indexes:
            lexical = index.lexical.search(query, depth) if use != "vector" else []
            vector = await self._nearest(tenant_id, index, query_vector, depth) if query_vector else []
            if use == "hybrid":
                scored = reciprocal_rank_fusion([[i for i, _ in lexical], [i for i, _ in vector]])
            else:
                scored = lexical if use == "lexical" else vector
            found += [(_passage(index, i, score), score) for i, score in scored]
        found.sort(key=lambda pair: -pair[1])
        return [p for p, score in found if score >= min_score and score > 0][:top_k]

    async def _nearest(self, tenant_id: str, index: BaseIndex, query: list[float],
                       limit: int) -> list[tuple[int, float]]:
        """``(chunk index, cosine)`` best first: the engine's when it answers, else in process."""
        if not index.embedded:
            return []
        if self.engine is not None and index.vector is None:
            hits = await self.engine.nearest(str(tenant_id), index.info, index.chunks, query, limit)
            if hits is not None and all((d, p) in index.rows for d, p, _ in hits):
                return [(index.rows[(d, p)], score) for d, p, score in hits]
            stored = await self.source.chunks(tenant_id, index.info.id, True)  # the engine cannot: in process
            index.vector = await asyncio.to_thread(index.vectors, stored)
        assert index.vector is not None  # built with the index, or just above
        if len(query) != index.vector.dimensions:
            raise KnowledgeError(f"the query embedding has {len(query)} dimensions, knowledge base "
                                 f"{index.info.id!r} {index.vector.dimensions}: re-index it")
        return index.vector.search(query, limit)

    async def warm(self, tenant_id: str, base_id: str) -> None:
        """Build the base's index for its current revision now (after a change), so the next
        search does not wait for it. A base that is gone by then is nothing to warm."""
        try:
            (info,) = await self.source.bases(str(tenant_id), [base_id])
        except KnowledgeError:
            return
        index = await self._index(str(tenant_id), info)
        if self.engine is not None and index.embedded:
            await self.engine.prepare(str(tenant_id), info)

    def _mode(self, wanted: SearchMode, indexes: list[BaseIndex]) -> SearchMode:
        embedded = self.embedder is not None and all(
            i.embedded and i.info.embedding_model == self.embedder.model for i in indexes)
        if wanted == "auto":
            return "hybrid" if embedded else "lexical"
        if wanted in ("vector", "hybrid") and not embedded:
            missing = [i.info.id for i in indexes if not i.embedded]
            why = ("no embedding provider is configured (AKIS_EMBEDDING_MODEL)" if self.embedder is None
                   else f"knowledge base {', '.join(missing) or indexes[0].info.id} has no embeddings from "
                        f"{self.embedder.model!r}: re-index it")
            raise KnowledgeError(f"{wanted} search needs embeddings: {why}")
        return wanted

    async def _embed_query(self, query: str) -> list[float] | None:
        if self.embedder is None or not query.strip():
            return None
        return (await self.embedder.embed([query]))[0]

    async def _index(self, tenant_id: str, info: BaseInfo) -> BaseIndex:
        key = (tenant_id, info.id, info.revision)
        found = self._indexes.get(key)
        if found is not None:
            self._indexes.move_to_end(key)
            return found
        pending = self._building.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[BaseIndex] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            chunks = await self.source.chunks(tenant_id, info.id, self.engine is None)
            index = await asyncio.to_thread(BaseIndex, info, chunks, self.engine is None)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._building.pop(key, None)
        future.set_result(index)
        for old in [k for k in self._indexes if k[:2] == key[:2]]:
            del self._indexes[old]  # an older revision of the same base is never read again
        self._indexes[key] = index
        while len(self._indexes) > self.max_indexes:
            self._indexes.popitem(last=False)
        return index


def _passage(index: BaseIndex, i: int, score: float) -> Passage:
    chunk = index.chunks[i]
    return Passage(index.info.id, chunk.document_id, chunk.document, chunk.position, round(score, 6), chunk.text)
