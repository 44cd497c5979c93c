"""The chaos test (issue 14): two web instances and two workers behind haproxy, on PostgreSQL and
Redis, in queue mode. 120 streamed runs of the seed flow at a tenth of its times (plus an
``http_request`` node calling a counting endpoint) go through haproxy while one worker and one
web instance are SIGKILLed at random points and replaced. Then:

- every run ends ``succeeded``, and there is exactly one run row per client request;
- every client's transcript, after reconnecting with ``Last-Event-ID`` (to whichever instance
  haproxy picks) and dropping a node's text at ``node.restarted``, equals the stored answer;
- every conversation has its two messages once;
- the counting endpoint saw every run's side effect, never more often per idempotency key than
  the run had attempts (a node re-runs only when its worker died before its checkpoint);
- no run is still ``running`` (none outlives its lease).

The figures (runs, kills, takeovers, reconnects, restarts, effect calls, time) are printed.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from storage.db import Database
from tests.integration.api.harness import SseEvent, sse_events

from .clients import bearer, create_token, put_flow
from .cluster import ROOT, Cluster, wait_until
from .conftest import MakeCluster
from .counting import CountingEndpoint

RUNS = 120
CLIENTS = 10  # runs streamed at once
LEASE_S = 5.0  # a loaded machine stalls event loops for seconds: a shorter lease is taken over from live workers
STALL_S = 15.0  # a client resumes a stream that said nothing for this long
LIMIT_S = 120.0  # bounds a hung test (the runs take 25-60 s here); asserts no timing
ANSWER = "For short moves in a warehouse a manual pallet jack of 2.5 tonnes is the usual choice and costs the least."
TENANT = "2"

pytestmark = pytest.mark.timeout(300)


def chaos_flow(flow_id: str, effect_url: str) -> dict[str, Any]:
    """The seed scenario at a tenth of its step times, with a counted side effect beside the lookups."""
    document = json.loads((ROOT / "examples" / "seed_scenario.json").read_text(encoding="utf-8"))
    document["flow_id"], document["name"] = flow_id, "Seed scenario, chaos"
    for node in document["nodes"]:
        if node["type"] == "delay":
            node["config"]["ms"] = max(1, node["config"]["ms"] // 10)
        if node["type"] == "ai_response":
            node["config"]["provider_options"].update(delay_ms=5, tokens_per_second=120, chunks=20, text=ANSWER)
    document["nodes"].append({"id": "effect", "type": "http_request",
                              "config": {"url": effect_url, "output_key": "effect"}})
    document["edges"] += [{"source": "node_1", "target": "effect"}, {"source": "effect", "target": "node_5"}]
    return document


def shown(events: list[SseEvent]) -> str:
    """What a client's pane shows: each node's chunks, a node's text dropped when it restarts."""
    texts: dict[str, list[str]] = {}
    for event in events:
        if event.event == "message.chunk":
            texts.setdefault(event.data.get("node_id", ""), []).append(event.data["text"])
        elif event.event == "node.restarted":
            texts.pop(event.data.get("node_id", ""), None)
    return "".join("".join(parts) for parts in texts.values())


@dataclass
class Client:
    """One user's run: submitted through haproxy, followed to its end across instance deaths."""

    n: int
    session: str
    run_id: str | None = None
    events: list[SseEvent] = field(default_factory=list)
    reconnects: int = 0
    posts: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # why a request did not reach run.finished
    streams: list[str] = field(default_factory=list)

    @property
    def finished(self) -> SseEvent | None:
        return next((e for e in reversed(self.events) if e.event == "run.finished"), None)


@dataclass
class Chaos:
    cluster: Cluster
    database: Database
    rng: random.Random
    done: int = 0
    kills: list[str] = field(default_factory=list)


def session_run(database: Database, session: str) -> str | None:
    with database.engine.connect() as connection:
        row = connection.execute(text("SELECT id FROM runs WHERE tenant_id = :t AND session_id = :s"),
                                 {"t": TENANT, "s": session}).first()
    return str(row[0]) if row else None


