"""The benchmarks keep working: each runs at its tiny size and ends with one JSON line.

Only the shape of the numbers is checked (present, positive, consistent), never their size:
timings belong to the benchmarks themselves, as ratios measured in one process.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.bench_runner import run_bench


def assert_positive(data: dict[str, Any], keys: list[str], where: str) -> None:
    for key in keys:
        assert key in data, f"{where}: missing {key!r} in {sorted(data)}"
        value = data[key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}.{key} = {value!r}"
        assert value > 0, f"{where}.{key} = {value!r} is not positive"


def test_bench_engine_tiny() -> None:
    data = run_bench("bench_engine")
    assert data["benchmark"] == "engine" and data["tiny"] is True
    assert_positive(data, ["reps", "worst_akis_vs_minimal", "target_ratio"], "engine")
    assert len(data["graphs"]) == 3
    keys = ["nodes", "events", "metric_rows", "minimal_us_per_node", "akis_us_per_node",
            "akis_stream_us_per_node", "akis_vs_minimal", "akis_stream_vs_minimal"]
    if data["langgraph"]:
        keys += ["langgraph_us_per_node", "langgraph_vs_minimal"]
    for name, graph in data["graphs"].items():
        assert_positive(graph, keys, f"engine.graphs[{name!r}]")
    worst = max(g["akis_vs_minimal"] for g in data["graphs"].values())
    assert data["worst_akis_vs_minimal"] == pytest.approx(worst)


def test_bench_seed_tiny() -> None:
    data = run_bench("bench_seed")
    assert data["benchmark"] == "seed" and data["tiny"] is True
    assert_positive(data, ["scale", "reps", "speedup"], "seed")
    assert set(data["modes"]) == {"parallel", "sequential"}
    for mode, r in data["modes"].items():
        assert_positive(r, ["first_chunk_bound_ms", "last_chunk_bound_ms", "akis_first_ms", "akis_last_ms",
                            "akis_result_ms", "handwritten_first_ms", "handwritten_last_ms",
                            "handwritten_result_ms"], f"seed.modes.{mode}")
        for who in ("akis", "handwritten"):
            assert r[f"{who}_first_ms"] <= r[f"{who}_last_ms"] <= r[f"{who}_result_ms"], (mode, who, r)
    # the bound is read from the flow: sequential adds up the lookups, parallel waits for the slowest
    assert data["modes"]["sequential"]["first_chunk_bound_ms"] > data["modes"]["parallel"]["first_chunk_bound_ms"]


def test_bench_throughput_tiny() -> None:
    data = run_bench("bench_throughput")
    assert data["benchmark"] == "throughput" and data["tiny"] is True
    keys = ["runs", "critical_path_ms", "akis_vs_handwritten", "akis_vs_handwritten_cpu", "akis_vs_bare",
            "akis_vs_bare_cpu"]
    for who in ("akis", "handwritten", "bare"):
        keys += [f"{who}_runs_per_s", f"{who}_p50_ms", f"{who}_p99_ms", f"{who}_cpu_us_per_run"]
    assert_positive(data, keys, "throughput")
    for who in ("akis", "handwritten", "bare"):
        assert data[f"{who}_p50_ms"] <= data[f"{who}_p99_ms"]


@pytest.mark.parametrize(("name", "ratios"), [
    ("bench_metrics", ["on_vs_off", "on_vs_off_cpu"]),
    ("bench_tracing", ["on_vs_off", "on_vs_off_cpu"]),
])
def test_bench_observability_tiny(name: str, ratios: list[str]) -> None:
    """The cost of metrics and of tracing: runs per second and CPU per run of each contender,
    and the ratios against the same runs with them off."""
    data = run_bench(name)
    assert data["tiny"] is True and data["runs"] == 50 and data["rounds"] == 1
    contenders = [k.removesuffix("_runs_per_s") for k in data if k.endswith("_runs_per_s")]
    assert "off" in contenders and "on" in contenders, sorted(data)
    assert_positive(data, [f"{who}_{what}" for who in contenders for what in ("runs_per_s", "cpu_us_per_run")]
                    + ratios, name)
