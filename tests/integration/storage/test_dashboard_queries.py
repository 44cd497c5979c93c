"""The dashboard's SQL aggregates, on SQLite and PostgreSQL, checked against Python's own math."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtime.ports import MetricRow
from storage.db import Database
from storage.repos import dashboard
from storage.repos.dashboard import Filters
from storage.repos.metrics import add_metric_rows
from storage.repos.runs import record_run
from tests.bench_runner import run_bench

NOW = datetime.now(UTC).replace(microsecond=0)


def percentile_cont(values: list[float], q: float) -> float:
    """PostgreSQL's definition: linear interpolation between the two nearest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def exact(db: Database, value: float) -> Any:
    """PostgreSQL's percentiles are exact; SQLite's come from 2%-wide log buckets (within ~1%)."""
    return pytest.approx(value, abs=1e-3) if db.dialect == "postgresql" else pytest.approx(value, rel=0.015)


def row(node_type: str, ms: float, *, tenant: str = "7", flow: str = "f1", node: str | None = None,
        cache: str = "off", status: str = "succeeded", at: datetime | None = None, run: str = "r",
        tokens: tuple[int, int] = (0, 0)) -> MetricRow:
    return MetricRow(tenant, flow, run, node or f"n_{node_type}", node_type, ms, cache, status,  # type: ignore[arg-type]
                     tokens[0], tokens[1], at or NOW - timedelta(minutes=5))


@pytest.fixture
def seeded(db: Database) -> dict[str, list[float]]:
    rng = random.Random(7)
    values = {"product_search": [round(rng.uniform(100, 900), 2) for _ in range(41)],
              "template": [round(rng.uniform(1, 5), 2) for _ in range(10)]}
    rows = [
        row(t, v, cache="hit" if t == "product_search" and i % 4 == 0 else "miss" if t == "product_search" else "off")
        for t, vs in values.items()
        for i, v in enumerate(vs)
    ]
    rows.append(row("product_search", 99999, tenant="8"))  # another tenant
    rows.append(row("product_search", 99999, at=NOW - timedelta(days=3)))  # outside the range
    rows.append(row("template", 3.0, flow="f2"))
    db.call(add_metric_rows, rows)
    return values


def test_percentiles_by_node_type_match_percentile_cont(db: Database, seeded: dict[str, list[float]]):
    result = db.call(dashboard.node_percentiles, Filters("7", flow_id="f1"), by="node_type")
    assert [r.key for r in result] == ["product_search", "template"]  # slowest first
    for r in result:
        values = seeded[r.key]
        assert r.count == len(values)
        assert r.p50_ms == exact(db, percentile_cont(values, 0.5))
        assert r.p95_ms == exact(db, percentile_cont(values, 0.95))
        assert r.avg_ms == pytest.approx(sum(values) / len(values), abs=1e-3)
        assert r.max_ms == max(values)


def test_percentiles_by_node_keep_flows_apart(db: Database, seeded: dict[str, list[float]]):
    result = db.call(dashboard.node_percentiles, Filters("7"), by="node_id")
    keys = {(r.flow_id, r.key, r.node_type): r.count for r in result}
    assert keys == {("f1", "n_product_search", "product_search"): 41, ("f1", "n_template", "template"): 10,
                    ("f2", "n_template", "template"): 1}
    one = next(r for r in result if r.flow_id == "f2")
    assert one.p50_ms == one.p95_ms == 3.0


def test_filters_narrow_by_node_type_and_time(db: Database, seeded: dict[str, list[float]]):
    only = db.call(dashboard.node_percentiles, Filters("7", node_type="template"))
    assert [(r.key, r.count) for r in only] == [("template", 11)]
    old = Filters("7", since=NOW - timedelta(days=4), until=NOW - timedelta(days=2))
    assert [(r.key, r.count, r.p50_ms) for r in db.call(dashboard.node_percentiles, old)] == [
        ("product_search", 1, 99999)
    ]
    assert db.call(dashboard.node_percentiles, Filters("nobody")) == []


def test_cache_hit_rate_by_node_type_in_the_seed_shape(db: Database, seeded: dict[str, list[float]]):
    assert db.call(dashboard.cache_by_node_type, Filters("7")) == {
        "product_search": {"total": 41, "hits": 11, "rate": round(100 * 11 / 41, 2)}}


def test_flow_node_stats_split_hits_from_misses(db: Database, seeded: dict[str, list[float]]):
    stats = db.call(dashboard.flow_node_stats, "7", "f1", timedelta(days=1))
    search = stats["n_product_search"]
    values = seeded["product_search"]
    hits = [v for i, v in enumerate(values) if i % 4 == 0]
    misses = [v for i, v in enumerate(values) if i % 4]
    assert (search.count, search.hits, search.misses) == (41, 11, 30)
    assert search.p50_ms == exact(db, percentile_cont(values, 0.5))
    assert search.p50_hit_ms == exact(db, percentile_cont(hits, 0.5))
    assert search.p50_miss_ms == exact(db, percentile_cont(misses, 0.5))
    assert stats["n_template"].hits == 0 and stats["n_template"].p50_hit_ms is None


