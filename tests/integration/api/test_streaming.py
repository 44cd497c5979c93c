"""Streams: a run over SSE, a channel over SSE with resume, a run's own resume, WebSocket
subscribers, Origin checks, and a run in another process seen through Redis."""
from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from .conftest import ALLOWED_ORIGIN, TENANT_A, Api
from .harness import AppServer, chat_flow, sse_events

ANSWER = "Merhaba! Akış çalışıyor: transpalet 🌊 " + " ".join(f"kelime{i}" for i in range(60))


async def ensure_flow(api: Api, flow_id: str, **options: object) -> None:
    async with api.client(api.token_a) as client:
        response = await client.post("/api/flows", json=chat_flow(flow_id, text=ANSWER, **options))  # type: ignore[arg-type]
        assert response.status_code in (201, 409), response.text


def session_id() -> str:
    return "s-" + uuid.uuid4().hex[:12]


async def test_a_run_streams_as_server_sent_events(api: Api) -> None:
    await ensure_flow(api, "sse-run", chunks=25)
    async with api.client(api.token_a) as client:
        async with client.stream("POST", "/api/flows/sse-run/runs", json={"inputs": {"user_message": "hi"}},
                                 headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            run_id = response.headers["x-akis-run-id"]
            events = [e async for e in sse_events(response)]
        assert [int(e.id) for e in events] == list(range(len(events)))  # id: is the event index
        assert events[0].event == "run.started" and events[-1].event == "run.finished"
        chunks = [e.data for e in events if e.event == "message.chunk"]
        assert [c["seq"] for c in chunks] == list(range(25))
        text = "".join(c["text"] for c in chunks)
        assert text == ANSWER == events[-1].data["output"]["answer"]
        stored = await wait_recorded(client, run_id)
        assert stored["output"]["answer"] == text and stored["status"] == "succeeded"


async def wait_recorded(client: httpx.AsyncClient, run_id: str) -> dict:
    for _ in range(100):
        response = await client.get(f"/api/runs/{run_id}")
        if response.status_code == 200:
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} was not recorded")


async def test_channel_sse_resumes_with_last_event_id(api: Api) -> None:
    await ensure_flow(api, "paced", chunks=40, tokens_per_second=100)
    session = session_id()
    channel = f"tenant.{TENANT_A}.conversation.{session}"
    async with api.client(api.token_a) as client:
        texts: list[str] = []
        last_id = None
        async with client.stream("GET", f"/api/channels/{channel}/events") as response:
            assert response.status_code == 200
            run = asyncio.ensure_future(client.post("/api/flows/paced/runs",
                                                    json={"inputs": {"user_message": "hi"}, "session_id": session}))
            async for event in sse_events(response):
                last_id = event.id
                if event.event == "message.chunk":
                    texts.append(event.data["text"])
                    if len(texts) == 10:
                        break  # the client goes away halfway through the answer
        assert last_id is not None
        async with client.stream("GET", f"/api/channels/{channel}/events",
                                 headers={"Last-Event-ID": last_id}) as response:
            seqs = []
            async for event in sse_events(response):
                assert int(event.id) > int(last_id)
                if event.event == "message.chunk":
                    texts.append(event.data["text"])
                    seqs.append(event.data["seq"])
                if event.event == "run.finished":
                    break
        result = (await run).json()
        assert seqs == list(range(10, 40))
        assert "".join(texts) == result["answer"] == ANSWER


async def test_a_runs_own_stream_resumes_after_a_disconnect(api: Api) -> None:
    await ensure_flow(api, "paced", chunks=40, tokens_per_second=100)
    async with api.client(api.token_a) as client:
        texts: list[str] = []
        async with client.stream("POST", "/api/flows/paced/runs", json={"inputs": {"user_message": "hi"}},
                                 headers={"Accept": "text/event-stream"}) as response:
            run_id = response.headers["x-akis-run-id"]
            async for event in sse_events(response):
                last_id = event.id
                if event.event == "message.chunk":
                    texts.append(event.data["text"])
                    if len(texts) == 7:
                        break
        async with client.stream("GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": last_id}) as response:
            assert response.status_code == 200
            async for event in sse_events(response):
                if event.event == "message.chunk":
                    texts.append(event.data["text"])
                final = event
        assert final.event == "run.finished" and final.data["status"] == "succeeded"
        assert "".join(texts) == ANSWER


async def test_websocket_subscriber_reads_a_streamed_run(api: Api) -> None:
    await ensure_flow(api, "paced", chunks=40, tokens_per_second=100)
    session = session_id()
    url = api.url.replace("http", "ws") + f"/api/channels/tenant.{TENANT_A}.conversation.{session}/ws"
    # A browser cannot set headers: the token rides as a subprotocol, from an allowed Origin.
    async with websockets.connect(url, subprotocols=["akis-token", api.token_a], origin=ALLOWED_ORIGIN) as socket:
        assert socket.subprotocol == "akis-token"
        async with api.client(api.token_a) as client:
            run = asyncio.ensure_future(client.post("/api/flows/paced/runs",
                                                    json={"inputs": {"user_message": "hi"}, "session_id": session}))
            texts, ids = [], []
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 30))
                ids.append(message["id"])
                if message["event"] == "message.chunk":
                    texts.append(message["text"])
                if message["event"] == "run.finished":
                    break
            result = (await run).json()
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert "".join(texts) == result["answer"] == ANSWER


