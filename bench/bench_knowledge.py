"""Knowledge bases: indexing speed and query latency, lexical (BM25) and vector, on SQLite and
PostgreSQL, and a cached retrieval (hit) against an uncached one (miss), in one process.

    python bench/bench_knowledge.py              # 10,000 chunks, SQLite and (when reachable) PostgreSQL
    python bench/bench_knowledge.py --large      # 10,000 and 100,000 chunks (minutes: only when asked)
    python bench/bench_knowledge.py --tiny       # 500 chunks, SQLite only (the smoke test)

Vector queries run twice over the same stored chunks: through the database's engine (sqlite-vec,
or pgvector when the extension is installed) and through the exact in-process fallback (numpy),
which is their baseline; the engine's first query (pgvector copies the revision's vectors then)
is reported apart.

Chunks are synthetic (~60 words from a 5,000-word Zipf vocabulary, 64-dimension float32 vectors
from a seeded generator): the numbers are the store's and the ranking's, not a model's. Queries
use the revision lookup (one database round trip) plus the in-process index built once per
revision. The baseline is a naive scan in the same process: Python counting query words in
every chunk's text, which is what a store without an index would do.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, machine, percentile, table

DIMENSIONS = 64
WORDS = [f"w{i}" for i in range(5000)]
WEIGHTS = [1 / (i + 1) for i in range(len(WORDS))]
CHUNKS_PER_DOCUMENT = 500


class RandomEmbedder:
    """Seeded vectors, no network: the benchmark measures the store and the ranking only."""

    model = "bench-random-64"

    def __init__(self) -> None:
        import numpy as np

        self._rng = np.random.default_rng(7)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self._rng.standard_normal((len(texts), DIMENSIONS))]


def synthetic(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, WEIGHTS, k=60)) for _ in range(n)]


def queries(count: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS[20:2000], k=3)) for _ in range(count)]


def open_database(kind: str, url: str) -> tuple[Any, Any]:
    """(database, cleanup) for an empty private database of the kind."""
    import sqlalchemy as sa

    from storage.db import init_db

    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="akis-kb-bench-")
        database = init_db(f"sqlite:///{Path(folder) / 'kb.db'}", seed_demo=False)
        return database, database.dispose
    schema = "akis_kb_bench_" + os.urandom(4).hex()
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    database = init_db(f"{url}?options=-csearch_path%3D{schema}", seed_demo=False)

    def cleanup() -> None:
        database.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()

    return database, cleanup


async def measure(kind: str, url: str, n: int, query_count: int) -> dict[str, Any]:
    from runtime.knowledge.chunking import Chunk
    from runtime.knowledge.ingest import PreparedDocument
    from runtime.knowledge.vector import to_blob
    from storage.knowledge import SqlKnowledge
    from storage.repos import knowledge as repo

    database, cleanup = open_database(kind, url)
    try:
        texts = synthetic(n)
        embedder = RandomEmbedder()
        vectors = [to_blob(v) for v in await embedder.embed(texts)]
        database.call(repo.create_base, "1", "bench")
        t0 = time.perf_counter()
        for start in range(0, n, CHUNKS_PER_DOCUMENT):
            part = texts[start:start + CHUNKS_PER_DOCUMENT]
            chunks = [Chunk(i, 0, t) for i, t in enumerate(part)]
            prepared = PreparedDocument(f"doc{start}.txt", "text", 0, "", chunks,
                                        vectors[start:start + CHUNKS_PER_DOCUMENT], embedder.model)
            database.call(repo.put_document, "1", "bench", prepared, "")
        store_s = time.perf_counter() - t0
        knowledge = SqlKnowledge(database, embedder)  # type: ignore[arg-type]  # the benchmark's own embedder
        # the same chunks ranked in process: the fallback, and the baseline of the database's engine
        fallback = SqlKnowledge(database, embedder, vector_engine=False)  # type: ignore[arg-type]  # as above
        asked = queries(query_count)
        t0 = time.perf_counter()
        await knowledge.search("1", ["bench"], asked[0], 5, mode="lexical")  # loads the chunks, builds both indexes
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        await knowledge.search("1", ["bench"], asked[0], 5, mode="vector")  # pgvector: copies the revision's vectors
        engine_first_ms = (time.perf_counter() - t0) * 1000
        await fallback.search("1", ["bench"], asked[0], 5, mode="lexical")
        out: dict[str, Any] = {"backend": kind, "chunks": n, "store_chunks_per_s": n / store_s,
                               "index_build_chunks_per_s": n / build_s, "vector_engine": knowledge.vector_engine,
                               "engine_first_query_ms": engine_first_ms}
        runs = [("lexical", knowledge, "lexical"), ("vector", knowledge, "vector"), ("hybrid", knowledge, "hybrid"),
                ("fallback_vector", fallback, "vector"), ("fallback_hybrid", fallback, "hybrid")]
        for name, store, mode in runs:
            times = []
            for q in asked:
                t = time.perf_counter()
                await store.search("1", ["bench"], q, 5, mode=mode)  # type: ignore[arg-type]  # a mode name
                times.append((time.perf_counter() - t) * 1000)
            out[f"{name}_p50_ms"], out[f"{name}_p99_ms"] = percentile(times, 50), percentile(times, 99)
        out["engine_vs_fallback"] = out["fallback_vector_p50_ms"] / out["vector_p50_ms"]
        scan = []
        for q in asked[: max(3, query_count // 10)]:
            words = q.split()
            t = time.perf_counter()
            ranked = sorted(range(n), key=lambda i: -sum(texts[i].count(w) for w in words))[:5]
            scan.append((time.perf_counter() - t) * 1000)
            assert len(ranked) == 5
        out["naive_scan_p50_ms"] = percentile(scan, 50)
        out["lexical_vs_naive_scan"] = out["naive_scan_p50_ms"] / out["lexical_p50_ms"]
        return out
    finally:
        cleanup()


async def cached_vs_uncached(rounds: int) -> dict[str, float]:
    """One knowledge_retrieval node in a real engine: served from the cache, then computed."""
    from runtime import Engine, load_flow
    from runtime.cache import build_cache
    from runtime.knowledge.memory import MemoryKnowledge
    from runtime.services import Services
    from runtime.settings import AkisSettings

    knowledge = MemoryKnowledge(examples=False)
    for i in range(20):
        await knowledge.add("1", "bench", f"doc{i}.txt", " ".join(synthetic(50, seed=i)).encode(), 800, 100)
    flow = load_flow({
        "flow_id": "kb-bench", "nodes": [
            {"id": "in", "type": "user_input"},
            {"id": "kb", "type": "knowledge_retrieval", "config": {"knowledge_bases": ["bench"]}},
            {"id": "out", "type": "output", "config": {"fields": {"n": "{{ passages | length }}"}}}],
        "edges": [{"source": "in", "target": "kb"}, {"source": "kb", "target": "out"}],
        "cache_strategy": {"knowledge_retrieval": {"ttl": 600}}})
    cache = build_cache(AkisSettings(cache_tiers="memory", redis_url="", memcached="", cache_prefix=""))
    engine = Engine(services=Services(knowledge=knowledge), cache=cache)
    message = {"user_message": "w30 w40 w50", "tenant_id": "1"}
    await engine.run(flow, message)
    hits, misses = [], []
    for _ in range(rounds):
        result = await engine.run(flow, message)
        assert result.nodes["kb"].cache == "hit"
        hits.append(result.nodes["kb"].duration_ms)
        await cache.invalidate("1", ["knowledge:bench"])
        result = await engine.run(flow, message)
        assert result.nodes["kb"].cache == "miss"
        misses.append(result.nodes["kb"].duration_ms)
    await cache.close()
    hit, miss = percentile(hits, 50), percentile(misses, 50)
    return {"cached_hit_p50_ms": hit, "cached_miss_p50_ms": miss, "miss_vs_hit": miss / hit}


def postgres_url() -> str | None:
    import sqlalchemy as sa

    url = os.environ.get("AKIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception:  # noqa: BLE001 - no PostgreSQL here: the SQLite rows stand alone
        return None
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="500 chunks, SQLite only (smoke test)")
    parser.add_argument("--large", action="store_true", help="also 100,000 chunks (takes minutes)")
    parser.add_argument("--queries", type=int, default=None, help="queries per mode (default 200, tiny 20)")
    args = parser.parse_args()
    sizes = [500] if args.tiny else ([10_000, 100_000] if args.large else [10_000])
    count = args.queries or (20 if args.tiny else 200)
    backends = [("sqlite", "")]
    pg = None if args.tiny else postgres_url()
    if pg:
        backends.append(("postgresql", pg))
    rows = [asyncio.run(measure(kind, url, n, count)) for n in sizes for kind, url in backends]
    cached = asyncio.run(cached_vs_uncached(10 if args.tiny else 200))
    keys = ["store_chunks_per_s", "index_build_chunks_per_s", "lexical_p50_ms", "lexical_p99_ms", "hybrid_p50_ms",
            "hybrid_p99_ms", "naive_scan_p50_ms", "lexical_vs_naive_scan"]
    print(table(["backend", "chunks", *keys], [[r["backend"], r["chunks"], *(r[k] for k in keys)] for r in rows],
                "Knowledge bases: indexing (chunks/s) and query latency (ms)"))
    vector_keys = ["engine_first_query_ms", "vector_p50_ms", "vector_p99_ms", "fallback_vector_p50_ms",
                   "fallback_vector_p99_ms", "fallback_hybrid_p50_ms", "engine_vs_fallback"]
    print(table(["backend", "chunks", "vector engine", *vector_keys],
                [[r["backend"], r["chunks"], r["vector_engine"], *(r[k] for k in vector_keys)] for r in rows],
                "Vector search: the database's engine vs the exact in-process fallback (ms; ratio > 1: engine faster)"))
    print(table(["cached hit p50 ms", "uncached miss p50 ms", "miss / hit"],
                [[cached["cached_hit_p50_ms"], cached["cached_miss_p50_ms"], cached["miss_vs_hit"]]],
                "knowledge_retrieval node: cache hit vs miss"))
    emit({"benchmark": "knowledge", "tiny": args.tiny, "queries": count, "rows": rows, **cached,
          "postgresql": bool(pg), "machine": machine()})


if __name__ == "__main__":
    main()
