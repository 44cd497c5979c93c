"""Hostile: Redis stops answering (SIGSTOP) or goes away (its port closed) while runs go on.

Each test starts its own redis-server on a free loopback port (never the system Redis at 6379)
and points channels, cache and job queue at it. Under each fault every run completes with its
whole answer, the time Redis adds to a run stays under ``ADDED_BOUND_S``, the relay says it is
degraded (a warning, a count, the run's stream and result), and when Redis is back the hub
recovers: a subscriber elsewhere follows a run again, and is told what it missed.

The bound: one bounded Redis call at most before the breakers open (connect 0.5 s + reply 1 s,
the defaults), plus scheduling slack on a busy machine; a stall the breakers do not catch
takes as long as the outage (the report: 40 s). Measured figures are printed (``pytest -s``).
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime import Engine
from runtime.cache import build_cache
from runtime.channels import ChannelUnavailable, build_hub, channel_name, collect_run
from runtime.channels.redis_hub import RedisChannelHub
from runtime.events import MESSAGE_CHUNK, Event
from runtime.redis_clients import RedisTimeouts
from runtime.settings import AkisSettings
from tests.conftest import port_open, require
from tests.integration.api.harness import AppServer, chat_flow, sse_events
from tests.processes import free_port, stop_process

ADDED_BOUND_S = 2.5  # per run, over the slowest of the same runs with Redis healthy
RETRY_S = 0.5  # the breakers probe Redis again after this (AKIS_REDIS_RETRY_AFTER_S)
ANSWER = "Transpalet önerisi: TP-2500 🌊 " + " ".join(f"kelime{i}" for i in range(40))
CHUNKS = 30
TENANT = "2"

pytestmark = pytest.mark.timeout(300)


class OwnRedis:
    """A redis-server of this test's own: paused, killed (port closed) and restarted at will."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port, 0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"could not start redis-server on port {self.port}")
            time.sleep(0.05)

    def pause(self) -> None:
        """SIGSTOP, then wait until every thread is really stopped (delivery is asynchronous)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            states = []
            for task in os.listdir(f"/proc/{self.process.pid}/task"):
                with open(f"/proc/{self.process.pid}/task/{task}/stat") as stat:
                    states.append(stat.read().rsplit(")", 1)[1].split()[0])
            if all(state in ("T", "t") for state in states):
                return
            time.sleep(0.005)
        pytest.fail(f"redis-server {self.process.pid} did not stop")

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: connections reset, the port refuses from now on."""
        assert self.process is not None
        self.resume()
        self.process.kill()
        self.process.wait(10)
        assert not port_open("127.0.0.1", self.port, 0.2)

    def stop(self) -> None:
        self.resume()
        stop_process(self.process, 5)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server binary")
    server = OwnRedis(binary)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fault_start(redis: OwnRedis, fault: str) -> None:
    redis.pause() if fault == "SIGSTOP" else redis.kill()


def fault_end(redis: OwnRedis, fault: str) -> None:
    redis.resume() if fault == "SIGSTOP" else redis.start()  # restarted on the same port, empty


def report(what: str, added: list[float]) -> None:
    print(f"\n[redis outage] {what}: added latency per run max {max(added):.3f} s, "
          f"median {statistics.median(added):.3f} s over {len(added)} runs (bound {ADDED_BOUND_S} s)")


# --- the engine with Redis channels and cache -------------------------------------------------

def lookup_flow() -> dict[str, Any]:
    """A cached lookup (product_search), then the streamed answer (mock model, exact chunks)."""
    return {
        "akis": 1, "flow_id": "outage",
        "nodes": [
            {"id": "in", "type": "user_input"},
            {"id": "search", "type": "product_search", "config": {"query": "{{ user_message }}", "limit": 2}},
            {"id": "ai", "type": "ai_response", "config": {"provider": "mock",
                                                            "provider_options": {"text": ANSWER, "chunks": CHUNKS}}},
            {"id": "out", "type": "output"},
        ],
        "edges": [{"source": "in", "target": "search"}, {"source": "search", "target": "ai"},
                  {"source": "ai", "target": "out"}],
        "cache_strategy": {"product_search": {"enabled": True, "ttl": 300, "tags": ["products"]}},
    }


