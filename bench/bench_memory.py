"""Memory of streamed runs: RSS per run in flight, and RSS after many finished runs.

    python bench/bench_memory.py [--tiny] [--in-flight N] [--batches B]

The seed scenario (times / 10, so a run stays in flight about 90 ms), each run consumed through
``engine.stream`` as a streaming client does. RSS is read from ``/proc/self/statm`` after a full
collection. In flight: N runs started at once, measured when every one has streamed its first
chunk (so each holds its plan state, its events and its model stream); per run is the growth
over the idle process, divided by N. Finished: B batches of N runs one after the other, each
with a fresh conversation store (what the engine keeps, not the conversations); RSS after each
batch. The engine's own bounded memories fill up first (the in-memory metrics sink keeps the last
100,000 node rows, about 12,500 seed runs; the background runner remembers its last 10,000
jobs), so the bound is read over the last third of the batches: no growth there means none
beyond what those caps hold.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, table
from _seedflow import PARALLEL, scaled_document

from runtime import Engine, load_flow
from runtime.events import MESSAGE_CHUNK, RUN_FINISHED
from runtime.services import MemoryConversationStore

MESSAGE = "I need a pallet jack for a small warehouse"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    gc.collect()
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


async def streamed(engine: Engine, flow: Any, session: str, first: asyncio.Event | None = None,
                   firsts: list[int] | None = None, total: int = 0) -> None:
    status = None
    async for event in engine.stream(flow, {"user_message": MESSAGE, "session_id": session}):
        if event.event == MESSAGE_CHUNK and firsts is not None and first is not None and event.seq == 0:
            firsts[0] += 1
            if firsts[0] == total:
                first.set()
        elif event.event == RUN_FINISHED:
            status = event.status
    if status != "succeeded":
        raise RuntimeError(f"a streamed seed run ended {status}")


async def measure(in_flight: int, batches: int) -> dict[str, Any]:
    flow = load_flow(scaled_document(PARALLEL, 10))
    engine = Engine()
    engine.services.conversations = MemoryConversationStore()
    await asyncio.gather(*(streamed(engine, flow, f"w{i}") for i in range(20)))  # plan compiled, imports done
    idle = rss_mb()
    first, firsts = asyncio.Event(), [0]
    engine.services.conversations = MemoryConversationStore()
    runs = [asyncio.ensure_future(streamed(engine, flow, f"f{i}", first, firsts, in_flight)) for i in range(in_flight)]
    await asyncio.wait_for(first.wait(), 120)
    busy = rss_mb()
    await asyncio.gather(*runs)
    after: list[float] = []
    for b in range(batches):
        engine.services.conversations = MemoryConversationStore()
        await asyncio.gather(*(streamed(engine, flow, f"b{b}-{i}") for i in range(in_flight)))
        engine.services.conversations = MemoryConversationStore()  # the batch's conversations let go
        after.append(rss_mb())
    return {"idle_mb": idle, "in_flight_mb": busy, "kb_per_run_in_flight": (busy - idle) * 1024 / in_flight,
            "after_batches_mb": after, "finished_runs": in_flight * batches,
            "growth_last_third_mb": after[-1] - after[-1 - max(1, len(after) // 3)] if len(after) > 1 else 0.0,
            "last_third_runs": in_flight * max(1, len(after) // 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="100 in flight, 3 batches (smoke test)")
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    in_flight, batches = (100, 3) if args.tiny else (args.in_flight, args.batches)
    r = asyncio.run(measure(in_flight, batches))
    rows = [["idle (after warm-up)", r["idle_mb"]], [f"{in_flight} streamed runs in flight", r["in_flight_mb"]]]
    rows += [[f"after {in_flight * (b + 1)} finished runs", mb] for b, mb in enumerate(r["after_batches_mb"])]
    print(table(["when", "RSS MB"], rows, "seed scenario at times/10, each run read through engine.stream"))
    print(f"\n{r['kb_per_run_in_flight']:.1f} KB per streamed run in flight; RSS growth over the last "
          f"{r['last_third_runs']} of {r['finished_runs']} finished runs: {r['growth_last_third_mb']:+.2f} MB")
    emit({"benchmark": "memory", "tiny": args.tiny, "in_flight": in_flight, "batches": batches, **r, **machine()})


if __name__ == "__main__":
    main()
