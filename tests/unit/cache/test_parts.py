"""The small parts: entry codec, in-process tier, breaker, deadlines, slots, single-flight."""
from __future__ import annotations

import asyncio
import logging
import os

import pytest

from runtime.cache.breaker import CircuitBreaker
from runtime.cache.codec import COMPRESS_ABOVE, NotCacheable, decode, decode_local, encode, encode_local
from runtime.cache.deadline import Deadlines
from runtime.cache.flight import SingleFlight
from runtime.cache.tiers.base import CacheTier
from runtime.cache.tiers.memory_tier import MemoryTier


def test_codec_round_trip_and_compression() -> None:
    value = {"text": "Transpalet arıyorum 🚜", "n": [1, 2.5, None, True], "big": 2**70}
    entry = decode(encode(value, {"products": 7}, 60))
    assert entry is not None and entry.value == value and entry.tags == {"products": 7}
    assert 58 <= entry.ttl_left() <= 60
    assert decode_local(encode_local(entry)).value == value
    large = {"blob": "abc" * COMPRESS_ABOVE}
    raw = encode(large, {}, 60)
    assert raw[:1] == b"Z" and len(raw) < COMPRESS_ABOVE
    assert decode(raw).value == large  # type: ignore[union-attr]


def test_codec_refuses_what_json_cannot_hold_and_reads_garbage_as_a_miss() -> None:
    import datetime

    for value in ({"when": datetime.datetime.now()}, {"s": {1, 2}}, {"b": b"x"}):
        with pytest.raises(NotCacheable):
            encode(value, {}, 60)
    for raw in (b"", b"X{}", b"J{not json", b"Zgarbage", b'J{"v":1}'):
        assert decode(raw) is None


async def test_memory_tier_lru_bounds_entries_and_bytes() -> None:
    tier = MemoryTier(max_entries=3, max_bytes=100)
    for key in "abc":
        assert await tier.set(key, b"x" * 10, 60)
    await tier.get("a")  # a is now the most recent
    await tier.set("d", b"x" * 10, 60)
    assert await tier.get("b") is None and await tier.get("a") is not None and len(tier) == 3
    await tier.set("e", b"y" * 90, 60)  # pushes out by bytes
    assert tier.bytes <= 100 and await tier.get("e") == b"y" * 90
    assert not await tier.set("huge", b"z" * 101, 60) and await tier.get("huge") is None


async def test_memory_tier_ttl_add_incr_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    tier = MemoryTier()
    now = [1000.0]
    monkeypatch.setattr("runtime.cache.tiers.memory_tier.time.monotonic", lambda: now[0])
    await tier.set("k", b"v", 5)
    now[0] += 4.9
    assert await tier.get("k") == b"v"
    now[0] += 0.2
    assert await tier.get("k") is None and tier.bytes == 0
    assert await tier.incr("n") is None
    assert await tier.add("n", b"41", None) is True and await tier.add("n", b"0", None) is False
    assert await tier.incr("n") == 42 and await tier.get_many(["n", "missing"]) == [b"42", None]
    assert await tier.delete("n") and not await tier.delete("n")


def test_breaker_logs_once_per_outage_and_probes(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    monkeypatch.setattr("runtime.cache.breaker.time.monotonic", lambda: now[0])
    outages: list[str] = []
    breaker = CircuitBreaker("redis", retry_after_s=5, on_outage=outages.append)
    caplog.set_level(logging.INFO, "runtime.cache")
    assert breaker.allow()
    breaker.failure(ConnectionRefusedError("refused"))
    breaker.failure(ConnectionRefusedError("refused"))
    assert breaker.is_open and not breaker.allow()
    now[0] = 5.0
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.failure(TimeoutError())  # the probe failed: same outage, no new warning
    now[0] = 10.0
    assert breaker.allow()
    breaker.success()
    assert not breaker.is_open and breaker.outages == 1 and outages == ["redis"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "redis" in warnings[0].getMessage()
    assert any("is back" in r.getMessage() for r in caplog.records)


class HangingTier(CacheTier):
    name = "hanging"

    async def _get(self, key: str) -> bytes | None:
        await asyncio.sleep(3600)
        return None


async def test_a_hanging_call_is_cut_by_the_deadline_and_the_tier_bypassed() -> None:
    tier = HangingTier(timeout_s=0.05, retry_after_s=60)
    assert await asyncio.wait_for(tier.get("k"), 2) is None
    assert tier.breaker.is_open and tier.breaker.outages == 1
    assert await tier.get("k") is None  # bypassed at once
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # our cancellation was absorbed


async def test_an_outer_cancellation_is_not_an_outage() -> None:
    tier = HangingTier(timeout_s=5)
    call = asyncio.ensure_future(tier.get("k"))
    await asyncio.sleep(0.01)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert not tier.breaker.is_open and tier.breaker.outages == 0
    tier.deadlines.close()


async def test_deadlines_watchdog_stops_when_idle() -> None:
    deadlines = Deadlines(0.04)
    task = deadlines.enter()
    deadlines.leave(task)
    await asyncio.sleep(0.05)
    assert deadlines._watchdog is None


class GatedTier(CacheTier):
    name = "gated"

    def __init__(self) -> None:
        super().__init__(timeout_s=5, max_concurrency=1)
        self.gate = asyncio.Event()
        self.calls = 0

    async def _get(self, key: str) -> bytes | None:
        self.calls += 1
        await self.gate.wait()
        return key.encode()


async def test_calls_wait_for_a_slot_and_a_cancelled_waiter_passes_it_on() -> None:
    tier = GatedTier()
    first = asyncio.ensure_future(tier.get("a"))
    second = asyncio.ensure_future(tier.get("b"))
    third = asyncio.ensure_future(tier.get("c"))
    await asyncio.sleep(0.01)
    assert tier.calls == 1  # one slot: the others wait for it
    tier.gate.set()
    second.cancel()  # woken with the slot but cancelled before it resumes: the slot goes on to third
    assert await asyncio.wait_for(first, 1) == b"a" and await asyncio.wait_for(third, 1) == b"c"
    assert second.cancelled() and not tier.breaker.is_open
    assert await tier.get("d") == b"d"  # and no slot was lost
    await tier.close()


async def test_single_flight_shares_results_and_errors() -> None:
    flight: SingleFlight[int] = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 42

    results = await asyncio.gather(*(flight.run("k", work) for _ in range(50)))
    assert calls == 1 and [r for r, _ in results] == [42] * 50
    assert sum(1 for _, leader in results if leader) == 1 and len(flight) == 0

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise ValueError("upstream failed")

    outcomes = await asyncio.gather(*(flight.run("k", boom) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, ValueError) for o in outcomes)


async def test_single_flight_followers_retry_when_the_leader_is_cancelled() -> None:
    flight: SingleFlight[str] = SingleFlight()
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await asyncio.sleep(3600)
        return "never"

    async def quick() -> str:
        return "mine"

    leader = asyncio.ensure_future(flight.run("k", slow))
    await started.wait()
    follower = asyncio.ensure_future(flight.run("k", quick))
    await asyncio.sleep(0)
    leader.cancel()
    assert await asyncio.wait_for(follower, 1) == ("mine", True)


def test_an_unbounded_memory_tier_never_evicts() -> None:
    tier = MemoryTier(max_entries=None, max_bytes=None)
    for i in range(1000):
        tier.set_now(f"k{i}", os.urandom(8), None)
    assert len(tier) == 1000
