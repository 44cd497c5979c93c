"""Many concurrent runs of the seed scenario (times / 100) vs the same flow hand-written.

    python bench/bench_throughput.py [--tiny] [--runs N] [--rounds R] [--scale S]

All runs start at once on one event loop (one process, one core's worth of Python), each
with its own session. Throughput is runs divided by the time until the last result; latency
is each run's time from the common start to its result (so it includes queueing); CPU time
per run is reported too, as it is steadier on a shared machine. The engine runs with events
(a listener per run) and metrics on; background saves are awaited after the clock stops.

Contenders: ``akis`` (``Engine.run`` with a listener); ``akis_stream``, the same runs each
consumed through ``engine.stream(...)`` as a streaming client (the SSE route) does, until its
background save's event; ``handwritten``, the same flow in plain asyncio calling the same mock
provider and conversation store as the engine's nodes (the target's baseline: what differs is
the orchestration); ``bare``, a floor that writes the model's pacing inline and saves to a
list. Each round runs all three in a rotating order; the ratios are taken within a round
(neighbours in time share the machine's state) and the median over rounds is reported. The
garbage collector's collections per round are reported too: a full one walks the whole heap.
"""
from __future__ import annotations

import asyncio
import gc
import os
import time
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, median, percentile, round_ratio, rounds_from_args, table
from _seedflow import PARALLEL, SeedSpec, handwritten, handwritten_bare, scaled_document, seed_spec

from runtime import Engine, FlowDocument, load_flow
from runtime.events import RUN_FINISHED
from runtime.services import MemoryConversationStore, Services

TARGET_FRACTION = 0.5
MESSAGE = "I need a pallet jack for a small warehouse"
CONTENDERS = ("akis", "akis_stream", "handwritten", "bare")


async def engine_round(engine: Engine, flow: FlowDocument, runs: int, tag: str) -> tuple[float, list[float]]:
    """(wall seconds until the last result, each run's latency in ms)."""
    events = [0]

    def listener(_: Any) -> None:
        events[0] += 1

    latencies: list[float] = []
    results = []
    store = engine.services.conversations = MemoryConversationStore()  # each round starts empty, as the others'

    async def one(i: int) -> None:
        result = await engine.run(flow, {"user_message": MESSAGE, "session_id": f"{tag}-{i}"}, on_event=listener)
        latencies.append((time.perf_counter() - t0) * 1000)
        if result.status != "succeeded":
            raise RuntimeError(f"a seed run failed: {result.error}")
        results.append(result)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(runs)))
    wall = time.perf_counter() - t0
    # every background future at once, as the hand-written rounds await their task set
    await asyncio.gather(*[future for result in results for future in result.background])
    assert events[0] > 0
    assert sum([len(await store.history("1", f"{tag}-{i}", 2)) for i in range(runs)]) == 2 * runs
    return wall, latencies


async def stream_round(engine: Engine, flow: FlowDocument, runs: int, tag: str) -> tuple[float, list[float]]:
    """The same runs, each consumed through ``engine.stream`` as a streaming client does
    (background events included: the stream ends after the save)."""
    events = [0]
    latencies: list[float] = []
    store = engine.services.conversations = MemoryConversationStore()

    async def one(i: int) -> None:
        status = None
        async for event in engine.stream(flow, {"user_message": MESSAGE, "session_id": f"{tag}-{i}"}):
            events[0] += 1
            if event.event == RUN_FINISHED:
                latencies.append((time.perf_counter() - t0) * 1000)
                status = event.status
        if status != "succeeded":
            raise RuntimeError(f"a streamed seed run ended {status}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(runs)))
    wall = time.perf_counter() - t0
    assert events[0] > 0
    assert sum([len(await store.history("1", f"{tag}-{i}", 2)) for i in range(runs)]) == 2 * runs
    return wall, latencies


async def handwritten_round(spec: SeedSpec, runs: int, tag: str = "h", bare: bool = False) -> tuple[float, list[float]]:
    latencies: list[float] = []
    saved: list[tuple[str, str]] = []
    services = Services()
    background: set[asyncio.Task[Any]] = set()
    chunks = [0]

    def on_chunk(_: str) -> None:
        chunks[0] += 1

    async def one(i: int) -> None:
        if bare:
            await handwritten_bare(spec, MESSAGE, on_chunk, saved, background)
        else:
            await handwritten(spec, MESSAGE, on_chunk, services, background, session_id=f"{tag}-{i}")
        latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(runs)))
    wall = time.perf_counter() - t0
    await asyncio.gather(*background)
    assert chunks[0] == runs * len(spec.pieces)
    if bare:
        assert len(saved) == runs
    else:
        assert sum([len(await services.conversations.history("1", f"{tag}-{i}", 2)) for i in range(runs)]) == 2 * runs
    return wall, latencies


