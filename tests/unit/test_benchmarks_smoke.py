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
            "akis_vs_bare_cpu", "akis_stream_vs_handwritten", "akis_stream_vs_handwritten_cpu"]
    for who in ("akis", "akis_stream", "handwritten", "bare"):
        keys += [f"{who}_runs_per_s", f"{who}_p50_ms", f"{who}_p99_ms", f"{who}_cpu_us_per_run"]
    assert_positive(data, keys, "throughput")
    for who in ("akis", "akis_stream", "handwritten", "bare"):
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


def test_bench_agents_tiny() -> None:
    data = run_bench("bench_agents")
    assert data["benchmark"] == "agents" and data["tiny"] is True
    assert_positive(data, ["inline_us_per_run", "subflow_us_per_run", "subflow_vs_inline", "chain_us_per_node",
                           "iterate_us_per_item", "iterate_step_vs_inline_node", "agent_ms_per_run",
                           "direct_ms_per_run", "agent_vs_direct"], "agents")
    assert data["subflow_call_overhead_us"] == pytest.approx(data["subflow_us_per_run"] - data["inline_us_per_run"])
    assert data["agent_overhead_ms"] == pytest.approx(data["agent_ms_per_run"] - data["direct_ms_per_run"])


def test_bench_knowledge_tiny() -> None:
    data = run_bench("bench_knowledge")
    assert data["benchmark"] == "knowledge" and data["tiny"] is True
    assert [(r["backend"], r["chunks"]) for r in data["rows"]] == [("sqlite", 500)]
    keys = [f"{mode}_{p}_ms" for mode in ("lexical", "vector", "hybrid") for p in ("p50", "p99")]
    assert_positive(data["rows"][0], ["store_chunks_per_s", "index_build_chunks_per_s", "naive_scan_p50_ms",
                                      "lexical_vs_naive_scan", *keys, "fallback_vector_p50_ms",
                                      "fallback_hybrid_p50_ms", "engine_vs_fallback"], "knowledge.rows[0]")
    row = data["rows"][0]
    assert row["engine_vs_fallback"] == pytest.approx(row["fallback_vector_p50_ms"] / row["vector_p50_ms"])
    from storage.knowledge_vectors import sqlite_module

    if sqlite_module() is not None:  # sqlite-vec loads here: the engine row is really sqlite-vec's
        assert row["vector_engine"].startswith("sqlite-vec")
    assert_positive(data, ["cached_hit_p50_ms", "cached_miss_p50_ms", "miss_vs_hit"], "knowledge")
    assert data["miss_vs_hit"] == pytest.approx(data["cached_miss_p50_ms"] / data["cached_hit_p50_ms"])


def test_bench_evaluations_tiny() -> None:
    data = run_bench("bench_evaluations")
    assert data["benchmark"] == "evaluations" and data["tiny"] is True and data["cases"] == 16
    assert_positive(data, ["overhead_c1", "speedup_c8", "speedup_c32", "cpu_overhead"], "evaluations")
    assert set(data["contenders"]) == {"engine", "c1", "c8", "c32"}
    for name, figures in data["contenders"].items():
        assert_positive(figures, ["cases_per_s", "cpu_ms_per_case"], f"evaluations.{name}")
    engine, c1 = data["contenders"]["engine"], data["contenders"]["c1"]
    assert data["overhead_c1"] == pytest.approx(engine["cases_per_s"] / c1["cases_per_s"])


def test_bench_experiments_tiny() -> None:
    data = run_bench("bench_experiments", "--no-postgres")
    assert data["benchmark"] == "experiments" and data["tiny"] is True and data["runs"] == 5000
    assert_positive(data["assignment"], ["choose_us", "noop_await_us", "hash_and_pick_us", "first_run_ms"],
                    "experiments.assignment")
    sqlite = data["backends"]["sqlite"]
    assert_positive(sqlite, ["figures_sql_ms", "statistics_ms", "rows_into_python_ms", "sql_vs_python", "bins"],
                    "experiments.sqlite")
    assert sqlite["analysis_ms"] == pytest.approx(sqlite["figures_sql_ms"] + sqlite["statistics_ms"])
    assert sqlite["winner"] == "A"  # the seeded B is 30 ms slower to the first chunk


def test_bench_memory_tiny() -> None:
    data = run_bench("bench_memory")
    assert data["benchmark"] == "memory" and data["tiny"] is True
    assert_positive(data, ["idle_mb", "in_flight_mb", "finished_runs", "last_third_runs"], "memory")
    assert len(data["after_batches_mb"]) == data["batches"] and all(mb > 0 for mb in data["after_batches_mb"])
    assert isinstance(data["kb_per_run_in_flight"], float) and isinstance(data["growth_last_third_mb"], float)
