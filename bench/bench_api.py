"""HTTP API throughput: non-streaming runs per second and p99, and streamed chunks per second
over SSE, each beside the same work done by the engine in this process (the baseline), so the
numbers read as "what HTTP costs".

    python bench/bench_api.py            # 2000 runs at concurrency 16, 20000 chunks
    python bench/bench_api.py --tiny     # a few requests: checks that it works

The app runs as a subprocess on a free loopback port over a fresh SQLite file; the load
generator is httpx (async) in this process. Every loop is bounded in count and in time.
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, database_with_token, emit, machine, percentile, table

from runtime import Engine


def _harness() -> Any:
    from tests.integration.api import harness  # the app launcher the API tests use

    return harness


async def engine_runs(flow: dict[str, Any], count: int, concurrency: int, budget_s: float) -> dict[str, float]:
    """Baseline: the same flow run by an Engine in this process, same concurrency."""
    engine = Engine()
    done = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + budget_s

    async def worker() -> None:
        nonlocal done
        while done < count and time.perf_counter() < deadline:
            done += 1
            start = time.perf_counter()
            result = await engine.run(flow, {"user_message": "hello"})
            assert result.status == "succeeded", result.error
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"n": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": 1000 * percentile(latencies, 50),
            "p99_ms": 1000 * percentile(latencies, 99)}


async def http_runs(client: Any, flow_id: str, count: int, concurrency: int, budget_s: float) -> dict[str, float]:
    done = 0
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + budget_s

    async def worker() -> None:
        nonlocal done, failures
        while done < count and time.perf_counter() < deadline:
            done += 1
            start = time.perf_counter()
            response = await client.post(f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": "hello"}})
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200 or response.json()["status"] != "succeeded":
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"n": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": 1000 * percentile(latencies, 50),
            "p99_ms": 1000 * percentile(latencies, 99), "failures": failures}


async def engine_chunks(flow: dict[str, Any], framed: bool = False) -> dict[str, float]:
    """``engine.stream`` in this process; ``framed``: each event also made into its SSE frame,
    as the relay does (the floor for any relay that writes every event as JSON)."""
    from editor.api.sse import event_frame

    engine = Engine()
    chunks = 0
    started = time.perf_counter()
    async for event in engine.stream(flow, {"user_message": "hello"}, include_background=False):
        if framed:
            event_frame(event, event.index)
        if event.event == "message.chunk":
            chunks += 1
    elapsed = time.perf_counter() - started
    return {"chunks": chunks, "chunks_per_s": chunks / elapsed}


async def sse_chunks(client: Any, flow_id: str, budget_s: float) -> dict[str, float]:
    """Chunks of one streamed run as the client reads them. The bytes are counted, not parsed
    (a Python SSE parser is slower than the relay it would measure)."""
    chunks = 0
    started = time.perf_counter()
    marker, end = b"event: message.chunk\n", b"event: run.finished\n"
    async with client.stream("POST", f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": "hello"}},
                             headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        pending = b""
        async for data in response.aiter_raw():
            frames = (pending + data).split(b"\n\n")
            pending = frames.pop()  # a frame cut by the read: counted with the next one
            chunks += sum(frame.startswith(marker, frame.find(b"event: ")) for frame in frames)
            if any(end in frame for frame in frames) or time.perf_counter() - started > budget_s:
                break
    elapsed = time.perf_counter() - started
    return {"chunks": chunks, "chunks_per_s": chunks / elapsed}


async def main_async(runs: int, concurrency: int, chunk_count: int, budget_s: float) -> dict[str, Any]:
    import httpx

    harness = _harness()
    workdir = Path(tempfile.mkdtemp(prefix="akis-bench-api-"))
    database_url = f"sqlite:///{workdir / 'akis.db'}"
    token = database_with_token(database_url)
    trivial = harness.trivial_flow("echo")
    streaming = harness.chat_flow("stream", chunks=chunk_count, text=" ".join(f"w{i}" for i in range(chunk_count)))
    server = harness.AppServer(workdir, env={"AKIS_DATABASE_URL": database_url}).start()
    try:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=60, limits=limits) as client:
            for flow in (trivial, streaming):
                assert (await client.post("/api/flows", json=flow)).status_code == 201
            await http_runs(client, "echo", min(50, runs), concurrency, budget_s)  # warm-up
            http = await http_runs(client, "echo", runs, concurrency, budget_s)
            sse = await sse_chunks(client, "stream", budget_s)
        base_runs = await engine_runs(trivial, runs, concurrency, budget_s)
        base_chunks = await engine_chunks(streaming)
        framed_chunks = await engine_chunks(streaming, framed=True)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"http": http, "engine": base_runs, "sse": sse, "engine_stream": base_chunks, "framed": framed_chunks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a few requests: checks that it works")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--budget-s", type=float, default=60.0, help="stop each phase after this long")
    args = parser.parse_args()
    runs, concurrency, chunks = (40, 4, 200) if args.tiny else (args.runs, args.concurrency, args.chunks)
    out = asyncio.run(main_async(runs, concurrency, chunks, args.budget_s))
    http, engine, sse, stream, framed = out["http"], out["engine"], out["sse"], out["engine_stream"], out["framed"]
    print(table(
        ["what", "n", "per second", "p50 ms", "p99 ms"],
        [
            ["POST /runs (JSON, trivial flow)", http["n"], http["rps"], http["p50_ms"], http["p99_ms"]],
            ["engine.run in-process (baseline)", engine["n"], engine["rps"], engine["p50_ms"], engine["p99_ms"]],
            ["SSE chunks (one streamed run)", sse["chunks"], sse["chunks_per_s"], None, None],
            ["engine.stream chunks (baseline)", stream["chunks"], stream["chunks_per_s"], None, None],
            ["engine.stream + SSE frames in process", framed["chunks"], framed["chunks_per_s"], None, None],
        ],
        title=f"HTTP API on loopback, concurrency {concurrency}",
    ))
    emit({
        "bench": "api", "tiny": args.tiny, "concurrency": concurrency, **machine(),
        "http_rps": round(http["rps"], 1), "http_p50_ms": round(http["p50_ms"], 2),
        "http_p99_ms": round(http["p99_ms"], 2), "http_failures": http["failures"],
        "engine_rps": round(engine["rps"], 1), "http_vs_engine_rps": round(http["rps"] / engine["rps"], 4),
        "sse_chunks": sse["chunks"], "sse_chunks_per_s": round(sse["chunks_per_s"], 1),
        "engine_chunks_per_s": round(stream["chunks_per_s"], 1),
        "sse_vs_engine_chunks": round(sse["chunks_per_s"] / stream["chunks_per_s"], 4),
        "framed_chunks_per_s": round(framed["chunks_per_s"], 1),
        "sse_vs_framed_chunks": round(sse["chunks_per_s"] / framed["chunks_per_s"], 4),
    })


if __name__ == "__main__":
    if str(ROOT) not in __import__("sys").path:
        __import__("sys").path.insert(0, str(ROOT))
    main()
