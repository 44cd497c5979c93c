"""tenant_flow_metrics: batched writes and the monitoring query (``metrics.summary``)."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from runtime.ports import MetricRow
from storage.metrics_sink import SqlMetricsSink
from storage.repos import metrics

from .rows import count_metrics

NOW = datetime.now(UTC)


def row(node_type: str, ms: float, *, tenant: str = "2", age_h: float = 1, cache: str = "off",
        status: str = "succeeded", run: str = "r1", node: str | None = None) -> MetricRow:
    return MetricRow(tenant, "6", run, node or f"n_{node_type}", node_type, ms, cache, status,  # type: ignore[arg-type]
                     created_at=NOW - timedelta(hours=age_h))


def test_the_seed_query_average_and_count_per_node_type_slowest_first(db):
    rows = [row("category_detection", 800), row("category_detection", 600), row("product_search", 600, cache="hit"),
            row("product_search", 200, cache="miss"), row("ai_response", 1500, status="failed"),
            row("ai_response", 9999, age_h=30), row("template", 50, tenant="5")]
    assert db.call(metrics.add_metric_rows, rows) == len(rows)
    stats = db.call(metrics.summary, "2")
    assert [(s.key, s.avg_ms, s.count) for s in stats] == [
        ("ai_response", 1500.0, 1), ("category_detection", 700.0, 2), ("product_search", 400.0, 2)]
    search = stats[2]
    assert (search.cache_hits, search.hit_rate, search.max_ms) == (1, 50.0, 600.0)
    assert stats[0].failures == 1
    assert db.call(metrics.summary, "2", timedelta(hours=48))[0].key == "ai_response"
    assert db.call(metrics.summary, "2", timedelta(hours=48))[0].count == 2


def test_per_node_breakdown_of_one_flow_and_per_run_rows(db):
    db.call(
        metrics.add_metric_rows,
        [row("delay", 10, node="a"), row("delay", 30, node="b"), row("delay", 20, node="a", run="r2")],
    )
    per_node = db.call(metrics.summary, "2", flow_id="6", by="node_id")
    assert [(s.key, s.avg_ms, s.count) for s in per_node] == [("b", 30.0, 1), ("a", 15.0, 2)]
    assert db.call(metrics.summary, "2", flow_id="other") == []
    assert [m.node_id for m in db.call(metrics.run_metrics, "2", "r1")] == ["a", "b"]
    assert db.call(count_metrics, "2") == 3
    assert db.call(count_metrics, "2", timedelta(minutes=1)) == 0


async def test_the_sink_batches_off_the_hot_path_and_flushes_on_demand(db):
    sink = SqlMetricsSink(db, batch_size=50, interval_s=30)
    for i in range(120):
        sink.record(row("delay", float(i)))  # returns at once: nothing written yet on this loop turn
    assert db.call(count_metrics, "2") == 0
    await sink.flush()
    assert db.call(count_metrics, "2") == 120 and sink.written == 120 and sink.pending == 0
    await sink.aclose()


async def test_a_full_batch_wakes_the_writer_without_waiting_for_the_interval(db):
    sink = SqlMetricsSink(db, batch_size=10, interval_s=3600)
    for i in range(10):
        sink.record(row("delay", float(i)))
    for _ in range(1000):  # the writer task runs on this loop; give it turns, not a time limit
        if sink.written == 10:
            break
        await asyncio.sleep(0.01)
    assert sink.written == 10
    assert db.call(count_metrics, "2") == 10
    await sink.aclose()
