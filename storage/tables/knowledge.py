"""Knowledge bases: documents, chunks and their index (issue 19).

Tables of this area (SQLModel, ``table=True``); migration 0009 creates them. Every row carries
``tenant_id``; a base's documents and a document's chunks go with it (``ON DELETE CASCADE``).
A base's ``revision`` grows on every document change: searches read it to know whether the
in-process index they hold is still the base's (``runtime.knowledge.retriever``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..models import ID_LEN, _ts


class KnowledgeBase(SQLModel, table=True):
    __tablename__ = "knowledge_bases"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    id: str = Field(primary_key=True, max_length=ID_LEN)
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", sa_type=Text)
    chunk_size: int = 800
    chunk_overlap: int = 100
    revision: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class KnowledgeDocument(SQLModel, table=True):
    """One uploaded file; uploading the same file name again replaces it (and its chunks)."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "base_id"], ["knowledge_bases.tenant_id", "knowledge_bases.id"],
                             ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "base_id", "filename", name="uq_knowledge_document_filename"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    id: str = Field(primary_key=True, max_length=ID_LEN)
    base_id: str = Field(max_length=ID_LEN)
    filename: str = Field(max_length=200)
    kind: str = Field(max_length=20)  # text | markdown | html | pdf
    size_bytes: int = 0
    sha256: str = Field(default="", max_length=64)
    chunk_count: int = 0
    characters: int = 0
    embedding_model: str | None = Field(default=None, max_length=200)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class KnowledgeChunk(SQLModel, table=True):
    """A passage of a document; ``embedding`` is little-endian float32 when embeddings are on."""

    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "document_id"], ["knowledge_documents.tenant_id", "knowledge_documents.id"],
                             ondelete="CASCADE"),
        Index("ix_knowledge_chunks_base", "tenant_id", "base_id"),
    )

    tenant_id: str = Field(primary_key=True, max_length=ID_LEN)
    document_id: str = Field(primary_key=True, max_length=ID_LEN)
    position: int = Field(primary_key=True)
    base_id: str = Field(max_length=ID_LEN)
    start: int = 0
    text: str = Field(sa_type=Text)
    embedding: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
