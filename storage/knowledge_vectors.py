"""Vector search in the database's own engine: sqlite-vec on SQLite, pgvector on PostgreSQL.

Both rank exactly (cosine distance, the same as the in-process fallback in
``runtime.knowledge.vector``), over the base's chunks at exactly the revision the retriever's
index holds; when they cannot answer (no extension, the base changed, an error) ``nearest``
returns ``None`` and the retriever ranks in process. docs/knowledge.md says which is used and
why, with the benchmark's figures.

SQLite: the app's engine keeps the standard ``sqlite3`` module (this Python's cannot load
extensions); vector queries use a separate read-only connection to the same file, from
``sqlite3`` when it can load extensions, else ``pysqlite3`` (its own SQLite build, which can),
with ``sqlite_vec`` loaded. ``vec_distance_cosine`` runs over ``knowledge_chunks.embedding``
(little-endian float32 blobs, the format sqlite-vec reads), so nothing is stored twice.
"""
from __future__ import annotations

import asyncio
import logging
import queue
from types import ModuleType
from typing import Any

from sqlalchemy.engine import make_url

from runtime.knowledge.retriever import BaseInfo, StoredChunk, VectorEngine

from .db import Database
from .knowledge_pgvector import PgVector, pgvector_engine
from .repos._common import tenant_key

log = logging.getLogger(__name__)

NEAREST_SQL = """
SELECT c.document_id, c.position, vec_distance_cosine(c.embedding, ?) AS distance
FROM knowledge_chunks c JOIN knowledge_bases b ON b.tenant_id = c.tenant_id AND b.id = c.base_id
WHERE c.tenant_id = ? AND c.base_id = ? AND b.revision = ? AND c.embedding IS NOT NULL
ORDER BY distance LIMIT ?
"""


def sqlite_module() -> ModuleType | None:
    """A DB-API sqlite module that can load extensions, or ``None``."""
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        from pysqlite3 import dbapi2  # type: ignore[import-untyped,import-not-found,unused-ignore]  # optional, untyped
    except ImportError:
        return None
    return dbapi2  # type: ignore[no-any-return,unused-ignore]  # the module, untyped


class SqliteVec:
    """sqlite-vec over the app's SQLite file, on connections of its own (a small pool)."""

    def __init__(self, path: str, module: ModuleType) -> None:
        self.path = path
        self.module = module
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.version = self._query(lambda c: c.execute("SELECT vec_version()").fetchone()[0])
        self.name = f"sqlite-vec {self.version}"

    def _connect(self) -> Any:
        import sqlite_vec  # type: ignore[import-untyped,unused-ignore]  # no type hints shipped

        connection = self.module.connect(self.path, check_same_thread=False, timeout=30)
        connection.enable_load_extension(True)
        sqlite_vec.load(connection)
        connection.enable_load_extension(False)
        connection.execute("PRAGMA query_only=1")  # this connection only reads
        return connection

    def _query(self, fn: Any) -> Any:
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._connect()
        try:
            result = fn(connection)
        except BaseException:
            connection.close()
            raise
        self._idle.put(connection)
        return result

    def explain(self, tenant_id: str, info: BaseInfo, query: list[float], limit: int) -> list[str]:
        """The query plan of :meth:`nearest`'s statement (tests show which engine ranks)."""
        from runtime.knowledge.vector import to_blob

        args = (to_blob(query), tenant_key(tenant_id), info.id, info.revision, limit)
        return self._query(lambda c: [str(r[-1]) for r in c.execute("EXPLAIN QUERY PLAN " + NEAREST_SQL, args)])

    def _nearest(self, tenant_id: str, info: BaseInfo, query: list[float], limit: int) -> list[tuple[str, int, float]]:
        from runtime.knowledge.vector import to_blob

        args = (to_blob(query), tenant_key(tenant_id), info.id, info.revision, limit)
        rows = self._query(lambda c: c.execute(NEAREST_SQL, args).fetchall())
        return [(str(d), int(p), 1.0 - float(distance)) for d, p, distance in rows]

    async def prepare(self, tenant_id: str, info: BaseInfo) -> None:
        """Nothing to prepare: the distance runs over the stored chunks."""

    async def nearest(self, tenant_id: str, info: BaseInfo, chunks: list[StoredChunk], query: list[float],
                      limit: int) -> list[tuple[str, int, float]] | None:
        try:
            hits = await asyncio.to_thread(self._nearest, tenant_id, info, query, limit)
        except Exception as exc:  # noqa: BLE001 - any engine failure: the exact fallback answers instead
            log.warning("sqlite-vec search of knowledge base %r failed, ranking in process: %s", info.id, exc)
            return None
        return hits if len(hits) == min(limit, len(chunks)) else None  # fewer: the base changed since


def vector_engine(database: Database) -> VectorEngine | None:
    """The database's vector engine when its extension loads, else ``None`` (in-process ranking)."""
    if database.dialect == "postgresql":
        return pgvector_engine(database)
    if database.dialect != "sqlite":
        return None
    path = make_url(database.url).database
    module = sqlite_module()
    if not path or path == ":memory:" or module is None:
        return None
    try:
        return SqliteVec(path, module)
    except Exception as exc:  # noqa: BLE001 - no sqlite-vec (not installed, cannot load): in process
        log.info("sqlite-vec is not available (%s): vectors are ranked in process", exc)
        return None


__all__ = ["PgVector", "SqliteVec", "sqlite_module", "vector_engine"]