class Runs:
    """Runs as ``POST .../runs`` makes them: ask the hub for the channel's cursor, then run,
    the run's own listener collecting its chunks."""

    def __init__(self, engine: Engine, hub: Any) -> None:
        self.engine, self.hub = engine, hub
        self.flow = lookup_flow()

    async def one(self, started: float | None = None, session: str | None = None) -> dict[str, Any]:
        started = time.monotonic() if started is None else started
        session = session or "s-" + uuid.uuid4().hex[:12]
        channel = channel_name(TENANT, session)
        degraded = False
        try:
            await self.hub.cursor(channel)
        except ChannelUnavailable:
            degraded = True
        chunks: list[Event] = []

        def listen(event: Event) -> None:
            if event.event == MESSAGE_CHUNK:
                chunks.append(event)

        result = await asyncio.wait_for(
            self.engine.run(self.flow, {"user_message": f"transpalet {session}"}, tenant_id=TENANT,
                            session_id=session, on_event=listen), 30)
        return {"elapsed": time.monotonic() - started, "result": result, "degraded": degraded,
                "channel": channel, "text": "".join(c.text or "" for c in chunks),
                "seqs": [c.seq for c in chunks]}

    async def many(self, count: int) -> list[dict[str, Any]]:
        """``count`` runs at once (they meet the stall together), then ``count`` one by one."""
        started = time.monotonic()
        together = list(await asyncio.gather(*(self.one(started) for _ in range(count))))
        return together + [await self.one() for _ in range(count)]


def complete(run: dict[str, Any]) -> bool:
    return (run["result"].status == "succeeded" and run["result"].answer == ANSWER == run["text"]
            and run["seqs"] == list(range(CHUNKS)))


