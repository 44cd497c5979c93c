"""What Prometheus metrics cost a run: the throughput benchmark's seed runs with and without them.

    python bench/bench_metrics.py [--tiny] [--runs N] [--rounds R] [--scale S]

The workload is bench_throughput.py's ``akis`` contender (many concurrent seed runs at
times/100, one event loop, a listener per run). ``off`` is that listener alone, as a run has it
with metrics off; ``on`` adds what the run service adds with ``/metrics`` on: one
:class:`~editor.observability.metrics.FlowObserver` (shared by the flow's runs) called with every event. Each round
runs both in a rotating order; the ratio is taken within a round and the median over rounds is
reported (target: ``on`` within 15% of ``off``). One scrape of the registry is timed at the end.
"""
from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, per_run, round_ratio, rounds_from_args, table
from _seedflow import PARALLEL, scaled_document

from editor.observability.metrics import AppMetrics
from runtime import Engine, FlowDocument, load_flow
from runtime.events import Event
from runtime.services import MemoryConversationStore
from runtime.settings import AkisSettings

MESSAGE = "I need a pallet jack for a small warehouse"
TARGET_RATIO = 0.85
CONTENDERS = ("off", "on")


async def engine_round(engine: Engine, flow: FlowDocument, runs: int, tag: str,
                       metrics: AppMetrics | None) -> float:
    """Wall seconds until the last of ``runs`` concurrent runs finished."""
    events = [0]
    engine.services.conversations = MemoryConversationStore()
    flow_id = str(flow.flow_id)

    def listener_for() -> Callable[[Event], None]:
        if metrics is None:
            def count(_: Event) -> None:
                events[0] += 1
            return count
        observer = metrics.observer("1", flow_id)  # what RunService.start does per run

        def count_and_observe(event: Event) -> None:
            events[0] += 1
            observer(event)
        return count_and_observe

    async def one(i: int) -> Any:
        result = await engine.run(flow, {"user_message": MESSAGE, "session_id": f"{tag}-{i}"}, on_event=listener_for())
        if result.status != "succeeded":
            raise RuntimeError(f"a seed run failed: {result.error}")
        return result

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(runs)))
    wall = time.perf_counter() - t0
    await asyncio.gather(*[future for result in results for future in result.background])
    assert events[0] > 0
    return wall


async def measure(runs: int, rounds: int, scale: float) -> dict[str, Any]:
    flow = load_flow(scaled_document(PARALLEL, scale))
    engine = Engine()
    metrics = AppMetrics(AkisSettings(_env_file=None, metrics_token="bench"))
    metrics.watch(lambda: 0, lambda: 0)
    await engine_round(engine, flow, 10, "warmup", None)
    await engine_round(engine, flow, 10, "warmup-m", metrics)
    walls: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    cpus: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    for r in range(rounds):
        for k in range(len(CONTENDERS)):
            who = CONTENDERS[(r + k) % len(CONTENDERS)]
            gc.collect()
            cpu0 = time.process_time()
            walls[who].append(await engine_round(engine, flow, runs, f"{who}{r}", metrics if who == "on" else None))
            cpus[who].append(time.process_time() - cpu0)
    t0 = time.perf_counter()
    from prometheus_client import generate_latest

    size = len(generate_latest(metrics.registry))
    scrape_ms = (time.perf_counter() - t0) * 1000
    out: dict[str, Any] = {"scrape_ms": scrape_ms, "scrape_bytes": size}
    out.update(per_run(walls, cpus, runs, CONTENDERS))
    out["on_vs_off"] = round_ratio(walls["on"], walls["off"])
    out["on_vs_off_cpu"] = round_ratio(cpus["on"], cpus["off"])
    return out


def main() -> None:
    args = rounds_from_args(__doc__.splitlines()[0])
    runs, rounds = args.runs, args.rounds
    r = asyncio.run(measure(runs, rounds, args.scale))
    rows = [[who, r[f"{who}_runs_per_s"], r[f"{who}_cpu_us_per_run"]] for who in CONTENDERS]
    print(table(["metrics", "runs/s", "CPU us/run"], rows,
                f"{runs} concurrent seed runs at scale 1/{args.scale:g}, median of {rounds} rounds"))
    met = r["on_vs_off"] >= TARGET_RATIO
    print(f"\nthroughput with metrics / without {r['on_vs_off']:.3f} (by CPU time {r['on_vs_off_cpu']:.3f}; "
          f"target >= {TARGET_RATIO:g}): {'met' if met else 'MISSED'}; one scrape {r['scrape_ms']:.2f} ms, "
          f"{r['scrape_bytes']} bytes")
    emit({"benchmark": "metrics", "tiny": args.tiny, "runs": runs, "rounds": rounds, "scale": args.scale,
          **r, "target_met": met, **machine()})


if __name__ == "__main__":
    main()
