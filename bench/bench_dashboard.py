"""Dashboard benchmark: every aggregate the dashboard reads, over a million metric rows, against
loading the same rows into Python and aggregating there (the baseline, same process, same data).

    python bench/bench_dashboard.py              # 1,000,000 metric rows (+100,000 runs)
    python bench/bench_dashboard.py --tiny       # 10,000 rows: a smoke run
    python bench/bench_dashboard.py --rows 200000 --no-postgres

SQLite (a file in a temporary folder) always; PostgreSQL too when 127.0.0.1:5432 answers (a
private schema, dropped afterwards). Prints a table, then one JSON line. What matters is the
ratio: the SQL aggregates must stay a small fraction of what loading the rows would cost.
"""
from __future__ import annotations

import argparse
import math
import random
import socket
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import emit, machine, table
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from storage.db import Database, init_db
from storage.models import NodeMetric, Run
from storage.repos import dashboard
from storage.repos.dashboard import Filters

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TYPES = {  # node type: (median ms, spread, cacheable, tokens)
    "user_input": (0.3, 0.3, False, False), "category_detection": (40, 0.6, True, False),
    "product_search": (120, 0.5, True, False), "conversation_history": (8, 0.4, False, False),
    "template": (1, 0.3, False, False), "http_request": (250, 0.7, False, False),
    "ai_response": (900, 0.4, False, True), "output": (0.2, 0.3, False, False),
}
NODES_PER_RUN = 10
COLUMNS = ["tenant_id", "flow_id", "run_id", "node_id", "node_type", "duration_ms", "cache", "status", "tokens_in",
           "tokens_out", "created_at"]


def generate(rows: int, now: datetime, seed: int = 7) -> tuple[list[tuple], list[dict[str, Any]]]:
    """``rows`` metric rows of tenant 1 over the last 23 hours, and one run row per ten of them."""
    rng = random.Random(seed)
    kinds = list(TYPES)
    metric_rows: list[tuple] = []
    run_rows: list[dict[str, Any]] = []
    for r in range(math.ceil(rows / NODES_PER_RUN)):
        run_id = f"run{r}"
        flow = f"flow_{r % 10}"
        started = now - timedelta(seconds=rng.uniform(60, 23 * 3600))
        failed = rng.random() < 0.02
        for n in range(min(NODES_PER_RUN, rows - len(metric_rows))):
            kind = kinds[n % len(kinds)]
            median, spread, cacheable, tokens = TYPES[kind]
            ms = round(median * math.exp(rng.gauss(0, spread)), 3)
            cache = ("hit" if rng.random() < 0.6 else "miss") if cacheable else "off"
            metric_rows.append(("1", flow, run_id, f"node_{n}", kind, ms, cache,
                                "failed" if failed and kind == "ai_response" else "succeeded",
                                300 if tokens else 0, 120 if tokens else 0, started + timedelta(milliseconds=ms)))
        run_rows.append({"id": run_id, "tenant_id": "1", "flow_id": flow, "session_id": "s", "status":
                         "failed" if failed else "succeeded", "inputs": {"user_message": f"q{r % 500}"},
                         "started_at": started, "duration_ms": 1500.0, "first_chunk_ms": rng.uniform(300, 1500),
                         "timings": {}, "tokens_in": 300, "tokens_out": 120})
    return metric_rows, run_rows


