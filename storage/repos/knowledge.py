"""Knowledge bases per tenant: bases, documents (one per file name), chunks; every query filters
by tenant, so another tenant's base or document is "not found" like a missing one."""
from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import LargeBinary, delete, func, insert, update
from sqlalchemy import literal as sa_literal
from sqlalchemy import select as sa_select
from sqlalchemy import text as sql
from sqlmodel import Session, col, select

from runtime.knowledge.chunking import chunk_text
from runtime.knowledge.extract import extract_text
from runtime.knowledge.ingest import PreparedDocument
from runtime.knowledge.memory import EXAMPLE_BASE, example_documents
from runtime.knowledge.retriever import BaseInfo, StoredChunk

from ..errors import Conflict, NotFound
from ..tables.knowledge import KnowledgeBase, KnowledgeChunk, KnowledgeDocument
from ..types import utcnow
from ._common import tenant_key
from .tenants import ensure_tenant

INSERT_BATCH = 1000
VECTORS_TABLE = "knowledge_vectors"  # pgvector's copy of the embeddings (storage/knowledge_pgvector.py)


def _missing(base_id: str) -> NotFound:
    return NotFound(f"knowledge base {base_id!r} not found")


def list_bases(session: Session, tenant_id: str) -> list[KnowledgeBase]:
    query = select(KnowledgeBase).where(KnowledgeBase.tenant_id == tenant_key(tenant_id))
    return list(session.exec(query.order_by(col(KnowledgeBase.id))))


def get_base(session: Session, tenant_id: str, base_id: str) -> KnowledgeBase:
    base = session.get(KnowledgeBase, (tenant_key(tenant_id), base_id))
    if base is None:
        raise _missing(base_id)
    return base


def create_base(session: Session, tenant_id: str, base_id: str, name: str = "", description: str = "",
                chunk_size: int = 800, chunk_overlap: int = 100) -> KnowledgeBase:
    tenant = tenant_key(tenant_id)
    ensure_tenant(session, tenant)
    if session.get(KnowledgeBase, (tenant, base_id)) is not None:
        raise Conflict(f"knowledge base {base_id!r} already exists")
    base = KnowledgeBase(tenant_id=tenant, id=base_id, name=name or base_id, description=description,
                         chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    session.add(base)
    session.flush()
    return base


def delete_base(session: Session, tenant_id: str, base_id: str) -> None:
    """The base, its documents and chunks (explicitly: SQLite may run without foreign keys)."""
    tenant = tenant_key(tenant_id)
    get_base(session, tenant, base_id)
    session.exec(delete(KnowledgeChunk).where(col(KnowledgeChunk.tenant_id) == tenant,
                                              col(KnowledgeChunk.base_id) == base_id))
    session.exec(delete(KnowledgeDocument).where(col(KnowledgeDocument.tenant_id) == tenant,
                                                 col(KnowledgeDocument.base_id) == base_id))
    session.exec(delete(KnowledgeBase).where(col(KnowledgeBase.tenant_id) == tenant, col(KnowledgeBase.id) == base_id))
    drop_base_vectors(session, tenant, base_id)


def list_documents(session: Session, tenant_id: str, base_id: str) -> list[KnowledgeDocument]:
    tenant = tenant_key(tenant_id)
    get_base(session, tenant, base_id)
    query = select(KnowledgeDocument).where(KnowledgeDocument.tenant_id == tenant, KnowledgeDocument.base_id == base_id)
    return list(session.exec(query.order_by(col(KnowledgeDocument.filename))))


def get_document(session: Session, tenant_id: str, base_id: str, document_id: str) -> KnowledgeDocument:
    get_base(session, tenant_id, base_id)  # a missing base is named first
    document = session.get(KnowledgeDocument, (tenant_key(tenant_id), document_id))
    if document is None or document.base_id != base_id:
        raise NotFound(f"document {document_id!r} of knowledge base {base_id!r} not found")
    return document


def put_document(session: Session, tenant_id: str, base_id: str, prepared: PreparedDocument,
                 data_sha256: str) -> tuple[KnowledgeDocument, bool]:
    """Store the document's chunks, replacing a document of the same file name; returns
    ``(document, replaced)``. The base's revision grows, in the same transaction."""
    tenant = tenant_key(tenant_id)
    base = get_base(session, tenant, base_id)
    found = session.exec(select(KnowledgeDocument).where(
        KnowledgeDocument.tenant_id == tenant, KnowledgeDocument.base_id == base_id,
        KnowledgeDocument.filename == prepared.filename)).first()
    now = utcnow()
    if found is not None:
        session.exec(delete(KnowledgeChunk).where(col(KnowledgeChunk.tenant_id) == tenant,
                                                  col(KnowledgeChunk.document_id) == found.id))
        document = found
        document.updated_at = now
    else:
        document = KnowledgeDocument(tenant_id=tenant, id=uuid.uuid4().hex[:16], base_id=base_id,
                                     filename=prepared.filename, kind=prepared.kind)
    document.kind, document.size_bytes, document.sha256 = prepared.kind, prepared.size_bytes, data_sha256
    document.chunk_count, document.characters = len(prepared.chunks), len(prepared.text)
    document.embedding_model = prepared.embedding_model
    session.add(document)
    session.flush()
    vectors: list[bytes | None] = list(prepared.embeddings) if prepared.embeddings else [None] * len(prepared.chunks)
    rows: list[dict[str, Any]] = [
        {"tenant_id": tenant, "document_id": document.id, "position": c.position, "base_id": base_id,
         "start": c.start, "text": c.text, "embedding": v}
        for c, v in zip(prepared.chunks, vectors, strict=True)]
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(KnowledgeChunk), rows[start:start + INSERT_BATCH])
    _bump(session, base)
    return document, found is not None