async def test_websocket_with_a_header_token_and_resume(api: Api) -> None:
    await ensure_flow(api, "sse-run", chunks=25)
    session = session_id()
    async with api.client(api.token_a) as client:
        result = (await client.post("/api/flows/sse-run/runs",
                                    json={"inputs": {"user_message": "hi"}, "session_id": session})).json()
    url = api.url.replace("http", "ws") + f"/api/channels/tenant.{TENANT_A}.conversation.{session}/ws?after=0"
    async with websockets.connect(url, additional_headers=api.headers(api.token_a)) as socket:
        texts = []
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if message["event"] == "message.chunk":
                texts.append(message["text"])
            if message["event"] == "run.finished":
                break
    assert "".join(texts) == result["answer"]


async def test_a_foreign_origin_is_refused(api: Api) -> None:
    channel = f"tenant.{TENANT_A}.conversation.{session_id()}"
    url = api.url.replace("http", "ws") + f"/api/channels/{channel}/ws"
    for origin in ("http://evil.example", "null", api.url.replace("127.0.0.1", "localhost")):
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers=api.headers(api.token_a), origin=origin):
                pass
        assert refused.value.response.status_code == 403, origin
    async with api.client(api.token_a) as client:
        evil = await client.get(f"/api/channels/{channel}/events", headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        run = await client.post("/api/flows/sse-run/runs", json={"inputs": {"user_message": "x"}},
                                headers={"Accept": "text/event-stream", "Origin": "http://evil.example"})
        assert run.status_code == 403
        async with client.stream("GET", f"/api/channels/{channel}/events?after=0",
                                 headers={"Origin": ALLOWED_ORIGIN}) as fine:
            assert fine.status_code == 200
        async with client.stream("GET", f"/api/channels/{channel}/events?after=0",
                                 headers={"Origin": api.url}) as same_origin:
            assert same_origin.status_code == 200


async def test_the_example_widget_is_served(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, follow_redirects=True) as client:
        page = await client.get("/widget")
        assert page.status_code == 200 and "akis-chat" in page.text
        script = await client.get("/widget/widget.js")
        assert script.status_code == 200 and "/api/channels/" in script.text and "Last-Event-ID" in script.text


async def test_a_run_in_another_process_is_seen_through_redis(redis_url: str, memcached_address: str,
                                                              tmp_path: Path) -> None:
    from runtime import Engine
    from runtime.channels.redis_hub import RedisChannelHub
    from storage.db import init_db
    from storage.repos.tokens import create_token

    database_url = f"sqlite:///{tmp_path / 'akis.db'}"
    database = init_db(database_url, seed_demo=False)
    _, token = database.call(create_token, TENANT_A, "redis")
    database.dispose()
    server = AppServer(tmp_path, env={"AKIS_DATABASE_URL": database_url, "AKIS_REDIS_URL": redis_url,
                                      "AKIS_MEMCACHED": memcached_address,
                                      "AKIS_CACHE_TIERS": "memory,redis,memcached"}).start()
    hub = RedisChannelHub(redis_url)
    try:
        health = (await asyncio.to_thread(httpx.get, server.url + "/healthz")).json()  # every tier, nothing secret
        assert health["status"] == "ok" and health["checks"]["redis"]["ok"] is True
        assert {"memory", "redis", "memcached"} <= set(health["checks"]["cache"])
        assert redis_url not in json.dumps(health) and "127.0.0.1" not in json.dumps(health)
        session = session_id()
        engine = Engine(publisher=hub)  # "another process": this test, not the server
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=30) as client:
            async with client.stream("GET", f"/api/channels/tenant.{TENANT_A}.conversation.{session}/events") as resp:
                assert resp.status_code == 200
                run = asyncio.ensure_future(engine.run(chat_flow("remote", text=ANSWER, chunks=30),
                                                       {"user_message": "hi"}, tenant_id=TENANT_A,
                                                       session_id=session))
                texts = []
                async for event in sse_events(resp):
                    if event.event == "message.chunk":
                        texts.append(event.data["text"])
                    if event.event == "run.finished":
                        break
            result = await run
        assert "".join(texts) == result.answer == ANSWER
    finally:
        await hub.aclose()
        server.stop()


async def test_cancel_a_streamed_and_a_plain_run(api: Api) -> None:
    await ensure_flow(api, "slow", chunks=40, tokens_per_second=10)
    async with api.client(api.token_a) as client:
        async with client.stream("POST", "/api/flows/slow/runs", json={"inputs": {"user_message": "hi"}},
                                 headers={"Accept": "text/event-stream"}) as response:
            run_id = response.headers["x-akis-run-id"]
            async for event in sse_events(response):
                if event.event == "message.chunk":
                    cancelled = await client.post(f"/api/runs/{run_id}/cancel")
                    assert cancelled.json() == {"run_id": run_id, "cancelled": True}
                final = event
        assert final.event == "run.finished" and final.data["status"] == "cancelled"
        assert (await client.post(f"/api/runs/{run_id}/cancel")).json()["cancelled"] is False
        session = session_id()
        plain = asyncio.ensure_future(client.post("/api/flows/slow/runs",
                                                  json={"inputs": {"user_message": "hi"}, "session_id": session}))
        async with client.stream("GET", f"/api/channels/tenant.{TENANT_A}.conversation.{session}/events?after=0") as ch:
            async for event in sse_events(ch):
                if event.event == "message.chunk":
                    assert (await client.post(f"/api/runs/{event.data['run_id']}/cancel")).json()["cancelled"]
                    break
        result = (await plain).json()
        assert result["status"] == "cancelled"