def load(database: Database, metric_rows: list[tuple], run_rows: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    if database.dialect == "postgresql":
        raw = database.engine.raw_connection()
        try:
            copy_sql = f"COPY tenant_flow_metrics ({', '.join(COLUMNS)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in metric_rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
    else:
        with database.engine.begin() as connection:
            for i in range(0, len(metric_rows), 50_000):
                chunk = [dict(zip(COLUMNS, row, strict=True)) for row in metric_rows[i:i + 50_000]]
                connection.execute(NodeMetric.__table__.insert(), chunk)
    with database.engine.begin() as connection:
        for i in range(0, len(run_rows), 20_000):
            connection.execute(Run.__table__.insert(), run_rows[i:i + 20_000])
        if database.dialect == "postgresql":
            connection.execute(text("ANALYZE tenant_flow_metrics"))
            connection.execute(text("ANALYZE runs"))
        else:
            connection.execute(text("ANALYZE"))
    return time.perf_counter() - start


# --- the baseline: load the rows, aggregate in Python ----------------------------------------
def percentile_cont(values: list[float], q: float) -> float:
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (position - low) * (values[high] - values[low])


def python_dashboard(database: Database, f: Filters) -> dict[str, Any]:
    """What the dashboard would cost without SQL aggregates: every row of the range into Python."""
    since, until = f.window()
    bucket = dashboard.pick_bucket(f)
    with database.session() as session:
        rows = session.execute(
            select(NodeMetric.flow_id, NodeMetric.node_id, NodeMetric.node_type, NodeMetric.duration_ms,
                   NodeMetric.cache, NodeMetric.tokens_in, NodeMetric.tokens_out, NodeMetric.created_at)
            .where(NodeMetric.tenant_id == f.tenant_id, NodeMetric.created_at >= since, NodeMetric.created_at < until)
        ).all()
        runs = session.execute(select(Run.status, Run.started_at, Run.first_chunk_ms).where(
            Run.tenant_id == f.tenant_id, Run.started_at >= since, Run.started_at < until)).all()
    by_type: dict[str, list[float]] = defaultdict(list)
    by_node: dict[tuple[str, str], list[float]] = defaultdict(list)
    over_time: dict[tuple[int, str], list[float]] = defaultdict(list)
    cache: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    tokens: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for flow, node, kind, ms, outcome, t_in, t_out, at in rows:
        by_type[kind].append(ms)
        by_node[(flow, node)].append(ms)
        b = int(at.timestamp()) // bucket * bucket
        over_time[(b, kind)].append(ms)
        if outcome != "off":
            cache[kind][0] += 1
            cache[kind][1] += outcome == "hit"
        tokens[b][0] += t_in
        tokens[b][1] += t_out
    result = {
        "by_type": {k: (percentile_cont(sorted(v), 0.5), percentile_cont(sorted(v), 0.95)) for k, v in by_type.items()},
        "by_node": {k: (percentile_cont(sorted(v), 0.5), percentile_cont(sorted(v), 0.95)) for k, v in by_node.items()},
        "over_time": {k: statistics.fmean(v) for k, v in over_time.items()},
        "cache": dict(cache), "tokens": dict(tokens),
    }
    per_minute: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    chunks = sorted(c for _, _, c in runs if c is not None)
    for status, at, _ in runs:
        per_minute[int(at.timestamp()) // 60][0] += 1
        per_minute[int(at.timestamp()) // 60][1] += status == "failed"
    result["runs"] = dict(per_minute)
    result["first_chunk"] = (percentile_cont(chunks, 0.5), percentile_cont(chunks, 0.95)) if chunks else None
    return result


# --- measuring -------------------------------------------------------------------------------
def best_ms(fn: Callable[[], Any], reps: int) -> float:
    fn()  # warm caches and plans
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def measure(database: Database, f: Filters, reps: int) -> dict[str, Any]:
    queries: dict[str, Callable[[Any], Any]] = {
        "p50/p95 by node type": lambda s: dashboard.node_percentiles(s, f, "node_type"),
        "p50/p95 by node": lambda s: dashboard.node_percentiles(s, f, "node_id"),
        "durations over time": lambda s: dashboard.durations_over_time(s, f),
        "cache hit rate by type": lambda s: dashboard.cache_by_node_type(s, f),
        "runs per minute": lambda s: dashboard.runs_over_time(s, f, 60),
        "first chunk": lambda s: (dashboard.first_chunk_histogram(s, f), dashboard.first_chunk_percentiles(s, f)),
        "tokens": lambda s: dashboard.tokens_over_time(s, f),
    }
    out: dict[str, Any] = {"queries": {}}
    for name, query in queries.items():
        out["queries"][name] = best_ms(lambda q=query: database.call(q), reps)
    out["dashboard_ms"] = best_ms(lambda: database.call(dashboard.dashboard_data, f), reps)
    out["idle_check_ms"] = best_ms(lambda: database.call(dashboard.activity_marker, f.tenant_id), reps)
    out["python_ms"] = best_ms(lambda: python_dashboard(database, f), max(1, reps // 2))
    out["sql_vs_python"] = out["dashboard_ms"] / out["python_ms"]
    check = database.call(dashboard.node_percentiles, f, "node_type")
    baseline = python_dashboard(database, f)["by_type"]
    out["max_p95_difference_ms"] = max(abs(r.p95_ms - baseline[r.key][1]) for r in check)
    out["max_p95_difference_pct"] = max(100 * abs(r.p95_ms - baseline[r.key][1]) / baseline[r.key][1] for r in check)
    return out


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def run_backend(name: str, url: str, rows: int, reps: int, now: datetime) -> dict[str, Any]:
    database = init_db(url, seed_demo=False)
    try:
        metric_rows, run_rows = generate(rows, now)
        load_s = load(database, metric_rows, run_rows)
        del metric_rows, run_rows
        result = measure(database, Filters("1", since=now - timedelta(hours=24), until=now), reps)
        result.update(rows=rows, runs=math.ceil(rows / NODES_PER_RUN), load_s=load_s)
        return result
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tiny", action="store_true", help="10,000 rows, a smoke run")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    rows = 10_000 if args.tiny else args.rows
    reps = 2 if args.tiny else 5
    now = datetime.now(UTC)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = run_backend("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", rows, reps, now)
    if not args.no_postgres and postgres_available():
        schema = "akis_bench_" + uuid.uuid4().hex[:10]
        admin = create_engine(POSTGRES, poolclass=NullPool)
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
            results["postgresql"] = run_backend("postgresql", url, rows, reps, now)
        finally:
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.dispose()
    lines = []
    for backend, r in results.items():
        for query, ms in r["queries"].items():
            lines.append((backend, query, ms, None, None))
        lines.append((backend, "whole dashboard (SQL)", r["dashboard_ms"], r["python_ms"], r["sql_vs_python"]))
    print(table(["backend", "aggregate", "sql ms", "rows into python ms", "sql / python"], lines,
                f"Dashboard aggregates over {rows:,} metric rows of one tenant ({math.ceil(rows / 10):,} runs), "
                f"best of {reps}"))
    for backend, r in results.items():
        print(f"{backend}: loaded in {r['load_s']:.1f} s; p95 from SQL and from Python differ by at most "
              f"{r['max_p95_difference_ms']:.3f} ms ({r['max_p95_difference_pct']:.2f}%); a live tick with "
              f"nothing new costs {r['idle_check_ms']:.1f} ms")
    emit({"benchmark": "dashboard", "tiny": args.tiny, "rows": rows, "reps": reps, "machine": machine(),
          "backends": {b: dict(r) for b, r in results.items()},
          "worst_sql_vs_python": max(r["sql_vs_python"] for r in results.values())})


if __name__ == "__main__":
    main()