async def follow(client: Client, http: httpx.AsyncClient, flow_id: str, database: Database) -> None:
    """Submit once, then follow: on a dropped connection resume with Last-Event-ID (any instance);
    a submission whose answer was lost is looked up by its session before it is ever sent again."""
    for _ in range(60):
        try:
            if client.run_id is None:
                client.posts += 1
                body = {"inputs": {"user_message": f"question {client.n}"}, "session_id": client.session}
                async with http.stream("POST", f"/api/flows/{flow_id}/runs", json=body,
                                       headers={"Accept": "text/event-stream"}) as response:
                    if response.status_code != 200:
                        raise httpx.TransportError(f"POST answered {response.status_code}")
                    client.run_id = response.headers["x-akis-run-id"]
                    await read(response, client)
            else:
                last = client.events[-1].id if client.events else None
                headers = {"Last-Event-ID": last} if last is not None else {}
                async with http.stream("GET", f"/api/runs/{client.run_id}/events", headers=headers) as response:
                    if response.status_code != 200:
                        raise httpx.TransportError(f"resume answered {response.status_code}")
                    await read(response, client)
            if client.finished is not None:
                return
            raise httpx.TransportError("stream ended before run.finished")
        except httpx.HTTPError as exc:
            client.reconnects += 1
            client.failures[f"{'resume' if client.run_id else 'post'}: {str(exc)[:40] or type(exc).__name__}"] += 1
            if client.run_id is None:
                client.run_id = await asyncio.to_thread(session_run, database, client.session)
            await asyncio.sleep(0.2)
    tail = [(e.id, e.event, str(e.data)[:100]) for e in client.events[-3:]] + [("ids", [e.id for e in client.events])]
    raise AssertionError(f"run {client.n} ({client.run_id}) never finished for its client: {client.failures}; "
                         f"its last events: {tail}")


async def read(response: httpx.Response, client: Client) -> None:
    client.streams.append(f"{response.request.method} {len(client.events)}")
    async for event in sse_events(response):
        client.events.append(event)  # every event as the server sent it: duplicates are checked later
        if event.event == "run.finished":
            return


