"""A/B testing benchmark (issue 17): what choosing a run's variant costs, and the analysis query
over a million runs with experiment tags, each against a baseline measured in the same process.

    python bench/bench_experiments.py              # 1,000,000 runs (+1,000,000 metric rows, 100,000 thumbs)
    python bench/bench_experiments.py --tiny       # 5,000 runs: a smoke run
    python bench/bench_experiments.py --runs 200000 --no-postgres

* **assignment**: ``ExperimentService.choose`` for sessions it has seen (the experiment's config and
  the session's variant cached in the process: what every run after a conversation's first pays),
  against awaiting a coroutine that returns at once (the floor of any async hook); the pure hash
  and weight lookup; and a session's first run (one database round trip to store its variant).
* **analysis**: ``storage.repos.experiments.figures`` (every per-variant figure grouped in SQL,
  latencies as 1 ms histograms) plus the statistics, against loading the same runs into Python and
  grouping them there. SQLite always; PostgreSQL when 127.0.0.1:5432 answers (a private schema).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import emit, machine, median, table
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from editor.services.active_runs import ActiveRuns
from editor.services.experiment_report import build_analysis
from editor.services.experiments import ExperimentService, VariantSpec
from editor.services.flows import FlowService
from editor.services.variants import bucket, pick_index
from runtime.nodes.registry import default_registry
from storage.db import Database, init_db
from storage.models import Run
from storage.repos import experiments as repo

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FLOW = {"akis": 1, "flow_id": "shop", "name": "shop", "nodes": [
    {"id": "in", "type": "user_input"}, {"id": "t", "type": "template", "config": {"template": "hi"}},
    {"id": "out", "type": "output"}], "edges": [{"source": "in", "target": "t"}, {"source": "t", "target": "out"}]}
TARGET_US = 20.0


# --- assignment ----------------------------------------------------------------------------------
async def assignment(url: str, calls: int, sessions: int) -> dict[str, float]:
    database = init_db(url, seed_demo=False)
    try:
        service = ExperimentService(database, FlowService(database, default_registry(), None), ActiveRuns())
        await service.flows.create("1", json.dumps(FLOW))
        await service.flows.save_version("1", "shop", json.dumps({**FLOW, "name": "shop 2"}))
        experiment = await service.create("1", "shop", [VariantSpec("A", 1, 50), VariantSpec("B", 2, 50)], start=True)
        names = [f"web-{n}" for n in range(sessions)]
        started = time.perf_counter()
        for name in names:  # each session's first run: its variant is stored
            await service.choose("1", "shop", name)
        first_ms = (time.perf_counter() - started) / sessions * 1000

        async def noop(tenant: str, flow_id: str, session_id: str) -> None:
            return None

        async def loop(fn: Callable[[str, str, str], Any]) -> float:
            begin = time.perf_counter()
            for n in range(calls):
                await fn("1", "shop", names[n % sessions])
            return (time.perf_counter() - begin) / calls * 1e6

        choose_us, noop_us = [], []
        for _ in range(5):  # interleaved rounds: a busy machine slows both alike
            choose_us.append(await loop(service.choose))
            noop_us.append(await loop(noop))
        weights = [v.weight for v in experiment.variants]
        begin = time.perf_counter()
        for n in range(calls):
            pick_index(weights, bucket("1", names[n % sessions], experiment.id))
        hash_us = (time.perf_counter() - begin) / calls * 1e6
        return {"choose_us": median(choose_us), "noop_await_us": median(noop_us), "hash_and_pick_us": hash_us,
                "choose_over_noop_us": median(choose_us) - median(noop_us), "first_run_ms": first_ms}
    finally:
        database.dispose()


# --- analysis ------------------------------------------------------------------------------------
SEED_COLUMNS = ("id, tenant_id, flow_id, flow_version, session_id, status, inputs, timings, started_at, "
                "duration_ms, first_chunk_ms, tokens_in, tokens_out, attempts, experiment_id, variant")
SEED_VALUES = ("'r' || i, '1', 'shop', 1 + i % 2, 's' || (i / 2), "
               "CASE WHEN i % 53 = 0 THEN 'failed' ELSE 'succeeded' END, {json}, {json}, CURRENT_TIMESTAMP, "
               "800 + (i * 7919) % 400 + (i % 2) * 30, 300 + ((i * 104729) % 9973) / 50.0 + (i % 2) * 30, "
               "100, 50 + i % 40, 0, 'exp', CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END")
METRIC_VALUES = ("'1', 'shop', 'r' || i, 'search', 'product_search', 20.0, "
                 "CASE WHEN (i * 31) % 10 < 6 THEN 'hit' ELSE 'miss' END, 'succeeded', 0, 0, CURRENT_TIMESTAMP, "
                 "'exp', CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END")
METRIC_COLUMNS = ("tenant_id, flow_id, run_id, node_id, node_type, duration_ms, cache, status, tokens_in, "
                  "tokens_out, created_at, experiment_id, variant")


def seed(database: Database, runs: int) -> float:
    """``runs`` tagged runs, one metric row each and a thumb on every tenth, generated in SQL."""
    postgres = database.engine.dialect.name == "postgresql"
    source = "generate_series(0::bigint, :n - 1) AS g(i)" if postgres else "seq"
    prefix = "" if postgres else "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < :n - 1) "
    json_literal = "'{}'::json" if postgres else "'{}'"
    statements = [
        f"{prefix}INSERT INTO runs ({SEED_COLUMNS}) SELECT {SEED_VALUES.format(json=json_literal)} FROM {source}",
        f"{prefix}INSERT INTO tenant_flow_metrics ({METRIC_COLUMNS}) SELECT {METRIC_VALUES} FROM {source}",
        f"{prefix}INSERT INTO run_feedback (tenant_id, run_id, rating, created_at, updated_at) SELECT '1', 'r' || i, "
        f"CASE WHEN (i * 7) % 10 < 6 THEN 1 ELSE -1 END, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM {source} "
        f"WHERE i % 10 = 0",
    ]
    begin = time.perf_counter()
    with database.engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO tenants (id, name, created_at) VALUES ('1', 'one', CURRENT_TIMESTAMP)")
        connection.exec_driver_sql("INSERT INTO flows (tenant_id, id, name, current_version, created_at, updated_at) "
                                   "VALUES ('1', 'shop', 'shop', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        connection.exec_driver_sql("INSERT INTO experiments (tenant_id, id, flow_id, name, status, primary_metric, "
                                   "min_runs, created_at) VALUES ('1', 'exp', 'shop', 'bench', 'running', "
                                   "'first_chunk_ms', 1000, CURRENT_TIMESTAMP)")
        for name, version in (("A", 1), ("B", 2)):
            connection.exec_driver_sql(f"INSERT INTO experiment_variants (tenant_id, experiment_id, name, position, "
                                       f"flow_id, version, weight) VALUES ('1', 'exp', '{name}', {version - 1}, "
                                       f"'shop', {version}, 50)")
        for statement in statements:
            connection.execute(text(statement), {"n": runs})
    if postgres:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - begin


def in_python(session: Any) -> dict[str, Any]:
    """The baseline: the experiment's runs loaded into Python, grouped there (no feedback, no cache)."""
    out: dict[str, Any] = defaultdict(lambda: {"runs": 0, "failed": 0, "first": Counter(), "total": Counter()})
    query = select(Run.variant, Run.status, Run.first_chunk_ms, Run.duration_ms, Run.tokens_in, Run.tokens_out) \
        .where(Run.tenant_id == "1", Run.experiment_id == "exp")
    for variant, status, first, total, _, _ in session.execute(query):
        entry = out[variant]
        entry["runs"] += 1
        entry["failed"] += status == "failed"
        entry["first"][round(first)] += 1
        entry["total"][round(total)] += 1
    return dict(out)


