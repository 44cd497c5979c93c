"""Where the engine's time goes: profile the throughput round or the no-op fan-out.

    python bench/profile_engine.py [seed|fanout] [--runs N]

Uses pyinstrument when installed (``pip install -e '.[bench]'``), else cProfile sorted by own
time. Not a benchmark: profilers slow code down unevenly, so read the shares, not the times.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
from collections.abc import Awaitable, Callable

import _common  # noqa: F401  (puts the project root on sys.path)
from _graphs import NoopNode, as_flow, fan_out
from _seedflow import PARALLEL, scaled_document
from bench_throughput import engine_round

from runtime import Engine, load_flow
from runtime.nodes.registry import default_registry


def workload(kind: str, runs: int) -> Callable[[], Awaitable[None]]:
    if kind == "seed":
        flow = load_flow(scaled_document(PARALLEL, 100.0))
        engine = Engine()

        async def seed() -> None:
            await engine_round(engine, flow, 10, "warmup")
            await engine_round(engine, flow, runs, "profiled")

        return seed
    registry = default_registry(entry_point_group=None)
    registry.add(NoopNode)
    engine = Engine(registry=registry)
    graph = load_flow(as_flow(fan_out(100)))

    async def fanout() -> None:
        for _ in range(runs):
            await engine.run(graph, {}, on_event=lambda event: None)

    return fanout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", nargs="?", choices=["seed", "fanout"], default="seed")
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    job = workload(args.kind, args.runs)
    try:
        from pyinstrument import Profiler
    except ImportError:
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(job())
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        return
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    asyncio.run(job())
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
