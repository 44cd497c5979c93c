"""Chunk delivery latency from the provider to a subscriber, and the seed scenario's time to
first chunk as a channel subscriber sees it.

    python bench/bench_streaming.py [--tiny] [--chunks N] [--rounds R] [--redis URL]

Latency: the mock provider streams N chunks (paced, 2 ms apart); each chunk is stamped with
``perf_counter`` as the provider yields it and timed again when the subscriber receives it.
Three paths run interleaved, in a rotating order, in the same process: a direct
``asyncio.Queue`` (the floor: one hop on the event loop), the in-process ``ChannelHub`` and the
Redis hub (``XADD`` pipelined by the writer task, ``XREAD BLOCK`` by the subscriber). p50/p99
are reported with their ratios to the queue's.

Seed: the seed scenario (examples/seed_scenario.json, mock provider) runs with the engine
publishing to each hub; a subscriber notes when the first ``message.chunk`` arrives, from the
call. The bound is the flow's critical path (0.875 s at scale 1). ``Engine.stream`` (the
engine's own listener, no hub) runs interleaved as the reference.

Redis is used when ``--redis`` or ``AKIS_REDIS_URL`` is given, or found on 127.0.0.1:6379.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import emit, machine, median, percentile, rotated, table
from _seedflow import PARALLEL, scaled_document, seed_spec

from runtime import Engine, load_flow
from runtime.channels import ChannelHub, channel_name
from runtime.events import MESSAGE_CHUNK, RUN_FINISHED, Event
from runtime.ports import LLMRequest, Usage
from runtime.providers.mock import MockProvider

GAP_MS = 2.0  # between provider chunks: latency, not a burst's queueing, is what is measured
MESSAGE = "I need a pallet jack for a small warehouse"


def default_redis() -> str | None:
    url = os.environ.get("AKIS_REDIS_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.3):
            return "redis://127.0.0.1:6379/0"
    except OSError:
        return None


# --- latency: provider -> subscriber -------------------------------------------------------------
async def provider_chunks(count: int) -> AsyncIterator[str]:
    request = LLMRequest(model="mock", messages=[{"role": "user", "content": "x"}],
                         options={"text": "ab" * count, "chunks": count, "delay_ms": 0,
                                  "tokens_per_second": 1000 / GAP_MS})
    async for item in MockProvider().stream(request):
        if not isinstance(item, Usage):
            yield item


async def one_round(count: int, deliver: Callable[[Event], None], receive: AsyncIterator[Event]) -> list[float]:
    """Stream ``count`` chunks from the provider into ``deliver``; microseconds per chunk."""
    latencies: list[float] = []

    async def consume() -> None:
        async for event in receive:
            latencies.append((time.perf_counter() - event.extra["sent"]) * 1e6)
            if len(latencies) == count:
                return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.01)  # the subscriber is waiting before the first chunk
    seq = 0
    async for text in provider_chunks(count):
        deliver(Event(MESSAGE_CHUNK, "bench", 0.0, index=seq, node_id="ai", text=text, seq=seq,
                      extra={"sent": time.perf_counter()}))
        seq += 1
    await asyncio.wait_for(consumer, 30.0)
    return latencies


async def queue_path(count: int) -> list[float]:
    queue: asyncio.Queue[Event] = asyncio.Queue()

    async def receive() -> AsyncIterator[Event]:
        while True:
            yield await queue.get()

    return await one_round(count, queue.put_nowait, receive())


def hub_path(hub: Any) -> Callable[[int], Awaitable[list[float]]]:
    async def run(count: int) -> list[float]:
        channel = channel_name("bench", uuid.uuid4().hex)
        stream = hub.subscribe(channel, after=await hub.cursor(channel))
        try:
            return await one_round(count, lambda e: hub.publish(channel, e), stream)
        finally:
            await stream.aclose()

    return run


async def latency(count: int, rounds: int, redis_url: str | None) -> dict[str, dict[str, float]]:
    hubs: dict[str, Any] = {"channel hub (in-process)": ChannelHub()}
    if redis_url:
        from runtime.channels.redis_hub import RedisChannelHub

        hubs["channel hub (Redis)"] = RedisChannelHub(redis_url, prefix=f"akis-bench-{uuid.uuid4().hex[:8]}:")
    paths: dict[str, Callable[[int], Awaitable[list[float]]]] = {"asyncio.Queue (direct)": queue_path}
    paths.update({name: hub_path(hub) for name, hub in hubs.items()})
    samples: dict[str, list[float]] = {name: [] for name in paths}
    try:
        for path in paths.values():  # warm-up: connections, scripts loaded, code paths hot
            await path(min(count, 20))
        for step in range(rounds):
            for name in rotated(list(paths), step):
                samples[name] += await paths[name](count)
    finally:
        for hub in hubs.values():
            await hub.aclose()
    return {
        name: {"p50_us": percentile(v, 50), "p99_us": percentile(v, 99), "n": len(v)} for name, v in samples.items()
    }


# --- the seed scenario's first chunk through a channel -----------------------------------------
async def first_chunk_via(engine: Engine, hub: Any | None, flow: Any, run: int) -> float:
    """ms from the call to the first chunk, as a subscriber of the hub (or Engine.stream) sees it."""
    session = f"seed-{run}-{uuid.uuid4().hex[:6]}"
    inputs = {"user_message": MESSAGE, "session_id": session, "tenant_id": "2"}
    t0 = time.perf_counter()
    first: float | None = None
    if hub is None:
        async for event in engine.stream(flow, inputs, include_background=False):
            if event.event == MESSAGE_CHUNK and first is None:
                first = (time.perf_counter() - t0) * 1000
        assert first is not None
        return first
    channel = channel_name("2", session)
    stream = hub.subscribe(channel, after=await hub.cursor(channel))
    t0 = time.perf_counter()
    handle = engine.start(flow, inputs)
    async for event in stream:
        if event.event == MESSAGE_CHUNK and first is None:
            first = (time.perf_counter() - t0) * 1000
        if event.event == RUN_FINISHED:
            break
    await stream.aclose()
    await handle.result()
    assert first is not None
    return first


async def seed(scale: float, reps: int, redis_url: str | None) -> dict[str, Any]:
    doc = scaled_document(PARALLEL, scale)
    bound = seed_spec(doc).first_chunk_bound_ms
    flow = load_flow(doc)
    hubs: dict[str, Any] = {"Engine.stream (no hub)": None, "channel hub (in-process)": ChannelHub()}
    if redis_url:
        from runtime.channels.redis_hub import RedisChannelHub

        hubs["channel hub (Redis)"] = RedisChannelHub(redis_url, prefix=f"akis-bench-{uuid.uuid4().hex[:8]}:")
    engines = {name: Engine(publisher=hub) for name, hub in hubs.items()}
    times: dict[str, list[float]] = {name: [] for name in hubs}
    try:
        for name in hubs:
            await first_chunk_via(engines[name], hubs[name], flow, -1)  # warm-up: plan, templates
        for rep in range(reps):
            for name in rotated(list(hubs), rep):
                times[name].append(await first_chunk_via(engines[name], hubs[name], flow, rep))
    finally:
        for hub in hubs.values():
            if hub is not None:
                await hub.aclose()
    return {"bound_ms": bound, "first_chunk_ms": {name: median(v) for name, v in times.items()},
            "over_bound_ms": {name: median(v) - bound for name, v in times.items()}}


async def clean(redis_url: str | None) -> None:
    if not redis_url:
        return
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match="akis-bench-*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="few chunks, seed at 1/20 time (smoke test)")
    parser.add_argument("--chunks", type=int, default=None, help="chunks per round (default 500)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per path (default 5)")
    parser.add_argument("--reps", type=int, default=None, help="seed runs per path (default 5)")
    parser.add_argument("--redis", default=None, help="Redis URL (default: AKIS_REDIS_URL or local 6379)")
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    chunks = args.chunks or (40 if args.tiny else 500)
    rounds = args.rounds or (2 if args.tiny else 5)
    reps = args.reps or (2 if args.tiny else 5)
    scale = 20.0 if args.tiny else 1.0
    redis_url = None if args.no_redis else (args.redis or default_redis())

    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            return await latency(chunks, rounds, redis_url), await seed(scale, reps, redis_url)
        finally:
            await clean(redis_url)

    lat, seeded = asyncio.run(both())
    base = lat["asyncio.Queue (direct)"]
    rows = [[name, r["p50_us"], r["p99_us"], r["p50_us"] / base["p50_us"], r["p99_us"] / base["p99_us"], r["n"]]
            for name, r in lat.items()]
    print(table(["path", "p50 us", "p99 us", "p50 / queue", "p99 / queue", "chunks"], rows,
                f"Chunk delivery, provider -> subscriber ({chunks} chunks x {rounds} rounds, {GAP_MS:g} ms apart)"))
    print()
    seed_rows = [
        [name, ms, seeded["bound_ms"], seeded["over_bound_ms"][name]] for name, ms in seeded["first_chunk_ms"].items()
    ]
    print(table(["subscriber", "first chunk ms", "bound ms", "over bound ms"], seed_rows,
                f"Seed scenario at scale 1/{scale:g}: time to first chunk, median of {reps} runs"))
    if not redis_url:
        print("\n(no Redis: the Redis rows were skipped)")
    emit({
        "benchmark": "streaming", "tiny": args.tiny, "chunks": chunks, "rounds": rounds, "gap_ms": GAP_MS,
        "latency": lat,
        "ratio_p50": {name: r["p50_us"] / base["p50_us"] for name, r in lat.items()},
        "ratio_p99": {name: r["p99_us"] / base["p99_us"] for name, r in lat.items()},
        "seed": {"scale": scale, "reps": reps, **seeded}, "redis": bool(redis_url), **machine(),
    })


if __name__ == "__main__":
    main()