def test_durations_and_tokens_over_time_bucket_in_sql(db: Database):
    """Buckets are floored in SQL; the tokens of a bucket are those of the runs started in it."""
    base = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    rows = [row("ai_response", 100 * (i + 1), at=base + timedelta(seconds=20 * i)) for i in range(6)]
    db.call(add_metric_rows, rows)
    f = Filters("7", since=base, until=base + timedelta(minutes=10))
    series = db.call(dashboard.durations_over_time, f, 60)
    assert [(t, kind, avg, n) for t, kind, avg, n in series] == [
        (base, "ai_response", 200.0, 3), (base + timedelta(minutes=1), "ai_response", 500.0, 3)]
    for i in range(4):  # tokens are read from the runs, which carry their totals
        db.call(record_run, "7", f"t{i}", "f1", status="succeeded", started_at=base + timedelta(seconds=25 * i),
                duration_ms=900.0, tokens_in=10, tokens_out=5 * (i + 1))
    db.call(record_run, "7", "no-tokens", "f1", status="succeeded", started_at=base + timedelta(minutes=4))
    assert db.call(dashboard.tokens_over_time, f, 60) == [(base, 30, 30), (base + timedelta(minutes=1), 10, 20)]
    assert dashboard.pick_bucket(f) == 10


def record(db: Database, run_id: str, status: str, started: datetime, first_chunk: float | None,
           message: str = "hello", flow: str = "f1") -> None:
    db.call(record_run, "7", run_id, flow, status=status, started_at=started, duration_ms=1000.0,
            first_chunk_ms=first_chunk, inputs={"user_message": message, "session_id": run_id})


def test_runs_per_minute_error_rate_and_first_chunk(db: Database):
    base = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    chunks = [120.0, 180.0, 260.0, 310.0, 900.0]
    for i, ms in enumerate(chunks):
        record(db, f"r{i}", "failed" if i == 4 else "succeeded", base + timedelta(seconds=25 * i), ms)
    record(db, "r9", "cancelled", base + timedelta(seconds=150), None)
    f = Filters("7", since=base, until=base + timedelta(minutes=5))
    assert db.call(dashboard.runs_over_time, f, 60) == [
        (base, 3, 0), (base + timedelta(minutes=1), 2, 1), (base + timedelta(minutes=2), 1, 0)]
    totals = db.call(dashboard.run_totals, f)
    assert (totals.runs, totals.failed, totals.cancelled, totals.error_rate) == (6, 1, 1, round(100 / 6, 2))
    width, histogram = db.call(dashboard.first_chunk_histogram, f, 100.0)
    assert width == 100.0 and histogram == [(100.0, 2), (200.0, 1), (300.0, 1), (900.0, 1)]
    p50, p95 = db.call(dashboard.first_chunk_percentiles, f)
    assert p50 == exact(db, percentile_cont(chunks, 0.5)) and p95 == exact(db, percentile_cont(chunks, 0.95))
    empty = Filters("7", since=base - timedelta(days=2), until=base - timedelta(days=1))
    assert db.call(dashboard.first_chunk_percentiles, empty) == (None, None)


def test_input_repeat_rate_counts_values_seen_before(db: Database):
    now = datetime.now(UTC)
    for i, message in enumerate(["pallet jack", "forklift", "pallet jack", "pallet jack", "reach truck"]):
        record(db, f"q{i}", "succeeded", now - timedelta(minutes=i), 100.0, message)
    runs, rate = db.call(dashboard.input_repeat_rate, "7", "f1", ["user_message"])
    assert (runs, rate) == (5, 0.4)
    assert db.call(dashboard.input_repeat_rate, "7", "f1", ["user_message", "session_id"]) == (5, 0.0)
    assert db.call(dashboard.input_repeat_rate, "7", "other", ["user_message"]) is None


def test_filter_choices(db: Database, seeded: dict[str, list[float]]):
    assert db.call(dashboard.metric_flows, Filters("7")) == ["f1", "f2"]
    assert db.call(dashboard.metric_node_types, Filters("7", flow_id="f2")) == ["template"]


def test_sqlite_without_ln_falls_back_to_exact_window_functions(tmp_path: Any, monkeypatch: pytest.MonkeyPatch):
    from storage.db import init_db
    from storage.repos import dashboard_stats

    database = init_db(f"sqlite:///{tmp_path / 'noln.db'}", seed_demo=False)
    try:
        values = [float(v) for v in (5, 1, 900, 120, 33, 7, 64)]
        database.call(add_metric_rows, [row("http_request", v) for v in values])
        monkeypatch.setitem(dashboard_stats._LN, id(database.engine), False)
        [only] = database.call(dashboard.node_percentiles, Filters("7"))
        assert (only.p50_ms, only.p95_ms) == (pytest.approx(percentile_cont(values, 0.5)),
                                              pytest.approx(percentile_cont(values, 0.95)))
        monkeypatch.setitem(dashboard_stats._LN, id(database.engine), True)
        [approx] = database.call(dashboard.node_percentiles, Filters("7"))
        assert approx.p95_ms == pytest.approx(percentile_cont(values, 0.95), rel=0.015)
    finally:
        database.dispose()


def test_bench_dashboard_tiny_runs_and_reports_ratios():
    data = run_bench("bench_dashboard")
    assert data["benchmark"] == "dashboard" and data["tiny"] is True and data["rows"] == 10_000
    for backend, result in data["backends"].items():
        assert result["dashboard_ms"] > 0 and result["python_ms"] > 0 and result["sql_vs_python"] > 0, backend
        assert result["max_p95_difference_pct"] < 2, f"{backend}: SQL and Python disagree on p95"