async def measure(runs: int, rounds: int, scale: float) -> dict[str, Any]:
    doc = scaled_document(PARALLEL, scale)
    spec = seed_spec(doc)
    flow = load_flow(doc)
    engine = Engine()
    await engine_round(engine, flow, 10, "warmup")  # compiles the plan once
    await stream_round(engine, flow, 10, "warmup-s")
    await handwritten_round(spec, 10, "warmup")
    await handwritten_round(spec, 10, bare=True)
    collections = [0, 0, 0]  # young, middle, full: counted by the interpreter's own callback

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections[info["generation"]] += 1

    gc.callbacks.append(count)
    gcs: dict[str, list[list[int]]] = {who: [] for who in CONTENDERS}
    walls: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    cpus: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    latencies: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    for r in range(rounds):
        for k in range(len(CONTENDERS)):
            who = CONTENDERS[(r + k) % len(CONTENDERS)]
            gc.collect()  # each run of a contender starts from the same heap, not another's garbage
            collections[:] = [0, 0, 0]
            cpu0 = time.process_time()
            if who == "akis":
                wall, lat = await engine_round(engine, flow, runs, f"r{r}")
            elif who == "akis_stream":
                wall, lat = await stream_round(engine, flow, runs, f"s{r}")
            else:
                wall, lat = await handwritten_round(spec, runs, f"h{r}", bare=who == "bare")
            cpus[who].append(time.process_time() - cpu0)
            gcs[who].append(collections[:])
            walls[who].append(wall)
            latencies[who].extend(lat)
    gc.callbacks.remove(count)
    out: dict[str, Any] = {"critical_path_ms": spec.last_chunk_bound_ms}
    for who in CONTENDERS:
        out[f"{who}_runs_per_s"] = runs / median(walls[who])
        out[f"{who}_p50_ms"] = percentile(latencies[who], 50)
        out[f"{who}_p99_ms"] = percentile(latencies[who], 99)
        out[f"{who}_cpu_us_per_run"] = median(cpus[who]) / runs * 1e6
        out[f"{who}_collections"] = [median([float(g[k]) for g in gcs[who]]) for k in range(3)]
    for base in ("handwritten", "bare"):
        out[f"akis_vs_{base}"] = round_ratio(walls["akis"], walls[base])
        out[f"akis_vs_{base}_cpu"] = round_ratio(cpus["akis"], cpus[base])
    out["akis_stream_vs_handwritten"] = round_ratio(walls["akis_stream"], walls["handwritten"])
    out["akis_stream_vs_handwritten_cpu"] = round_ratio(cpus["akis_stream"], cpus["handwritten"])
    return out


def main() -> None:
    args = rounds_from_args(__doc__.splitlines()[0])
    runs, rounds = args.runs, args.rounds
    if os.environ.get("BENCH_UVLOOP"):  # every contender on uvloop's event loop (issue 16: measured, not adopted)
        import uvloop

        uvloop.install()
    r = asyncio.run(measure(runs, rounds, args.scale))
    rows = [[who, r[f"{who}_runs_per_s"], r[f"{who}_p50_ms"], r[f"{who}_p99_ms"], r[f"{who}_cpu_us_per_run"],
             "/".join(f"{n:g}" for n in r[f"{who}_collections"])] for who in CONTENDERS]
    print(table(["who", "runs/s", "p50 ms", "p99 ms", "CPU us/run", "GC young/middle/full"], rows,
                f"{runs} concurrent seed runs at scale 1/{args.scale:g} (critical path "
                f"{r['critical_path_ms']:.2f} ms), median of {rounds} rounds"))
    met = r["akis_vs_handwritten"] >= TARGET_FRACTION
    print(f"\nakis/handwritten throughput {r['akis_vs_handwritten']:.2f} (target >= {TARGET_FRACTION:g}): "
          f"{'met' if met else 'MISSED'} (by CPU time {r['akis_vs_handwritten_cpu']:.2f}); "
          f"akis/bare {r['akis_vs_bare']:.2f} (by CPU time {r['akis_vs_bare_cpu']:.2f})")
    stream_met = r["akis_stream_vs_handwritten"] >= TARGET_FRACTION
    print(f"streamed (engine.stream)/handwritten {r['akis_stream_vs_handwritten']:.2f} (target >= "
          f"{TARGET_FRACTION:g}): {'met' if stream_met else 'MISSED'} (by CPU time "
          f"{r['akis_stream_vs_handwritten_cpu']:.2f})")
    emit({"benchmark": "throughput", "tiny": args.tiny, "runs": runs, "rounds": rounds, "scale": args.scale,
          **r, "target_met": met, "stream_target_met": stream_met, "uvloop": bool(os.environ.get("BENCH_UVLOOP")),
          **machine()})


if __name__ == "__main__":
    main()
