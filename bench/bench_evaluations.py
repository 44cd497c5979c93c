"""Evaluation throughput: a dataset through the evaluations service at concurrency 1, 8 and 32,
against the same cases run one by one through ``Engine.run``.

    python bench/bench_evaluations.py [--tiny] [--cases N] [--rounds R] [--delay-ms D]

The flow is user_input -> ai_response (the offline mock provider, a fixed wait of ``--delay-ms``
before its answer) -> output, on the app's real context over a private SQLite file. An evaluation
case does what the service always does: the run goes through the runs service (recorded, tagged
with the evaluation), three scorers score it (exact, contains, latency budget) and its result row
and progress are written. The baseline, ``engine``, is the same engine running the same inputs one
after another with nothing around it.

Reported per contender: cases per second and CPU milliseconds per case (medians over rounds,
contenders in a rotating order). ``overhead_c1`` is the evaluation layer's cost at concurrency 1,
the time per case over the engine's (1.0: none); ``speedup_c8``/``speedup_c32`` are the
throughputs at 8 and 32 over the engine's one-by-one throughput (the waits overlap);
``cpu_overhead`` is the CPU per case at concurrency 1 over the engine's, the steadier figure on a
shared machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, median, rotated, table

from editor.context import AkisContext, create_context
from runtime.evals import Case
from runtime.settings import AkisSettings

LEVELS = (1, 8, 32)
SCORERS = [{"kind": "exact"}, {"kind": "contains", "value": "answer"}, {"kind": "latency", "budget_ms": 60000}]


def flow(delay_ms: float) -> dict[str, Any]:
    return {"akis": 1, "flow_id": "bench", "name": "Bench",
            "nodes": [{"id": "in", "type": "user_input"},
                      {"id": "ai", "type": "ai_response", "config": {"provider": "mock", "provider_options": {
                          "delay_ms": delay_ms, "tokens_per_second": 0, "text": "answer: {{ user_message }}"}}},
                      {"id": "out", "type": "output"}],
            "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}]}


async def engine_round(context: AkisContext, cases: list[Case]) -> tuple[float, float]:
    stored = await context.flows.read("1", "bench")
    wall, cpu = time.perf_counter(), time.process_time()
    for case in cases:
        result = await context.engine.run(stored.document, case.run_inputs(), tenant_id="1")
        if result.status != "succeeded":
            raise RuntimeError(result.error)
    return time.perf_counter() - wall, time.process_time() - cpu


async def eval_round(context: AkisContext, dataset_id: str, concurrency: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    started = await context.evaluations.start("1", dataset_id, "bench", [1], concurrency=concurrency)
    finished = await context.evaluations.wait("1", started.id)
    elapsed = time.perf_counter() - wall, time.process_time() - cpu
    if finished.status != "finished" or finished.done != finished.total:
        raise RuntimeError(f"evaluation {finished.status}: {finished.error}")
    return elapsed


async def main_async(cases_n: int, rounds: int, delay_ms: float, tiny: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        settings = AkisSettings(database_url=f"sqlite:///{Path(folder) / 'bench.db'}",
                                warmup_interval_s=0, data_dir=Path(folder) / "data")
        context = create_context(settings)
        try:
            await context.flows.create("1", json.dumps(flow(delay_ms)))
            dataset = await context.datasets.create("1", "bench", scorers=SCORERS)
            cases = [Case(message=f"question {i}", expected=f"answer: question {i}") for i in range(cases_n)]
            await context.datasets.add_cases("1", dataset.id, cases)
            contenders = ["engine", *(f"c{level}" for level in LEVELS)]
            walls: dict[str, list[float]] = {c: [] for c in contenders}
            cpus: dict[str, list[float]] = {c: [] for c in contenders}
            await eval_round(context, dataset.id, 8)  # warm-up: plans compiled, tables touched
            for step in range(rounds):
                for who in rotated(contenders, step):
                    if who == "engine":
                        wall, cpu = await engine_round(context, cases)
                    else:
                        wall, cpu = await eval_round(context, dataset.id, int(who[1:]))
                    walls[who].append(wall)
                    cpus[who].append(cpu)
            await context.recorder.drain()
        finally:
            await context.shutdown()
            context.database.dispose()
    figures = {who: {"cases_per_s": cases_n / median(walls[who]), "cpu_ms_per_case": median(cpus[who]) / cases_n * 1000}
               for who in contenders}
    engine = figures["engine"]
    data: dict[str, Any] = {
        "benchmark": "evaluations", "tiny": tiny, "cases": cases_n, "rounds": rounds, "delay_ms": delay_ms,
        "machine": machine(), "contenders": figures,
        "overhead_c1": engine["cases_per_s"] / figures["c1"]["cases_per_s"],
        "speedup_c8": figures["c8"]["cases_per_s"] / engine["cases_per_s"],
        "speedup_c32": figures["c32"]["cases_per_s"] / engine["cases_per_s"],
        "cpu_overhead": figures["c1"]["cpu_ms_per_case"] / engine["cpu_ms_per_case"],
    }
    print(table(["contender", "cases/s", "CPU ms/case"],
                [(who, f["cases_per_s"], f["cpu_ms_per_case"]) for who, f in figures.items()],
                title=f"{cases_n} cases, mock wait {delay_ms:g} ms, {rounds} round(s)"))
    print(f"evaluation layer at concurrency 1: {data['overhead_c1']:.2f}x the engine's time per case, "
          f"{data['cpu_overhead']:.2f}x its CPU; concurrency 8: {data['speedup_c8']:.1f}x, "
          f"32: {data['speedup_c32']:.1f}x the one-by-one throughput")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="16 cases, one round (smoke test)")
    parser.add_argument("--cases", type=int, default=None, help="cases in the dataset (default 200)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="the mock model's wait (default 20)")
    args = parser.parse_args()
    cases = args.cases or (16 if args.tiny else 200)
    rounds = args.rounds or (1 if args.tiny else 5)
    if cases <= 0 or rounds <= 0 or args.delay_ms < 0:
        parser.error("--cases and --rounds must be positive, --delay-ms not negative")
    emit(asyncio.run(main_async(cases, rounds, args.delay_ms, args.tiny)))


if __name__ == "__main__":
    main()