def best_ms(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        begin = time.perf_counter()
        fn()
        times.append((time.perf_counter() - begin) * 1000)
    return min(times)


def analysis(url: str, runs: int, reps: int) -> dict[str, Any]:
    database = init_db(url, seed_demo=False)
    try:
        load_s = seed(database, runs)
        sql_ms = best_ms(lambda: database.call(repo.figures, "1", "exp"), reps)
        python_ms = best_ms(lambda: database.call(in_python), reps)
        figures = database.call(repo.figures, "1", "exp")
        info = asyncio.run(ExperimentService(database, FlowService(database, default_registry(), None),
                                             ActiveRuns()).get("1", "exp"))
        stats_ms = best_ms(lambda: build_analysis(info, figures, {}), reps)
        result = build_analysis(info, figures, {})
        assert sum(v.runs for v in result.variants) == runs
        return {"load_s": load_s, "figures_sql_ms": sql_ms, "statistics_ms": stats_ms,
                "analysis_ms": sql_ms + stats_ms, "rows_into_python_ms": python_ms,
                "sql_vs_python": (sql_ms + stats_ms) / python_ms,
                "bins": sum(len(f.first_chunk) for f in figures.values()),
                "winner": result.winner}
    finally:
        database.dispose()


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--tiny", action="store_true", help="5,000 runs and 2,000 assignments: a smoke run")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    runs = 5_000 if args.tiny else args.runs
    calls, sessions, reps = (2_000, 100, 2) if args.tiny else (100_000, 1_000, 3)
    backends: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        assign = asyncio.run(assignment(f"sqlite:///{Path(folder) / 'assign.db'}", calls, sessions))
        backends["sqlite"] = analysis(f"sqlite:///{Path(folder) / 'bench.db'}", runs, reps)
    if not args.no_postgres and postgres_available():
        schema = "akis_bench_" + uuid.uuid4().hex[:10]
        admin = create_engine(POSTGRES, poolclass=NullPool)
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            backends["postgresql"] = analysis(f"{POSTGRES}?options=-csearch_path%3D{schema}", runs, reps)
        finally:
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.dispose()
    print(table(["what", "microseconds"], [
        ("choose() for a seen session (cached config and variant)", assign["choose_us"]),
        ("awaiting a coroutine that returns at once (baseline)", assign["noop_await_us"]),
        ("choose() minus the baseline", assign["choose_over_noop_us"]),
        ("sha256 bucket and weight lookup alone", assign["hash_and_pick_us"]),
        ("a session's first run (its variant stored), per session", assign["first_run_ms"] * 1000),
    ], f"Assignment, median of 5 rounds of {calls:,} calls (target under {TARGET_US:.0f} us)"))
    print(table(["backend", "figures in SQL ms", "statistics ms", "rows into Python ms", "analysis / python",
                 "seed s"], [(b, r["figures_sql_ms"], r["statistics_ms"], r["rows_into_python_ms"], r["sql_vs_python"],
                              r["load_s"]) for b, r in backends.items()],
                f"Analysis over {runs:,} tagged runs (+{runs:,} metric rows, {runs // 10:,} thumbs), best of {reps}"))
    emit({"benchmark": "experiments", "tiny": args.tiny, "runs": runs, "machine": machine(), "assignment": assign,
          "target_us": TARGET_US, "backends": backends})


if __name__ == "__main__":
    main()
