"""The warm-up round claimed in Redis: of several schedulers sharing a key, one warms a round,
the others skip it; the claim lapses before the next round; Redis away means warming anyway."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any

from runtime.cache.warmup import RedisRoundLock, WarmupScheduler, cluster_round_lock
from runtime.redis_clients import RedisTimeouts
from runtime.settings import AkisSettings
from tests.redis_keys import delete_prefix

from .flows import pallet_flow


class Counting:
    def __init__(self) -> None:
        self.runs = 0

    async def run(self, flow: Any, inputs: dict[str, Any], warmup: bool = False) -> None:
        assert warmup
        self.runs += 1


def scheduler(lock: RedisRoundLock, engine: Counting, interval_s: float = 3600.0) -> WarmupScheduler:
    async def flows() -> list[Any]:
        return [pallet_flow()]

    return WarmupScheduler(interval_s, flows, engine_factory=lambda cache: engine, default_tenant="2", lock=lock)


async def test_one_of_three_instances_warms_a_round(redis_url: str) -> None:
    prefix = f"test-warm-{uuid.uuid4().hex[:8]}:"
    engines = [Counting() for _ in range(3)]
    locks = [RedisRoundLock(redis_url, prefix + "round", f"instance-{n}") for n in range(3)]
    schedulers = [scheduler(lock, engine) for lock, engine in zip(locks, engines, strict=True)]
    try:
        reports = [await s.run_once() for s in schedulers]
        assert [r is not None for r in reports] == [True, False, False]
        assert [e.runs for e in engines] == [2, 0, 0]  # the flow's two warm-up inputs, on one instance
        assert [s.status()["rounds"] for s in schedulers] == [1, 0, 0]
        assert [s.status()["skipped"] for s in schedulers] == [0, 1, 1]
        assert await locks[0].holder_now() == "instance-0"
        ttl_ms = await locks[0].client.pttl(prefix + "round")
        assert 0 < ttl_ms <= 3600 * 1000 * 0.9  # lapses before the next round is due
    finally:
        for s in schedulers:
            await s.stop()
        await delete_prefix(redis_url, prefix)


async def test_the_claim_lapses_so_a_later_round_runs_again(redis_url: str) -> None:
    prefix = f"test-warm-{uuid.uuid4().hex[:8]}:"
    lock = RedisRoundLock(redis_url, prefix + "round", "only")
    try:
        assert await lock.claim(0.05)
        assert not await lock.claim(0.05)
        while await lock.holder_now() is not None:  # noqa: ASYNC110 - waits for Redis's expiry, no event
            await asyncio.sleep(0.01)
        assert await lock.claim(0.05)
    finally:
        await lock.aclose()
        await delete_prefix(redis_url, prefix)


async def test_redis_away_warms_anyway() -> None:
    engine = Counting()
    lock = RedisRoundLock("redis://127.0.0.1:9/0", "away:round", "me", RedisTimeouts(0.2, 0.2))  # nothing on 9
    warm = scheduler(lock, engine)
    try:
        assert await warm.run_once() is not None and engine.runs == 2
    finally:
        await warm.stop()


def test_the_round_is_shared_only_with_a_shared_cache_tier() -> None:
    assert cluster_round_lock(AkisSettings(_env_file=None, redis_url="")) is None
    memory_only = AkisSettings(_env_file=None, redis_url="redis://127.0.0.1:6379/0", cache_tiers="memory")
    assert cluster_round_lock(memory_only) is None  # each process's own memory tier needs its own warm-up
    shared = AkisSettings(_env_file=None, redis_url="redis://127.0.0.1:6379/0", cache_tiers="memory,redis",
                          cache_prefix="p:")
    lock = cluster_round_lock(shared)
    assert lock is not None and lock.key == "p:akis:warmup:round"
