"""A tier that refuses connections or hangs is bypassed: runs complete, one warning per outage,
outages counted. The hanging servers are our own processes, paused with SIGSTOP."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.cache import build_cache
from runtime.ports import CachePolicy
from runtime.settings import AkisSettings
from tests.conftest import port_open, require
from tests.processes import free_port, stop_process

TIMEOUT_S = 0.2
MARGIN_S = 1.5  # scheduling slack on a busy machine; a hang would take far longer
BOUND_S = TIMEOUT_S * 1.25 + MARGIN_S  # the watchdog notices after 1 to 1.25 timeouts




def start_server(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", port, 0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"could not start {argv[0]} on port {port}")
        time.sleep(0.05)
    return process


def pause(process: subprocess.Popen[bytes]) -> None:
    """SIGSTOP, then wait until every thread is really stopped (delivery is asynchronous)."""
    os.kill(process.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states = []
        for task in os.listdir(f"/proc/{process.pid}/task"):
            with open(f"/proc/{process.pid}/task/{task}/stat") as stat:
                states.append(stat.read().rsplit(")", 1)[1].split()[0])
        if all(state in ("T", "t") for state in states):
            return
        time.sleep(0.005)
    pytest.fail(f"process {process.pid} did not stop")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGCONT)
    stop_process(process, 5)


@pytest.fixture
def own_redis() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server binary")
    port = free_port()
    process = start_server(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], port
    )  # type: ignore[list-item]
    yield process, f"redis://127.0.0.1:{port}/0"
    stop_server(process)


@pytest.fixture
def own_memcached() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    binary = shutil.which("memcached")
    require(binary is not None, "memcached binary")
    port = free_port()
    argv = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"]  # type: ignore[list-item]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    process = start_server(argv, port)
    yield process, f"127.0.0.1:{port}"
    stop_server(process)


def make(tiers: str, redis_url: str = "", memcached: str = "", retry_after_s: float = 60.0) -> Any:
    settings = AkisSettings(
        cache_tiers=tiers, redis_url=redis_url, memcached=memcached, cache_timeout_s=TIMEOUT_S, cache_prefix="faults:"
    )
    return build_cache(settings, retry_after_s=retry_after_s)


def policy(query: str, tags: tuple[str, ...] = ()) -> CachePolicy:
    return CachePolicy(ttl=60, key_fields={"query": query}, tags=tags)


async def compute() -> dict[str, Any]:
    return {"products": ["TP-2500"]}


async def bounded(call: Any) -> Any:
    """Fails the test (rather than hanging it) if a down tier is not bypassed in time."""
    return await asyncio.wait_for(call, BOUND_S)


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "runtime.cache"]


async def test_closed_ports_are_bypassed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "runtime.cache")
    closed = free_port()
    cache = make("memory,redis,memcached", f"redis://127.0.0.1:{closed}/0", f"127.0.0.1:{closed}")
    try:
        for i in range(20):
            assert await bounded(cache.get_or_compute(2, "product_search", policy(f"q{i % 5}"), compute)) == (
                {"products": ["TP-2500"]}, i >= 5
            )  # the memory tier still caches
        tagged = [await bounded(cache.get_or_compute(2, "product_search", policy("t", ("products",)), compute))
                  for _ in range(3)]
        assert all(not hit for _, hit in tagged)  # versions live in Redis: unverifiable means miss
        assert not await cache.invalidate(2, ["products"])  # reported, not raised
        assert sorted(w.split(" ")[2] for w in warnings_in(caplog)) == ["memcached", "redis"]
        stats = await cache.stats()
        assert stats["outages"] == {"memcached": 1, "redis": 1}
        assert {name: s["outages"] for name, s in cache.health().items()} == {"memory": 0, "redis": 1, "memcached": 1}
    finally:
        await cache.close()


async def test_redis_paused_with_sigstop(own_redis: tuple[subprocess.Popen[bytes], str],
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "runtime.cache")
    process, url = own_redis
    cache = make("memory,redis", redis_url=url, retry_after_s=0.5)
    try:
        await cache.get_or_compute(2, "product_search", policy("warm"), compute)
        pause(process)
        start = time.monotonic()
        assert await bounded(cache.get_or_compute(2, "product_search", policy("new"), compute)) == (
            {"products": ["TP-2500"]}, False
        )
        assert time.monotonic() - start < BOUND_S
        results = await bounded(asyncio.gather(
            *(cache.get_or_compute(2, "product_search", policy(f"q{i}"), compute) for i in range(50))
        ))
        assert len(results) == 50
        assert await bounded(cache.get_or_compute(2, "product_search", policy("warm"), compute)) == (
            {"products": ["TP-2500"]}, True
        )  # served by the memory tier meanwhile
        assert len(warnings_in(caplog)) == 1 and "redis" in warnings_in(caplog)[0]
        assert (await bounded(cache.stats()))["outages"] == {"redis": 1}

        os.kill(process.pid, signal.SIGCONT)
        await asyncio.sleep(0.6)  # past retry_after: the next call is a probe
        await bounded(cache.get_or_compute(2, "product_search", policy("after"), compute))
        assert cache.health()["redis"]["available"]
        assert any("is back" in r.getMessage() for r in caplog.records)
        assert (await cache.stats())["outages"] == {"redis": 1}  # counted once, now in Redis
    finally:
        os.kill(process.pid, signal.SIGCONT)
        await cache.close()


async def test_memcached_paused_with_sigstop(own_memcached: tuple[subprocess.Popen[bytes], str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "runtime.cache")
    process, address = own_memcached
    cache = make("memcached", memcached=address)
    try:
        await cache.get_or_compute(2, "product_search", policy("warm"), compute)
        assert (await cache.get_or_compute(2, "product_search", policy("warm"), compute))[1]
        pause(process)
        for query in ("warm", "new", "other"):
            assert await bounded(cache.get_or_compute(2, "product_search", policy(query), compute)) == (
                {"products": ["TP-2500"]}, False
            )
        assert len(warnings_in(caplog)) == 1 and "memcached" in warnings_in(caplog)[0]
        assert (await cache.stats())["outages"] == {"memcached": 1}
    finally:
        os.kill(process.pid, signal.SIGCONT)
        await cache.close()


async def test_a_flow_run_completes_while_redis_hangs(own_redis: tuple[subprocess.Popen[bytes], str]) -> None:
    from runtime import Engine

    from .flows import pallet_flow

    process, url = own_redis
    cache = make("memory,redis", redis_url=url)
    flow = pallet_flow()
    try:
        pause(process)
        result = await asyncio.wait_for(
            Engine(cache=cache).run(flow, {"user_message": "Transpalet arıyorum", "tenant_id": "2"}), 10
        )
        assert result.status == "succeeded"
        assert result.nodes["node_3"].cache == "miss"
    finally:
        os.kill(process.pid, signal.SIGCONT)
        await cache.close()