async def make_chaos(chaos: Chaos) -> None:
    """At random points: SIGKILL a worker, later a web instance; replace each at once."""
    worker_at = chaos.rng.randint(RUNS // 8, RUNS // 3)
    web_at = chaos.rng.randint(RUNS // 2 - RUNS // 8, RUNS * 2 // 3)
    for at, kind in sorted([(worker_at, "worker"), (web_at, "web")]):
        while chaos.done < at:  # noqa: ASYNC110 - the clients count; nothing to wait on but the count
            await asyncio.sleep(0.02)
        if kind == "worker":  # one holding runs right now, so the kill interrupts work
            index = await busy_worker(chaos)
            await asyncio.to_thread(chaos.cluster.replace_worker, index)
        else:
            index = chaos.rng.randrange(len(chaos.cluster.web))
            await asyncio.to_thread(chaos.cluster.replace_web, index)
        chaos.kills.append(f"{kind}{index + 1} after {chaos.done} runs")


async def busy_worker(chaos: Chaos) -> int:
    """The index of a worker that holds a running run (its id ends with its pid), chosen at random."""
    sql = "SELECT DISTINCT worker FROM runs WHERE tenant_id = :t AND status = 'running'"
    for _ in range(500):
        holders = {str(row[0]).rpartition(":")[2] for row in await asyncio.to_thread(rows, chaos.database, sql)}
        busy = [i for i, worker in enumerate(chaos.cluster.workers) if str(worker.pid) in holders]
        if busy:
            return chaos.rng.choice(busy)
        await asyncio.sleep(0.01)
    raise AssertionError("no worker was ever seen holding a run")


def rows(database: Database, sql: str) -> list[Any]:
    with database.engine.connect() as connection:
        return list(connection.execute(text(sql), {"t": TENANT}).all())


async def test_chaos_kills_lose_and_duplicate_nothing(cluster: MakeCluster, tmp_path: Path) -> None:
    counting = CountingEndpoint()
    seed = int(uuid.uuid4().int % 100_000)
    rng = random.Random(seed)
    started = cluster(web=2, workers=2, worker_args=("--concurrency", "6"), env={
        "AKIS_RUN_MODE": "queue", "AKIS_RUN_LEASE_S": str(LEASE_S), "AKIS_HTTP_ALLOW_HOSTS": "127.0.0.1",
        "AKIS_DRAIN_TIMEOUT_S": "5",
        # a loaded 2-core machine (seven processes of the cluster, and the tests of others) answers
        # slowly: Redis calls get more time than the 0.5 s / 1 s meant for a production network
        "AKIS_REDIS_CONNECT_TIMEOUT_S": "3", "AKIS_REDIS_SOCKET_TIMEOUT_S": "6", "AKIS_REDIS_RETRY_AFTER_S": "1"})
    database = Database(started.database_url)
    chaos = Chaos(started, database, rng)
    token = create_token(started.database_url, TENANT)
    flow_id = "chaos-seed"
    clients = [Client(n, f"chaos-{seed}-{n}") for n in range(RUNS)]
    t0 = time.monotonic()
    try:
        limits = httpx.Limits(max_connections=CLIENTS * 2, max_keepalive_connections=0)  # a fresh pick per request
        timeout = httpx.Timeout(30.0, read=STALL_S)  # a stream silent this long is dropped and resumed
        async with httpx.AsyncClient(base_url=started.url, headers=bearer(token), timeout=timeout,
                                     limits=limits) as http:
            await put_flow(http, chaos_flow(flow_id, counting.url))
            gate = asyncio.Semaphore(CLIENTS)

            async def one(client: Client) -> None:
                async with gate:
                    await follow(client, http, flow_id, database)
                    chaos.done += 1

            chaos_task = asyncio.create_task(make_chaos(chaos))
            try:
                await asyncio.wait_for(asyncio.gather(*(one(c) for c in clients)), LIMIT_S)
            except TimeoutError:
                stuck = [(c.n, c.run_id, c.events[-1].event if c.events else None, dict(c.failures), c.streams,
                          [e.id for e in c.events][-5:], status_of(database, c.run_id))
                         for c in clients if c.finished is None]
                pytest.fail(f"{chaos.done} of {RUNS} runs finished for their clients in {LIMIT_S:.0f} s; "
                            f"kills: {chaos.kills}; unfinished (n, run, reconnects, last event): {stuck[:10]}")
            await chaos_task
        elapsed = time.monotonic() - t0
        await asyncio.to_thread(check, clients, database, counting, chaos, seed, elapsed)
    finally:
        counting.close()
        database.dispose()


def status_of(database: Database, run_id: str | None) -> str | None:
    found = [row[2] for key, row in runs_of(database).items() if key == run_id]
    return str(found[0]) if found else None


def runs_of(database: Database) -> dict[str, Any]:
    return {row[0]: row for row in rows(database, "SELECT id, session_id, status, output, attempts, lease_until "
                                                  "FROM runs WHERE tenant_id = :t")}


def check(clients: list[Client], database: Database, counting: CountingEndpoint, chaos: Chaos, seed: int,
          elapsed: float) -> None:
    assert len(chaos.kills) == 2, chaos.kills
    taken_over = sum(1 for row in runs_of(database).values() if int(row[4]) > 1)
    assert taken_over >= 1, "the killed worker's runs were not taken over by another"
    runs = runs_of(database)
    sessions = Counter(row[1] for row in runs.values())
    assert len(runs) == RUNS and all(count == 1 for count in sessions.values()), sessions.most_common(3)
    statuses = Counter(row[2] for row in runs.values())
    assert statuses == {"succeeded": RUNS}, statuses  # none failed, none left queued or running
    assert all(row[5] is None for row in runs.values())  # no lease outlives its run
    mismatched = []
    for client in clients:  # one stream per run: ids only grow across reconnects (Last-Event-ID means something)
        ids = [int(e.id) for e in client.events if e.id is not None]
        if ids != sorted(set(ids)):
            pytest.fail(f"run {client.n}: event ids out of order or repeated: "
                        + json.dumps([client.streams, dict(client.failures),
                                      [(e.id, e.event, e.data.get("node_id")) for e in client.events]]))
    for client in clients:
        row = runs[client.run_id]
        assert client.finished is not None and client.finished.data["status"] == "succeeded"
        stored = row[3] if isinstance(row[3], dict) else {}
        if shown(client.events) != ANSWER or ANSWER not in stored.values():
            mismatched.append((client.n, shown(client.events)[:60], str(stored)[:80]))
    assert mismatched == [], mismatched[:5]
    sql = "SELECT session_id, role, content FROM conversation_messages WHERE tenant_id = :t"
    # saving is a background job: a killed worker's is retried within 30 s (issue 14, item 5)
    wait_until(lambda: len(rows(database, sql)) >= 2 * RUNS, "every exchange saved", 60.0, 0.25)
    messages = rows(database, sql)
    per_session = Counter(session for session, _, _ in messages)
    assert len(per_session) == RUNS and set(per_session.values()) == {2}, per_session.most_common(3)
    for client in clients:
        mine = sorted((role, content) for session, role, content in messages if session == client.session)
        assert mine == [("assistant", ANSWER), ("user", f"question {client.n}")]
    keys = dict(counting.keys)
    assert "" not in keys, "a side effect was called without an idempotency key"
    for run_id, row in runs.items():
        calls = keys.get(f"{run_id}:effect", 0)
        assert 1 <= calls <= max(1, int(row[4])), (run_id, calls, row[4])
    resumed = sum(any(e.event == "run.resumed" for e in c.events) for c in clients)
    restarted = sum(sum(e.event == "node.restarted" for e in c.events) for c in clients)
    figures = {
        "seed": seed, "runs": RUNS, "succeeded": statuses["succeeded"], "kills": chaos.kills,
        "seconds": round(elapsed, 1), "runs_per_s": round(RUNS / elapsed, 2),
        "taken_over": taken_over, "resumed_events_seen": resumed,
        "node_restarts_seen": restarted, "client_reconnects": sum(c.reconnects for c in clients),
        "posts": sum(c.posts for c in clients), "effect_calls": sum(keys.values()),
        "effect_keys_called_twice": sum(1 for v in keys.values() if v > 1), "messages": len(messages),
        "interruptions": dict(sum((c.failures for c in clients), Counter()).most_common(6)),
    }
    print("chaos figures:", json.dumps(figures))
