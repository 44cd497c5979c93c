"""Storage benchmark: metric inserts (batched vs one by one) and the dashboard's aggregate query.

    python bench/bench_storage.py            # 1,000,000 metric rows for the aggregate
    python bench/bench_storage.py --tiny     # 10,000 rows: the CI smoke size

On SQLite (a temporary file, WAL) and on PostgreSQL (a temporary schema) when it answers.
Inserts: one row per transaction (what writing on the hot path would cost) against the sink's
batches (one INSERT per 500 rows), and the sink end to end (record + flush). The aggregate is
the monitoring query (avg duration_ms and count per node_type for one tenant over 24 hours,
slowest first) with the shipped index, then with that index dropped: ratios, same process.
"""
from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench._common import emit, machine, table
from runtime.ports import MetricRow
from storage.db import Database, init_db
from storage.metrics_sink import SqlMetricsSink
from storage.models import NodeMetric
from storage.repos import metrics

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NODE_TYPES = ["user_input", "category_detection", "product_search", "conversation_history", "template",
              "ai_response", "save_message", "output"]
TENANTS = 10
INDEX = "ix_tfm_tenant_created"


def rows(n: int, tenant: str = "2") -> list[MetricRow]:
    now = datetime.now(UTC)
    return [MetricRow(tenant, "6", f"run-{i // 8}", f"node_{i % 8}", NODE_TYPES[i % 8], float(i % 900), "miss",
                      "succeeded", created_at=now) for i in range(n)]


def insert_one_by_one(db: Database, batch: list[MetricRow]) -> float:
    start = time.perf_counter()
    for row in batch:
        with db.session() as session:
            session.execute(sa.insert(NodeMetric), [metrics.metric_values(row)])
    return len(batch) / (time.perf_counter() - start)


def insert_batched(db: Database, batch: list[MetricRow], size: int = 500) -> float:
    start = time.perf_counter()
    for i in range(0, len(batch), size):
        db.call(metrics.add_metric_rows, batch[i:i + size])
    return len(batch) / (time.perf_counter() - start)


def insert_through_sink(db: Database, batch: list[MetricRow]) -> tuple[float, float]:
    """(rows/s end to end, mean µs per record() call: the engine's cost)."""

    async def main() -> tuple[float, float]:
        sink = SqlMetricsSink(db, batch_size=500, interval_s=3600)
        start = time.perf_counter()
        for row in batch:
            sink.record(row)
        recorded = time.perf_counter()
        await sink.flush()
        end = time.perf_counter()
        await sink.aclose()
        return len(batch) / (end - start), (recorded - start) / len(batch) * 1e6

    return asyncio.run(main())


def fill(db: Database, n: int) -> None:
    """n rows over TENANTS tenants and the last 48 hours, generated inside the database."""
    columns = (
        "tenant_id, flow_id, run_id, node_id, node_type, duration_ms, cache, status, tokens_in, tokens_out, created_at"
    )
    types = " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(NODE_TYPES))
    select = (f"CAST(x % {TENANTS} AS TEXT), 'flow', 'run-' || CAST(x / 8 AS TEXT), 'node_' || CAST(x % 8 AS TEXT), "
              f"CASE x % 8 {types} END, ((x % 1000) * 7919) % 1000, 'miss', 'succeeded', 0, 0, ")
    if db.dialect == "postgresql":
        sql = (f"INSERT INTO tenant_flow_metrics ({columns}) SELECT {select} "
               f"now() - make_interval(secs => x % 172800) FROM generate_series(1, {n}) AS x")
        with db.engine.begin() as connection:
            connection.exec_driver_sql(sql.replace("%", "%%"))  # psycopg: % is its placeholder
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # what autovacuum does after a load: sets the visibility map, so index-only scans work
            connection.exec_driver_sql("VACUUM ANALYZE tenant_flow_metrics")
        return
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {n}) "
            f"INSERT INTO tenant_flow_metrics ({columns}) SELECT {select} "
            f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (x % 172800) || ' seconds') FROM c")
        connection.exec_driver_sql("ANALYZE")


def time_query(db: Database, reps: int, since: datetime) -> tuple[float, int]:
    """Median ms of the monitoring query for tenant 2, and how many rows it aggregated.

    ``since`` is fixed by the caller so both runs (with and without the index) see one window.
    """
    timings, counted = [], 0
    db.call(metrics.summary, "2", since)  # warm the caches once
    for _ in range(reps):
        start = time.perf_counter()
        stats = db.call(metrics.summary, "2", since)
        timings.append((time.perf_counter() - start) * 1000)
        counted = sum(s.count for s in stats)
    return statistics.median(timings), counted


