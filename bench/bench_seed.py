"""The seed scenario against its critical-path bound, parallel and sequential.

    python bench/bench_seed.py [--tiny] [--scale S] [--reps N]

Each run is watched as a client sees it: an ``Engine.stream`` consumer notes when the first
and the last ``message.chunk`` arrive and when ``run.finished`` does, measured from the call.
The bound is the physical limit read from the flow (0.875 s / 1.35 s parallel and
1.975 s / 2.45 s sequential at scale 1). A hand-written asyncio version of the same flow runs
interleaved with the engine as the reference. One warm-up run of each comes first (the first
run validates and compiles the plan). The targets (first chunk within 3 ms and last within
15 ms of the bound, medians) are for the parallel flow; sequential chains six waits, and each
wait can overshoot by up to a millisecond (epoll's timeout resolution).
"""
from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, median, table
from _seedflow import PARALLEL, SEQUENTIAL, SeedSpec, handwritten, scaled_document, seed_spec

from runtime import Engine, FlowDocument, load_flow
from runtime.services import Services

FIRST_CHUNK_SLACK_MS = 3.0
LAST_CHUNK_SLACK_MS = 15.0
MESSAGE = "I need a pallet jack for a small warehouse"


async def engine_once(engine: Engine, flow: FlowDocument, run: int) -> dict[str, float]:
    """Times (ms from the call) of the first chunk, the last chunk and the result."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    async for event in engine.stream(flow, {"user_message": MESSAGE, "session_id": f"seed-{run}"}):
        now = (time.perf_counter() - t0) * 1000
        if event.event == "message.chunk":
            times.setdefault("first", now)
            times["last"] = now
        elif event.event == "run.finished":
            if event.status != "succeeded":
                raise RuntimeError(f"the seed run failed: {event.error}")
            times["result"] = now
    return times


async def handwritten_once(spec: SeedSpec) -> dict[str, float]:
    times: dict[str, float] = {}
    t0 = time.perf_counter()

    def on_chunk(_: str) -> None:
        now = (time.perf_counter() - t0) * 1000
        times.setdefault("first", now)
        times["last"] = now

    background: set[asyncio.Task[Any]] = set()
    await handwritten(spec, MESSAGE, on_chunk, Services(), background)
    times["result"] = (time.perf_counter() - t0) * 1000
    await asyncio.gather(*background)
    return times


async def measure(mode: str, scale: float, reps: int) -> dict[str, Any]:
    doc = scaled_document(PARALLEL if mode == "parallel" else SEQUENTIAL, scale)
    spec = seed_spec(doc)
    flow = load_flow(doc)
    engine = Engine()
    await engine_once(engine, flow, -1)  # warm-up: validation, plan, templates
    await handwritten_once(spec)
    engine_runs, hand_runs = [], []
    for rep in range(reps):  # interleaved, alternating who goes first
        if rep % 2:
            hand_runs.append(await handwritten_once(spec))
            engine_runs.append(await engine_once(engine, flow, rep))
        else:
            engine_runs.append(await engine_once(engine, flow, rep))
            hand_runs.append(await handwritten_once(spec))
    first_bound, last_bound = spec.first_chunk_bound_ms, spec.last_chunk_bound_ms
    out: dict[str, Any] = {"first_chunk_bound_ms": first_bound, "last_chunk_bound_ms": last_bound}
    for name, runs in (("akis", engine_runs), ("handwritten", hand_runs)):
        for key in ("first", "last", "result"):
            out[f"{name}_{key}_ms"] = median([r[key] for r in runs])
        out[f"{name}_first_over_bound_ms"] = out[f"{name}_first_ms"] - first_bound
        out[f"{name}_last_over_bound_ms"] = out[f"{name}_last_ms"] - last_bound
        out[f"{name}_last_over_bound_max_ms"] = max(r["last"] for r in runs) - last_bound
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="times divided by 20, two runs (smoke test)")
    parser.add_argument("--scale", type=float, default=None, help="divide every wait by this (default 1)")
    parser.add_argument("--reps", type=int, default=None, help="timed runs per mode (default 5)")
    args = parser.parse_args()
    scale = args.scale or (20.0 if args.tiny else 1.0)
    reps = args.reps or (2 if args.tiny else 5)
    if scale <= 0 or reps <= 0:
        parser.error("--scale and --reps must be positive")

    async def both() -> dict[str, dict[str, Any]]:
        return {mode: await measure(mode, scale, reps) for mode in ("parallel", "sequential")}

    results = asyncio.run(both())
    headers = ["mode", "who", "first chunk ms", "bound", "over", "last chunk ms", "bound", "over", "result ms"]
    rows = []
    for mode, r in results.items():
        for who in ("akis", "handwritten"):
            rows.append([mode, who, r[f"{who}_first_ms"], r["first_chunk_bound_ms"], r[f"{who}_first_over_bound_ms"],
                         r[f"{who}_last_ms"], r["last_chunk_bound_ms"], r[f"{who}_last_over_bound_ms"],
                         r[f"{who}_result_ms"]])
    print(table(headers, rows, f"Seed scenario at scale 1/{scale:g}, median of {reps} runs (ms from the call)"))
    speedup = results["sequential"]["akis_result_ms"] / results["parallel"]["akis_result_ms"]
    parallel = results["parallel"]  # the targets are for the parallel flow (sequential is the "before")
    first_met = parallel["akis_first_over_bound_ms"] <= FIRST_CHUNK_SLACK_MS
    last_met = parallel["akis_last_over_bound_ms"] <= LAST_CHUNK_SLACK_MS
    met = first_met and last_met
    print(
        f"\nparallel is {speedup:.2f}x faster than sequential. Targets (parallel): first chunk within "
        f"{FIRST_CHUNK_SLACK_MS:g} ms, last within {LAST_CHUNK_SLACK_MS:g} ms of the bound: "
        f"{'met' if met else 'MISSED'}"
    )
    emit({"benchmark": "seed", "tiny": args.tiny, "scale": scale, "reps": reps, "modes": results,
          "speedup": speedup, "first_target_met": first_met, "last_target_met": last_met, "target_met": met,
          **machine()})


if __name__ == "__main__":
    main()
