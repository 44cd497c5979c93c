"""SSRF through http_request: bodies too large to hold are streamed and stopped at the cap
(endless, over-declared, decompression bombs, slow drips), and allowed loopback still works."""
from __future__ import annotations

import asyncio
import time
import tracemalloc

import pytest

from runtime import Engine, Services
from runtime.net.fetch import BodyTooLarge, fetch
from tests.hostile.ssrf_helpers import MiB, Server, bomb, http_flow


# --- bodies: streamed, and stopped at the cap ----------------------------------------------------
async def test_an_endless_body_stops_at_the_cap_quickly_and_in_bounded_memory(server: Server):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        result = await engine.run(http_flow(f"http://127.0.0.1:{server.port}/forever"), {"user_message": "hi"})
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "failed" and "passed the 2,097,152-byte limit; stopped reading" in result.error
    assert elapsed < 5
    assert peak < 8 * MiB, f"peak {peak:,} bytes for a 2 MiB cap"
    assert await asyncio.to_thread(server.hung_up.wait, 5)  # the client hung up: the server stopped sending
    assert server.sent < 32 * MiB


async def test_a_declared_length_over_the_cap_is_refused_before_reading(server: Server):
    t0 = time.perf_counter()
    with pytest.raises(BodyTooLarge, match="104,857,600 bytes, over the 2,097,152-byte limit"):
        await fetch("GET", f"http://127.0.0.1:{server.port}/declared", allowed=["127.0.0.1"])
    assert time.perf_counter() - t0 < 2  # the server would need 5 s to send its trickle


async def test_a_decompression_bomb_stops_at_the_cap(server: Server):
    assert len(bomb()) < 256 * 1024  # made before measuring
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge, match="limit"):
            await fetch("GET", f"http://127.0.0.1:{server.port}/bomb", allowed=["127.0.0.1"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"peak {peak:,} bytes inflating a 64 MiB bomb"


async def test_a_slow_drip_is_bounded_by_the_timeout(server: Server):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    t0 = time.perf_counter()
    result = await engine.run(http_flow(f"http://127.0.0.1:{server.port}/drip", timeout_s=1), {"user_message": "hi"})
    assert result.status == "failed" and "timed out after 1 s" in result.error
    assert time.perf_counter() - t0 < 3


# --- the happy path ------------------------------------------------------------------------------
async def test_allowed_loopback_still_works(server: Server):
    engine = Engine(services=Services(http_allow_hosts=("127.0.0.1",)))
    base = f"http://127.0.0.1:{server.port}"
    result = await engine.run(http_flow(base + "/json", method="POST", body={"q": "{{ user_message }}"}),
                              {"user_message": "hi"})
    assert result.status == "succeeded", result.error
    assert result.output["resp"]["json"]["body"] == '{"q":"hi"}'
    result = await engine.run(http_flow(base + "/gzip"), {"user_message": "hi"})
    assert result.output["resp"] == {"status": 200, "json": {"zipped": True}}
    result = await engine.run(http_flow(base + "/text"), {"user_message": "hi"})
    assert result.output["resp"] == {"status": 200, "text": "çay, şeker"}
