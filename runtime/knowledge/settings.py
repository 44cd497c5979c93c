"""The knowledge bases' settings, from the same environment (and ``.env``) as ``AkisSettings``.

Kept here so the area's configuration lives with it: ``AKIS_EMBEDDING_MODEL`` turns embeddings on
(empty: BM25 alone), through the OpenAI SDK at ``AKIS_EMBEDDING_BASE_URL`` (else ``OPENAI_BASE_URL``)
with ``AKIS_EMBEDDING_API_KEY`` (else ``OPENAI_API_KEY``).
"""
from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .ingest import MAX_FILE_BYTES


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AKIS_", env_file=".env", extra="ignore")

    embedding_model: str = ""
    embedding_base_url: str = ""
    embedding_api_key: SecretStr = SecretStr("")
    embedding_batch_size: int = Field(64, ge=1, le=2048)
    embedding_dimensions: int | None = Field(None, ge=1, le=8192)
    knowledge_max_file_bytes: int = Field(MAX_FILE_BYTES, ge=1)  # one uploaded document, at most
    # "database": sqlite-vec / pgvector where they load (no vectors held in the process); "process":
    # always the exact in-process ranking (faster per query, memory per process): docs/knowledge.md
    knowledge_vector_search: Literal["database", "process"] = "database"
    openai_api_key: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("OPENAI_API_KEY", "AKIS_OPENAI_API_KEY"))
    openai_base_url: str = Field("", validation_alias=AliasChoices("OPENAI_BASE_URL", "AKIS_OPENAI_BASE_URL"))
