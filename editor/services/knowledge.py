"""The knowledge service: a tenant's knowledge bases and their documents, for the editor's page,
the HTTP API and the CLI alike. Every change bumps the base's revision (storage) and clears the
cache tag ``knowledge:<base>`` for the tenant, so a cached retrieval never outlives a document.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from runtime.cache.tiered import TieredCache
from runtime.knowledge.chunking import check_sizes
from runtime.knowledge.ingest import MAX_FILE_BYTES, prepare
from runtime.knowledge.port import KB_ID_PATTERN, KnowledgeError, Passage, SearchMode, cache_tag
from runtime.knowledge.vector import to_blob
from storage import errors as storage_errors
from storage.db import Database
from storage.knowledge import SqlKnowledge
from storage.repos import knowledge as repo
from storage.tables.knowledge import KnowledgeBase, KnowledgeDocument

from .errors import Conflict, Invalid, NotFound

log = logging.getLogger("akis.knowledge")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BaseSummary:
    id: str
    name: str
    description: str
    chunk_size: int
    chunk_overlap: int
    revision: int
    documents: int
    chunks: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: str
    filename: str
    kind: str
    size_bytes: int
    chunks: int
    characters: int
    embedding_model: str | None
    updated_at: datetime
    replaced: bool = False


def _document(row: KnowledgeDocument, replaced: bool = False) -> DocumentInfo:
    return DocumentInfo(row.id, row.filename, row.kind, row.size_bytes, row.chunk_count, row.characters,
                        row.embedding_model, row.updated_at, replaced)


class KnowledgeService:
    def __init__(self, database: Database, knowledge: SqlKnowledge, cache: TieredCache | None = None,
                 max_file_bytes: int = MAX_FILE_BYTES, warm: bool = True) -> None:
        self.database = database
        self.knowledge = knowledge
        self.cache = cache
        self.max_file_bytes = max_file_bytes
        self.warm = warm  # rebuild a changed base's index in the background (not in a one-shot CLI)
        self._warming: set[asyncio.Task[None]] = set()

    # ---------- bases ----------
    async def bases(self, tenant: str) -> list[BaseSummary]:
        rows = await self.database.run(repo.list_bases, tenant)
        counts = await self.database.run(repo.chunk_counts, tenant)
        documents = {r.id: len(await self._call(repo.list_documents, tenant, r.id)) for r in rows}
        return [self._summary(r, documents[r.id], counts.get(r.id, 0)) for r in rows]

    async def base(self, tenant: str, base_id: str) -> BaseSummary:
        row = await self._call(repo.get_base, tenant, base_id)
        documents = await self._call(repo.list_documents, tenant, base_id)
        return self._summary(row, len(documents), sum(d.chunk_count for d in documents))

    async def create(self, tenant: str, base_id: str, name: str = "", description: str = "",
                     chunk_size: int = 800, chunk_overlap: int = 100) -> BaseSummary:
        if not re.fullmatch(KB_ID_PATTERN, base_id or ""):
            raise Invalid(f"knowledge base id {base_id!r}: 1 to 54 letters, digits, '_', '.' or '-', "
                          "starting with a letter or digit")
        try:
            check_sizes(chunk_size, chunk_overlap)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        row = await self._call(repo.create_base, tenant, base_id, name.strip()[:200], description,
                               chunk_size, chunk_overlap)
        return self._summary(row, 0, 0)

    async def delete(self, tenant: str, base_id: str) -> None:
        await self._call(repo.delete_base, tenant, base_id)
        await self._changed(tenant, base_id)

    # ---------- documents ----------
    async def documents(self, tenant: str, base_id: str) -> list[DocumentInfo]:
        return [_document(d) for d in await self._call(repo.list_documents, tenant, base_id)]

    async def upload(self, tenant: str, base_id: str, filename: str, data: bytes,
                     content_type: str | None = None) -> DocumentInfo:
        """Extract, chunk (the base's size and overlap), embed when configured, store; a file of
        the same name is replaced. Every refusal names the file and the rule."""
        base = await self._call(repo.get_base, tenant, base_id)
        try:
            prepared = await prepare(filename, data, content_type, base.chunk_size, base.chunk_overlap,
                                     self.knowledge.embedder, self.max_file_bytes)
        except KnowledgeError as exc:
            raise Invalid(str(exc)) from None
        row, replaced = await self._call(repo.put_document, tenant, base_id, prepared, repo.sha256(data))
        await self._changed(tenant, base_id)
        return _document(row, replaced)

    async def delete_document(self, tenant: str, base_id: str, document_id: str) -> None:
        await self._call(repo.delete_document, tenant, base_id, document_id)
        await self._changed(tenant, base_id)

    async def reindex(self, tenant: str, base_id: str) -> int:
        """Embed every chunk of the base again with the configured model (after turning
        embeddings on, or changing the model); returns the chunks embedded. The chunks stay."""
        texts = await self._call(repo.document_texts, tenant, base_id)  # another tenant's base: not found
        embedder = self.knowledge.embedder
        if embedder is None:
            raise Invalid("no embedding model is configured (AKIS_EMBEDDING_MODEL): nothing to re-index with")
        vectors: dict[str, list[bytes]] = {}
        try:
            for document_id, chunks in texts.items():
                vectors[document_id] = [to_blob(v) for v in await embedder.embed(chunks)]
        except KnowledgeError as exc:
            raise Invalid(str(exc)) from None
        count = await self._call(repo.set_embeddings, tenant, base_id, vectors, embedder.model)
        await self._changed(tenant, base_id)
        return count

    # ---------- search ----------
    async def search(self, tenant: str, base_ids: list[str], query: str, top_k: int = 5, min_score: float = 0.0,
                     mode: SearchMode = "auto") -> list[Passage]:
        """What the ``knowledge_retrieval`` node would return (the page's and the API's try-out)."""
        try:
            return await self.knowledge.search(tenant, base_ids, query, top_k, min_score, mode)
        except KnowledgeError as exc:
            if str(exc).endswith("not found"):
                raise NotFound(str(exc).removesuffix(" not found")) from None
            raise Invalid(str(exc)) from None

    # ---------- helpers ----------
    async def _changed(self, tenant: str, base_id: str) -> None:
        """Clear the base's cache tag (a cache that is down is logged, the stored change stands),
        and start rebuilding its index so the next search does not wait for it."""
        if self.warm:
            task = asyncio.get_running_loop().create_task(self._warm(tenant, base_id))
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)
        if self.cache is None:
            return
        try:
            if not await self.cache.invalidate(tenant, [cache_tag(base_id)]):
                log.warning("knowledge base %s of tenant %s changed but its cache tag was not cleared", base_id, tenant)
        except Exception:
            log.exception("knowledge base %s of tenant %s: cache tag not cleared", base_id, tenant)

    async def _warm(self, tenant: str, base_id: str) -> None:
        try:
            await self.knowledge.retriever.warm(tenant, base_id)
        except Exception:  # a warm-up is an optimisation: the next search builds the index itself
            log.warning("knowledge base %s of tenant %s: index not prebuilt", base_id, tenant, exc_info=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """A repository call in a worker thread, its refusals turned into the service's."""
        try:
            return await self.database.run(fn, *args)
        except storage_errors.NotFound as exc:
            raise NotFound(str(exc).removesuffix(" not found")) from None
        except storage_errors.Conflict as exc:
            raise Conflict(str(exc)) from None

    @staticmethod
    def _summary(row: KnowledgeBase, documents: int, chunks: int) -> BaseSummary:
        return BaseSummary(row.id, row.name, row.description, row.chunk_size, row.chunk_overlap, row.revision,
                           documents, chunks, row.updated_at)
