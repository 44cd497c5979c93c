"""bench/bench_api.py keeps working at its tiny size (the numbers' shape only, never size)."""
from __future__ import annotations

import pytest

from tests.bench_runner import run_bench

from .harness import server_env


def test_bench_api_tiny(tmp_path) -> None:
    data = run_bench("bench_api", timeout=300, env=server_env({}), cwd=tmp_path)
    assert data["bench"] == "api" and data["tiny"] is True
    assert data["http_failures"] == 0
    assert data["sse_chunks"] == 200
    for key in ("http_rps", "http_p50_ms", "http_p99_ms", "engine_rps", "sse_chunks_per_s", "engine_chunks_per_s",
                "http_vs_engine_rps", "sse_vs_engine_chunks", "framed_chunks_per_s", "sse_vs_framed_chunks"):
        assert data[key] > 0, key
    assert data["http_p50_ms"] <= data["http_p99_ms"]


def test_profile_api_tiny(tmp_path) -> None:
    """bench/profile_api.py: the app's CPU per request, its share by layer and the run's steps."""
    data = run_bench("profile_api", timeout=300, env=server_env({}), cwd=tmp_path)
    assert data["benchmark"] == "profile_api" and data["tiny"] is True and data["runs"] == 5
    assert data["cpu_ms_per_request"] > 0 and data["profiled_cpu_ms_per_request"] > 0
    assert sum(data["layers_pct"].values()) == pytest.approx(100, abs=1)
    assert data["steps_ms"]["the engine (Run.execute)"] > 0 and data["steps_ms"]["the run route"] > 0


def test_bench_healthz_tiny(tmp_path) -> None:
    """bench/bench_healthz.py: /healthz latency idle and with streams in flight; every stream ends."""
    data = run_bench("bench_healthz", timeout=300, env=server_env({}), cwd=tmp_path)
    assert data["benchmark"] == "healthz" and data["tiny"] is True
    assert data["opened"] == data["finished"] == data["streams"] == 20
    for key in ("idle_p50_ms", "idle_p99_ms", "busy_p50_ms", "busy_p99_ms", "probes"):
        assert data[key] > 0, key
    assert data["busy_p50_ms"] <= data["busy_p99_ms"] <= data["busy_max_ms"]
    assert data["steady_probes"] > 0 and data["steady_p50_ms"] <= data["steady_p99_ms"]
    # the target's window: all 20 open (one wave), none ended (2 s streams)
    assert data["stream_s"] == 2.0 and data["all_in_flight_probes"] > 0 and data["all_in_flight_s"] > 0
    assert data["all_in_flight_p50_ms"] <= data["all_in_flight_p99_ms"] <= data["all_in_flight_max_ms"]
    assert data["target_met"] == (data["all_in_flight_p99_ms"] < 50)
    assert data["chunks"] == 20 * 40 and data["chunk_p50_ms"] <= data["chunk_p99_ms"] <= data["chunk_max_ms"]
    assert 0 <= data["chunk_beyond_quickest_p50_ms"] <= data["chunk_beyond_quickest_p99_ms"]
    assert 0 < data["loop_cpu_s"] <= data["app_cpu_s"]
    # the app's collections during the load, from its /metrics: each generation, even with none
    assert sorted(data["gc"]) == ["0", "1", "2"]
    for collections in data["gc"].values():
        assert collections["count"] >= 0 and collections["seconds"] >= 0
        assert (collections["longest_under_ms"] is None) == (collections["count"] == 0)


def test_bench_web_memory_tiny(tmp_path) -> None:
    """bench/bench_web_memory.py: the app's RSS idle and after each tenth of the finished runs."""
    data = run_bench("bench_web_memory", timeout=300, env=server_env({}), cwd=tmp_path)
    assert data["benchmark"] == "web_memory" and data["tiny"] is True and data["runs"] == 300
    assert [done for done, _ in data["steps"]] == [0, *range(30, 301, 30)]
    assert all(rss > 0 for _, rss in data["steps"]) and data["kept_events"] == 100_000
    assert data["final_mb"] == pytest.approx(data["steps"][-1][1], abs=0.05)
    assert data["idle_mb"] == pytest.approx(data["steps"][0][1], abs=0.05)


def test_bench_http_floor_tiny(tmp_path) -> None:
    """bench/bench_http_floor.py: the engine, the runs service, two HTTP apps that do no work and
    the app's route, CPU per run each, and the best ratio an HTTP run could reach."""
    data = run_bench("bench_http_floor", timeout=300, env=server_env({}), cwd=tmp_path)
    assert data["benchmark"] == "http_floor" and data["tiny"] is True and data["runs"] == 50
    assert data["engine_ms"] > 0 and data["service_ms"] > 0 and data["app_ms"] > 0
    assert data["asgi_ms"] >= 0 and data["fastapi_ms"] >= 0  # a server's /proc ticks are 10 ms: 50 requests may read 0
    for floor in ("asgi", "fastapi"):  # the best ratio: every cost of the route beyond the two taken as zero
        best = data["engine_ms"] / (data["service_ms"] + data[f"{floor}_ms"])
        assert data[f"best_ratio_{floor}"] == pytest.approx(best, rel=1e-3)
    assert data["app_ratio"] == pytest.approx(data["engine_ms"] / data["app_ms"], rel=1e-3)
