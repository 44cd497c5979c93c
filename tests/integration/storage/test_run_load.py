"""The scaling signal's figures from the runs table, on SQLite and PostgreSQL: queued runs and
the oldest one's age, running runs per worker, runs past their lease, recent durations per
tenant (old and unfinished runs left out), and the service's percentiles and cache."""
from __future__ import annotations

from datetime import timedelta

from editor.services.scaling import ScalingService, percentile
from storage.models import Run
from storage.repos.run_load import run_load
from storage.repos.tenants import ensure_tenant
from storage.types import utcnow


def add_runs(session, rows: list[dict]) -> None:
    for n, row in enumerate(rows):
        ensure_tenant(session, row.get("tenant_id", "2"))
        session.add(Run(id=f"r{n}", tenant_id=row.pop("tenant_id", "2"), flow_id="f", **row))
    session.commit()


def load_rows() -> list[dict]:
    now = utcnow()
    return [
        {"status": "queued", "started_at": now - timedelta(seconds=30)},
        {"status": "queued", "started_at": now - timedelta(seconds=5), "tenant_id": "3"},
        {"status": "running", "worker": "w1", "lease_until": now + timedelta(seconds=10)},
        {"status": "running", "worker": "w1", "lease_until": now - timedelta(seconds=1)},  # its worker died
        {"status": "running", "worker": "w2", "lease_until": now + timedelta(seconds=10)},
        *[{"status": "succeeded", "duration_ms": float(d), "first_chunk_ms": float(d) / 10,
           "started_at": now - timedelta(seconds=60)} for d in (100, 200, 300, 400)],
        {"status": "failed", "duration_ms": 1000.0, "started_at": now - timedelta(seconds=60), "tenant_id": "3"},
        {"status": "succeeded", "duration_ms": 99999.0, "started_at": now - timedelta(hours=2)},  # too old
    ]


def test_run_load_reads_the_cluster_figures(db) -> None:
    db.call(add_runs, load_rows())
    load = db.call(run_load, utcnow() - timedelta(minutes=5))
    assert load.queued == 2
    assert load.oldest_queued_at is not None
    assert load.running_per_worker == {"w1": 2, "w2": 1} and load.running == 3
    assert load.lease_expired == 1
    assert sorted(load.durations_ms) == [100.0, 200.0, 300.0, 400.0, 1000.0]  # both tenants, not the old one
    assert sorted(load.first_chunk_ms) == [10.0, 20.0, 30.0, 40.0]


async def test_the_service_reads_percentiles_and_reuses_a_fresh_reading(db) -> None:
    db.call(add_runs, load_rows())
    in_process = [0]

    def running() -> int:
        in_process[0] += 1
        return 7

    scaling = ScalingService(db, running, max_age_s=60.0)
    reading = await scaling.read()
    figures = reading.to_dict()
    assert figures["queue_depth"] == 2 and 25 <= figures["oldest_queued_s"] < 300
    assert figures["running"] == 3 and figures["running_per_worker"] == {"w1": 2, "w2": 1}
    assert figures["in_process"] == 7 and figures["job_queue"] is None and "error" not in figures
    assert figures["latency"]["runs"] == 5
    assert (figures["latency"]["p50_ms"], figures["latency"]["p99_ms"]) == (300.0, 1000.0)
    assert await scaling.read() is reading and in_process[0] == 1  # within max_age_s: not read again


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.99) == 5.0
    assert percentile([float(n) for n in range(1, 101)], 0.5) == 50.0
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 99.0