def relay_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "runtime.channels" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("fault", ["SIGSTOP", "closed port"])
async def test_runs_go_on_and_the_relay_recovers(fault: str, own_redis: OwnRedis,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    token = uuid.uuid4().hex[:8]
    settings = AkisSettings(redis_url=own_redis.url, cache_tiers="memory,redis", cache_prefix=f"h{token}:",
                            redis_retry_after_s=RETRY_S)
    hub = build_hub(settings)
    cache = build_cache(settings)
    elsewhere = RedisChannelHub(own_redis.url, retry_after_s=RETRY_S)  # another process's hub
    runs = Runs(Engine(cache=cache, publisher=hub), hub)
    try:
        healthy = await runs.many(3)
        assert all(complete(r) and not r["degraded"] for r in healthy)
        baseline = max(r["elapsed"] for r in healthy)
        channel = channel_name(TENANT, "before")
        listener = asyncio.ensure_future(
            collect_run(elsewhere.subscribe(channel, after=await elsewhere.cursor(channel)))
        )
        await runs.engine.run(runs.flow, {"user_message": "x"}, tenant_id=TENANT, session_id="before")
        assert (await asyncio.wait_for(listener, 10)).text() == ANSWER  # the relay works

        fault_start(own_redis, fault)
        down = await runs.many(4)
        added = [r["elapsed"] - baseline for r in down]
        report(f"engine, {fault}", added)
        assert all(complete(r) for r in down)  # the whole answer, every chunk, to the run's own listener
        assert max(added) < ADDED_BOUND_S
        assert sum(r["degraded"] for r in down) >= len(down) - 1 and not hub.available
        assert hub.breaker.outages == 1 and hub.health()["outages"] == 1
        warnings = relay_warnings(caplog)
        assert len(warnings) == 1 and "channel relay" in warnings[0] and "runs go on" in warnings[0], warnings
        await asyncio.wait_for(hub.flush(), 5)
        assert hub.dropped > 0
        last = down[-1]  # with the breaker open all along: none of its events went out
        assert hub.lost(last["channel"], last["result"].run_id) > 0
        started = time.monotonic()
        with pytest.raises(ChannelUnavailable):  # a subscriber elsewhere is told, within the bound
            await elsewhere.cursor(channel)
        assert time.monotonic() - started < ADDED_BOUND_S

        fault_end(own_redis, fault)
        await asyncio.sleep(RETRY_S + 0.2)
        channel = channel_name(TENANT, "after")
        after = await elsewhere.cursor(channel)  # its probe
        listener = asyncio.ensure_future(collect_run(elsewhere.subscribe(channel, after=after)))
        back = await runs.one(session="after")  # the hub's probe is this run's cursor
        assert complete(back) and not back["degraded"]
        seen = await asyncio.wait_for(listener, 10)
        assert seen.text() == ANSWER and seen.missing() == {} and seen.lost == 0  # the relay is back
        assert hub.available and hub.lost(last["channel"], last["result"].run_id) == 0  # its note is written
        assert any("channel relay" in r.getMessage() and "is back" in r.getMessage() for r in caplog.records)
        told = await asyncio.wait_for(collect_run(elsewhere.subscribe(last["channel"], after=0)), 10)
        assert told.lost > 0 and told.finished is None  # not a shorter answer in silence
        assert told.events[-1].event == "relay.degraded" and told.events[-1].extra["finished_lost"] is True
    finally:
        own_redis.resume()
        await hub.aclose()
        await elsewhere.aclose()
        await cache.close()


async def test_background_jobs_fail_fast_while_redis_is_paused(own_redis: OwnRedis) -> None:
    """The arq queue has socket timeouts too: a job that cannot be queued fails within one
    bounded call, the run that made it returns at once, and the queue works again after."""
    from storage.jobs import ArqRunner
    from tests.integration.channels.flows import parallel_join_flow
    from tests.integration.storage.jobs_helpers import RedisNames, save_job

    names = RedisNames(own_redis.url)
    timeouts = RedisTimeouts(0.5, 1.0)
    runner = ArqRunner(own_redis.url, queue_name=names.queue, poll_interval_s=0.05, timeouts=timeouts)
    engine = Engine(background=runner)
    try:
        runner.submit(save_job(names.run_id(0), 0))
        assert await runner.drain(5) == 0  # queued
        own_redis.pause()
        started = time.monotonic()
        result = await asyncio.wait_for(engine.run(parallel_join_flow("ok"), {"user_message": "hi"}), 10)
        returned = time.monotonic() - started
        assert result.status == "succeeded" and result.output == {"answer": "ok"}
        outcome = await asyncio.wait_for(result.background[0], 10)
        failed_after = time.monotonic() - started
        print(f"\n[redis outage] jobs, SIGSTOP: run returned after {returned:.3f} s, its background job "
              f"failed after {failed_after:.3f} s (socket timeout {timeouts.socket_s} s)")
        assert outcome.status == "failed" and "not queued" in (outcome.error or "")
        assert returned < ADDED_BOUND_S and failed_after < timeouts.call_s + ADDED_BOUND_S
        own_redis.resume()
        runner.submit(save_job(names.run_id(1), 1))
        assert await runner.drain(5) == 0  # queued again
    finally:
        own_redis.resume()
        await runner.aclose()


# --- the app over HTTP ---------------------------------------------------------------------------

async def test_the_app_answers_through_both_faults(own_redis: OwnRedis, tmp_path: Path) -> None:
    """``python app.py`` with channels, cache and jobs on our Redis: JSON and SSE runs while it
    is paused, then while its port is closed, each followed by its recovery."""
    from storage.db import init_db
    from storage.repos.tokens import create_token

    database_url = f"sqlite:///{tmp_path / 'akis.db'}"
    database = init_db(database_url, seed_demo=False)
    _, token = database.call(create_token, TENANT, "outage")
    database.dispose()
    server = AppServer(tmp_path, env={"AKIS_DATABASE_URL": database_url, "AKIS_REDIS_URL": own_redis.url,
                                      "AKIS_RUN_MODE": "inline",  # no worker here: the app runs its runs
                                      "AKIS_CACHE_TIERS": "memory,redis",
                                      "AKIS_REDIS_RETRY_AFTER_S": str(RETRY_S)}).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=60) as client:
            created = await client.post("/api/flows", json=chat_flow("outage", text=ANSWER, chunks=CHUNKS))
            assert created.status_code == 201, created.text
            for _ in range(2):  # warm: the first runs of a process pay for imports and caches
                await json_run(client)
            healthy_json = [await json_run(client) for _ in range(3)]
            healthy_sse = [await sse_run(client) for _ in range(3)]
            assert all(r["body"]["relay"] == "ok" for r in healthy_json)
            assert all(r["header"] == "ok" and not r["told"] for r in healthy_sse)
            baseline = {"json": max(r["elapsed"] for r in healthy_json), "sse": max(r["elapsed"] for r in healthy_sse)}
            await relay_works(client)

            for fault in ("SIGSTOP", "closed port"):
                fault_start(own_redis, fault)
                down_json = list(await asyncio.gather(*(json_run(client) for _ in range(4))))  # meet the stall
                down_json += [await json_run(client) for _ in range(2)]
                down_sse = [await sse_run(client) for _ in range(3)]
                added = [r["elapsed"] - baseline["json"] for r in down_json]
                added += [r["elapsed"] - baseline["sse"] for r in down_sse]
                report(f"app over HTTP, {fault} (JSON and SSE runs)", added)
                assert max(added) < ADDED_BOUND_S
                for run in down_json:
                    assert run["body"]["status"] == "succeeded" and run["body"]["answer"] == ANSWER
                    assert run["body"]["relay"] == "degraded"
                for run in down_sse:
                    assert run["text"] == ANSWER and run["seqs"] == list(range(CHUNKS))  # every chunk
                    assert run["finished"]["status"] == "succeeded" and len(run["told"]) == 1  # relay.degraded
                    assert run["header"] == "degraded"
                    assert f":{own_redis.port}" not in str(run["told"])  # no infrastructure address to clients
                resumed = await resume(client, down_sse[-1]["run_id"], after=5)  # from this process's copy
                assert resumed[-1].event == "run.finished" and all(int(e.id) > 5 for e in resumed if e.id)
                assert [e.data["text"] for e in resumed if e.event == "message.chunk"] == [
                    e.data["text"] for e in down_sse[-1]["events"] if e.event == "message.chunk" and int(e.id) > 5]
                refused = await client.get(f"/api/channels/{channel_name(TENANT, 'any')}/events")
                assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
                assert "relay" in refused.json()["detail"] and f":{own_redis.port}" not in refused.text
                health = (await client.get("/healthz")).json()
                assert health["checks"]["channels"]["available"] is False
                assert health["checks"]["channels"]["dropped"] > 0

                fault_end(own_redis, fault)
                await asyncio.sleep(RETRY_S + 0.2)
                await relay_works(client)
                assert (await json_run(client))["body"]["relay"] == "ok"
    finally:
        own_redis.resume()
        server.stop()
    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    assert log.count("channel relay redis") >= 2 and log.count("is back") >= 2, log[-4000:]