def plan_uses_index(db: Database, since: datetime) -> bool:
    query = ("SELECT node_type, avg(duration_ms), count(*) FROM tenant_flow_metrics "
             "WHERE tenant_id = :t AND created_at >= :s GROUP BY node_type ORDER BY 2 DESC")
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    bound = since.replace(tzinfo=None) if db.dialect == "sqlite" else since
    with db.engine.connect() as connection:
        plan = " ".join(str(r) for r in connection.execute(sa.text(prefix + query), {"t": "2", "s": bound}))
    return INDEX in plan


def drop_index(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.exec_driver_sql(f"DROP INDEX {INDEX}")
        connection.exec_driver_sql("ANALYZE")


def bench_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    db = init_db(url, seed_demo=False)
    try:
        one = insert_one_by_one(db, rows(args.one_by_one))
        batched = insert_batched(db, rows(args.batched))
        sink_rate, record_us = insert_through_sink(db, rows(args.batched))
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM tenant_flow_metrics")
        start = time.perf_counter()
        fill(db, args.rows)
        fill_s = time.perf_counter() - start
        since = datetime.now(UTC) - timedelta(hours=24)
        uses_index = plan_uses_index(db, since)
        indexed_ms, counted = time_query(db, args.reps, since)
        drop_index(db)
        unindexed_ms, counted_again = time_query(db, args.reps, since)
        assert counted == counted_again, "the index changed the answer"
        return {
            "one_by_one_rows_s": round(one, 1), "batched_rows_s": round(batched, 1), "sink_rows_s": round(sink_rate, 1),
            "record_us": round(record_us, 3), "batched_vs_one_by_one": round(batched / one, 2),
            "rows": args.rows, "fill_s": round(fill_s, 2), "rows_aggregated": counted, "uses_index": uses_index,
            "indexed_ms": round(indexed_ms, 3), "unindexed_ms": round(unindexed_ms, 3),
            "index_speedup": round(unindexed_ms / indexed_ms, 2),
        }
    finally:
        db.dispose()


def postgres_schema(url: str) -> tuple[str, sa.Engine] | None:
    host, port = "127.0.0.1", 5432
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return None
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    schema = "akis_bench_" + uuid.uuid4().hex[:8]
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    return schema, admin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="CI size: 10,000 rows for the aggregate.")
    parser.add_argument("--rows", type=int, help="Metric rows for the aggregate query.")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL URL ('' to skip).")
    args = parser.parse_args()
    args.rows = args.rows or (10_000 if args.tiny else 1_000_000)
    args.one_by_one = 200 if args.tiny else 2_000
    args.batched = 2_000 if args.tiny else 50_000
    args.reps = 3 if args.tiny else 7

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = bench_backend("sqlite", f"sqlite:///{tmp}/bench.db", args)
    pg = postgres_schema(args.postgres) if args.postgres else None
    if pg is not None:
        schema, admin = pg
        try:
            results["postgres"] = bench_backend("postgres", f"{args.postgres}?options=-csearch_path%3D{schema}", args)
        finally:
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()

    print(table(
        ["database", "one by one rows/s", "batched rows/s", "batched / one", "sink rows/s", "record() µs"],
        [[name, r["one_by_one_rows_s"], r["batched_rows_s"], r["batched_vs_one_by_one"], r["sink_rows_s"],
          r["record_us"]] for name, r in results.items()],
        title=f"metric inserts ({args.one_by_one} rows one by one, {args.batched} batched by 500)",
    ))
    print()
    print(table(
        ["database", "rows", "aggregated", "index used", "indexed ms", "no index ms", "speedup"],
        [[name, r["rows"], r["rows_aggregated"], r["uses_index"], r["indexed_ms"], r["unindexed_ms"],
          r["index_speedup"]] for name, r in results.items()],
        title="the monitoring query: avg duration_ms and count per node_type, one tenant, last 24 h (median)",
    ))
    emit({"benchmark": "storage", "tiny": args.tiny, "rows": args.rows, "postgres": "postgres" in results,
          "results": results, **machine()})


if __name__ == "__main__":
    main()