def delete_document(session: Session, tenant_id: str, base_id: str, document_id: str) -> KnowledgeDocument:
    tenant = tenant_key(tenant_id)
    document = get_document(session, tenant, base_id, document_id)
    session.exec(delete(KnowledgeChunk).where(col(KnowledgeChunk.tenant_id) == tenant,
                                              col(KnowledgeChunk.document_id) == document_id))
    session.delete(document)
    _bump(session, get_base(session, tenant, base_id))
    return document


def _bump(session: Session, base: KnowledgeBase) -> None:
    session.exec(update(KnowledgeBase).where(col(KnowledgeBase.tenant_id) == base.tenant_id,
                                             col(KnowledgeBase.id) == base.id)
                 .values(revision=KnowledgeBase.revision + 1, updated_at=utcnow()))
    drop_base_vectors(session, base.tenant_id, base.id)
    session.flush()


def drop_base_vectors(session: Session, tenant_id: str, base_id: str) -> None:
    """Forget a base's vectors copied for pgvector (after a document change, or with the base);
    nothing to do without that table (SQLite, or PostgreSQL without the extension)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if session.execute(sql(f"SELECT to_regclass('{VECTORS_TABLE}')")).scalar() is None:
        return
    session.execute(sql(f"DELETE FROM {VECTORS_TABLE} WHERE tenant_id = :t AND base_id = :b"),
                    {"t": tenant_id, "b": base_id})


def base_infos(session: Session, tenant_id: str, base_ids: list[str]) -> list[BaseInfo]:
    """Revision and embedding model of each base, in the order asked; NotFound names a missing one."""
    tenant = tenant_key(tenant_id)
    rows = {b.id: b for b in session.exec(select(KnowledgeBase).where(
        KnowledgeBase.tenant_id == tenant, col(KnowledgeBase.id).in_(base_ids)))}
    for base_id in base_ids:
        if base_id not in rows:
            raise _missing(base_id)
    models: dict[str, set[str | None]] = {}
    for base_id, model in session.exec(select(KnowledgeDocument.base_id, KnowledgeDocument.embedding_model).where(
            KnowledgeDocument.tenant_id == tenant, col(KnowledgeDocument.base_id).in_(base_ids)).distinct()):
        models.setdefault(base_id, set()).add(model)
    out = []
    for base_id in base_ids:
        found = models.get(base_id, set())
        model = next(iter(found)) if len(found) == 1 else None
        out.append(BaseInfo(base_id, rows[base_id].revision, model))
    return out


def load_chunks(session: Session, tenant_id: str, base_id: str, vectors: bool = True) -> list[StoredChunk]:
    """Every chunk of the base with its document's name, in document and position order; without
    the embeddings when ``vectors`` is false (the database's vector engine ranks them)."""
    tenant = tenant_key(tenant_id)
    embedding = col(KnowledgeChunk.embedding) if vectors else sa_literal(None, LargeBinary)
    query = (sa_select(col(KnowledgeChunk.document_id), col(KnowledgeDocument.filename), col(KnowledgeChunk.position),
                       col(KnowledgeChunk.text), embedding)
             .join(KnowledgeDocument, (col(KnowledgeDocument.tenant_id) == col(KnowledgeChunk.tenant_id))
                   & (col(KnowledgeDocument.id) == col(KnowledgeChunk.document_id)))
             .where(col(KnowledgeChunk.tenant_id) == tenant, col(KnowledgeChunk.base_id) == base_id)
             .order_by(col(KnowledgeDocument.filename), col(KnowledgeChunk.position)))
    return [StoredChunk(d, f, p, t, e) for d, f, p, t, e in session.execute(query)]


def chunk_counts(session: Session, tenant_id: str) -> dict[str, int]:
    """Chunks per base of the tenant (for the list pages)."""
    query = (select(KnowledgeChunk.base_id, func.count()).where(KnowledgeChunk.tenant_id == tenant_key(tenant_id))
             .group_by(col(KnowledgeChunk.base_id)))
    return {base_id: int(count) for base_id, count in session.exec(query)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seed_example_base(session: Session, tenant_id: str) -> int:
    """The shipped example knowledge base (``support-docs``, used by the support_assistant demo
    flow) for a new tenant, without embeddings; returns the documents added (0 if it exists)."""
    tenant = tenant_key(tenant_id)
    if session.get(KnowledgeBase, (tenant, EXAMPLE_BASE)) is not None:
        return 0
    create_base(session, tenant, EXAMPLE_BASE, "Support documents (example)",
                "Warranty, returns, shipping, battery care and maintenance: the support_assistant example's sources.")
    files = example_documents()
    for name, data in files:
        kind, text = extract_text(name, data)
        prepared = PreparedDocument(name, kind, len(data), text, chunk_text(text), None, None)
        put_document(session, tenant, EXAMPLE_BASE, prepared, sha256(data))
    return len(files)


def document_texts(session: Session, tenant_id: str, base_id: str) -> dict[str, list[str]]:
    """Each document's chunk texts in position order, by document id (for re-embedding)."""
    tenant = tenant_key(tenant_id)
    get_base(session, tenant, base_id)
    query = (sa_select(col(KnowledgeChunk.document_id), col(KnowledgeChunk.text))
             .where(col(KnowledgeChunk.tenant_id) == tenant, col(KnowledgeChunk.base_id) == base_id)
             .order_by(col(KnowledgeChunk.document_id), col(KnowledgeChunk.position)))
    out: dict[str, list[str]] = {}
    for document_id, text in session.execute(query):
        out.setdefault(document_id, []).append(text)
    return out


def set_embeddings(session: Session, tenant_id: str, base_id: str, vectors: dict[str, list[bytes]],
                   model: str) -> int:
    """Store new embeddings (document id -> one per chunk, in position order) from ``model``;
    bumps the base's revision once. Returns the chunks updated."""
    tenant = tenant_key(tenant_id)
    base = get_base(session, tenant, base_id)
    updated = 0
    for document_id, blobs in vectors.items():
        for position, blob in enumerate(blobs):
            session.execute(update(KnowledgeChunk).where(
                col(KnowledgeChunk.tenant_id) == tenant, col(KnowledgeChunk.document_id) == document_id,
                col(KnowledgeChunk.position) == position).values(embedding=blob))
            updated += 1
        session.execute(update(KnowledgeDocument).where(
            col(KnowledgeDocument.tenant_id) == tenant, col(KnowledgeDocument.id) == document_id)
            .values(embedding_model=model, updated_at=utcnow()))
    _bump(session, base)
    return updated