async def json_run(client: httpx.AsyncClient) -> dict[str, Any]:
    started = time.monotonic()
    response = await client.post("/api/flows/outage/runs",
                                 json={"inputs": {"user_message": "hi"}, "session_id": "s-" + uuid.uuid4().hex[:12]})
    assert response.status_code == 200, response.text
    return {"elapsed": time.monotonic() - started, "body": response.json()}


async def sse_run(client: httpx.AsyncClient) -> dict[str, Any]:
    started = time.monotonic()
    async with client.stream(
        "POST",
        "/api/flows/outage/runs",
        headers={"Accept": "text/event-stream"},
        json={"inputs": {"user_message": "hi"}, "session_id": "s-" + uuid.uuid4().hex[:12]},
    ) as resp:
        assert resp.status_code == 200
        events = [e async for e in sse_events(resp)]
    chunks = [e.data for e in events if e.event == "message.chunk"]
    return {"elapsed": time.monotonic() - started, "run_id": resp.headers["x-akis-run-id"],
            "header": resp.headers["x-akis-relay"],
            "told": [e.data for e in events if e.event == "relay.degraded"],
            "text": "".join(c["text"] for c in chunks), "seqs": [c["seq"] for c in chunks], "events": events,
            "finished": events[-1].data if events[-1].event == "run.finished" else {}}


async def resume(client: httpx.AsyncClient, run_id: str, after: int) -> list[Any]:
    async with client.stream("GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(after)}) as resp:
        assert resp.status_code == 200
        return [e async for e in sse_events(resp)]


async def relay_works(client: httpx.AsyncClient) -> None:
    """A subscriber of the conversation's channel follows a run from start to finish."""
    session = "s-" + uuid.uuid4().hex[:12]
    async with client.stream("GET", f"/api/channels/{channel_name(TENANT, session)}/events") as subscription:
        assert subscription.status_code == 200
        run = asyncio.ensure_future(client.post("/api/flows/outage/runs",
                                                json={"inputs": {"user_message": "hi"}, "session_id": session}))
        texts = []
        async for event in sse_events(subscription):
            if event.event == "message.chunk":
                texts.append(event.data["text"])
            if event.event == "run.finished":
                break
    assert "".join(texts) == ANSWER == (await run).json()["answer"]


async def test_a_workers_hub_holds_its_events_through_an_outage(own_redis: OwnRedis) -> None:
    """Queue mode: a worker's events are the only copy its runs' followers get, so its hub
    (``keep_on_outage``) writes them once Redis answers again instead of dropping them."""
    timeouts = RedisTimeouts(0.2, 0.3)
    worker_hub = RedisChannelHub(own_redis.url, timeouts=timeouts, retry_after_s=RETRY_S, keep_on_outage=True)
    reader_hub = RedisChannelHub(own_redis.url, timeouts=timeouts, retry_after_s=RETRY_S)
    channel, run_id = channel_name(TENANT, uuid.uuid4().hex), uuid.uuid4().hex
    try:
        start = await reader_hub.cursor(channel)
        worker_hub.publish(channel, Event(MESSAGE_CHUNK, run_id, 0.0, index=0, text="before "))
        await worker_hub.flush()
        own_redis.pause()
        try:
            for i in range(1, 20):  # published while Redis does not answer
                worker_hub.publish(channel, Event(MESSAGE_CHUNK, run_id, float(i), index=i, text=f"w{i} "))
            await asyncio.sleep(1.2)  # the writer tries, the breaker opens, it probes again
            assert not worker_hub.available
        finally:
            own_redis.resume()
        await asyncio.wait_for(worker_hub.flush(), 10)
        assert worker_hub.dropped == 0
        seen: dict[int, str] = {}
        async with asyncio.timeout(10):
            async for event in reader_hub.subscribe(channel, after=start):
                seen.setdefault(event.index, event.text or "")  # a retried write may repeat events
                if len(seen) == 20:
                    break
        assert [seen[i] for i in range(20)] == ["before ", *[f"w{i} " for i in range(1, 20)]]
    finally:
        await worker_hub.aclose()
        await reader_hub.aclose()
