"""pgvector on PostgreSQL, when the ``vector`` extension is installed in the database.

The chunks' embeddings stay ``bytea`` in ``knowledge_chunks`` (the schema is the same with or
without the extension, and PostgreSQL cannot cast ``bytea`` to ``vector``), so a base's vectors
are copied, once per revision, into ``knowledge_vectors`` (created here, only when the
extension exists: ``tenant_id, base_id, revision, document_id, position, embedding vector``).
The copy is made by the first search of a new revision (under an advisory lock, in one
transaction reading one snapshot, so readers see all of it or none), and a document change deletes the base's rows
(``storage.repos.knowledge``). The search is exact: ``ORDER BY embedding <=> query`` over the
base's rows, found through the primary key. Not HNSW: one index serves every tenant and base,
and an approximate index filtered to one base can return fewer than ``top_k`` rows
(docs/knowledge.md).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from runtime.knowledge.retriever import BaseInfo, StoredChunk

from .repos._common import tenant_key
from .repos.knowledge import VECTORS_TABLE as TABLE

if TYPE_CHECKING:
    from .db import Database

log = logging.getLogger(__name__)

def _literal(blob: bytes) -> str:
    from runtime.knowledge.vector import from_blob

    return "[" + ",".join(repr(float(x)) for x in from_blob(blob)) + "]"


class PgVector:
    def __init__(self, database: Database, schema: str, version: str) -> None:
        self.database = database
        self.schema = schema  # where the extension's type and operators live (often not on the search path)
        self.version = version
        self.name = f"pgvector {version}"
        self._table_ready = False
        self.nearest_sql = (
            f"SELECT document_id, position, embedding OPERATOR(\"{schema}\".<=>) CAST(:q AS \"{schema}\".vector)"
            f" AS distance FROM {TABLE} WHERE tenant_id = :t AND base_id = :b AND revision = :r"
            " ORDER BY distance LIMIT :k")

    def _ensure_table(self, connection: Any) -> None:
        if self._table_ready:
            return
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('akis:knowledge_vectors'))"))
        connection.execute(text(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (tenant_id varchar(64) NOT NULL, base_id varchar(64) NOT NULL,"
            " revision integer NOT NULL, document_id varchar(64) NOT NULL, position integer NOT NULL,"
            f" embedding \"{self.schema}\".vector NOT NULL,"
            " PRIMARY KEY (tenant_id, base_id, revision, document_id, position))"))
        self._table_ready = True

    def _sync(self, tenant: str, info: BaseInfo) -> bool:
        """Make the base's rows those of ``info.revision``; False when the base is at another one.
        Under a lock per base, in one snapshot (repeatable read, taken after the lock): the
        revision checked is the one whose chunks are copied, and a copy made meanwhile is seen."""
        key = {"t": tenant, "b": info.id, "r": info.revision}
        have = f"SELECT 1 FROM {TABLE} WHERE tenant_id = :t AND base_id = :b AND revision = :r LIMIT 1"
        lock = "hashtext(:t || '/' || :b)"
        with self.database.engine.connect() as connection:
            with connection.begin():
                self._ensure_table(connection)
                if connection.execute(text(have), key).first():
                    return True
            connection.execute(text(f"SELECT pg_advisory_lock({lock})"), key)
            connection.commit()
            try:
                connection.execution_options(isolation_level="REPEATABLE READ")
                with connection.begin():
                    if connection.execute(text(have), key).first():
                        return True  # another process copied it while this one waited
                    current = connection.execute(text(
                        "SELECT revision FROM knowledge_bases WHERE tenant_id = :t AND id = :b"), key).scalar()
                    if current != info.revision:
                        return False
                    self._copy(connection, key)
            finally:
                connection.execute(text(f"SELECT pg_advisory_unlock({lock})"), key)
                connection.commit()
        return True

    def _copy(self, connection: Any, key: dict[str, Any]) -> None:
        connection.execute(text(f"DELETE FROM {TABLE} WHERE tenant_id = :t AND base_id = :b"), key)
        stored = connection.execute(text(
            "SELECT document_id, position, embedding FROM knowledge_chunks"
            " WHERE tenant_id = :t AND base_id = :b AND embedding IS NOT NULL"), key)
        driver: Any = connection.connection.driver_connection  # psycopg's, for COPY
        columns = "tenant_id, base_id, revision, document_id, position, embedding"
        with driver.cursor().copy(f"COPY {TABLE} ({columns}) FROM STDIN") as copy:
            for document_id, position, blob in stored:
                copy.write_row((key["t"], key["b"], key["r"], document_id, position, _literal(bytes(blob))))

    def _nearest(self, tenant_id: str, info: BaseInfo, chunks: list[StoredChunk], query: list[float],
                 limit: int) -> list[tuple[str, int, float]] | None:
        tenant = tenant_key(tenant_id)
        if not self._sync(tenant, info):
            return None
        args = {"q": "[" + ",".join(repr(float(x)) for x in query) + "]", "t": tenant, "b": info.id,
                "r": info.revision, "k": limit}
        with self.database.engine.connect() as connection:
            rows = connection.execute(text(self.nearest_sql), args).all()
        return [(str(d), int(p), 1.0 - float(distance)) for d, p, distance in rows]

    def explain(self, tenant_id: str, info: BaseInfo, query: list[float], limit: int) -> list[str]:
        """The query plan of the search statement (tests show which engine ranks)."""
        args = {"q": "[" + ",".join(repr(float(x)) for x in query) + "]", "t": tenant_key(tenant_id),
                "b": info.id, "r": info.revision, "k": limit}
        with self.database.engine.connect() as connection:
            return [str(r[0]) for r in connection.execute(text("EXPLAIN VERBOSE " + self.nearest_sql), args)]

    async def prepare(self, tenant_id: str, info: BaseInfo) -> None:
        """Copy the revision's vectors now (after a change), not in the next search."""
        try:
            await asyncio.to_thread(self._sync, tenant_key(tenant_id), info)
        except Exception as exc:  # noqa: BLE001 - the next search tries again, or ranks in process
            log.warning("pgvector copy of knowledge base %r failed: %s", info.id, exc)

    async def nearest(self, tenant_id: str, info: BaseInfo, chunks: list[StoredChunk], query: list[float],
                      limit: int) -> list[tuple[str, int, float]] | None:
        try:
            hits = await asyncio.to_thread(self._nearest, tenant_id, info, chunks, query, limit)
        except Exception as exc:  # noqa: BLE001 - any engine failure: the exact fallback answers instead
            log.warning("pgvector search of knowledge base %r failed, ranking in process: %s", info.id, exc)
            return None
        return hits if hits is not None and len(hits) == min(limit, len(chunks)) else None  # fewer: it changed


def pgvector_engine(database: Database) -> PgVector | None:
    """pgvector when the ``vector`` extension is installed in this database (``CREATE EXTENSION
    vector``, by someone allowed to), else ``None``."""
    try:
        with database.engine.connect() as connection:
            row = connection.execute(text(
                "SELECT n.nspname, e.extversion FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                " WHERE e.extname = 'vector'")).first()
    except Exception as exc:  # noqa: BLE001 - cannot tell: rank in process
        log.info("cannot look for pgvector (%s): vectors are ranked in process", exc)
        return None
    return PgVector(database, str(row[0]), str(row[1])) if row else None
