"""Liveness and readiness on each instance and through haproxy; a SIGTERM drains: readiness
fails at once while a streamed run in flight goes on to its end, then the process exits."""
from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.integration.api.harness import chat_flow, sse_events

from .clients import Transcript, bearer, create_token, put_flow, read_into
from .cluster import wait_until
from .conftest import MakeCluster


def test_live_and_ready_on_every_instance_and_through_haproxy(cluster: MakeCluster) -> None:
    started = cluster(web=2, workers=0)
    for web in started.web:
        live = httpx.get(web.url + "/healthz/live", timeout=5.0)
        assert live.status_code == 200 and live.json() == {"status": "ok", "draining": False}
        ready = web.readiness()
        assert ready["status"] == "ok" and ready["draining"] is False
        assert ready["checks"]["database"] == {"ok": True, "dialect": "postgresql"}
        assert ready["checks"]["redis"] == {"ok": True}
        assert set(ready["scaling"]) >= {"queue_depth", "running_per_worker", "latency", "in_process"}
    with httpx.Client(base_url=started.url, timeout=10.0) as client:
        assert client.get("/healthz/ready").json()["status"] == "ok"
        assert client.get("/healthz").json()["status"] == "ok"  # the old check is still there
        spec = client.get("/openapi.json").json()
        assert {"/healthz/live", "/healthz/ready"} <= set(spec["paths"])
        assert spec["paths"]["/healthz/ready"]["get"]["security"] == []


async def test_sigterm_fails_readiness_first_and_finishes_the_stream_in_flight(cluster: MakeCluster) -> None:
    started = cluster(web=2, workers=0, env={"AKIS_RUN_MODE": "inline", "AKIS_DRAIN_DELAY_S": "0.5",
                                             "AKIS_DRAIN_TIMEOUT_S": "60"})
    token = create_token(started.database_url)
    web1 = started.web[0]
    flow_id = f"paced-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=web1.url, headers=bearer(token), timeout=60.0) as client:
        await put_flow(client, chat_flow(flow_id, chunks=60, tokens_per_second=30))  # about 4 s of streaming
        transcript = Transcript()
        async with client.stream("POST", f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": "hi"}},
                                 headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            transcript.run_id = response.headers["x-akis-run-id"]
            events = sse_events(response)
            await read_into(events, transcript, stop_after_chunks=3)  # the run is under way
            web1.terminate()
            readiness = await asyncio.to_thread(wait_for_draining, web1.url)
            assert transcript.finished is None, "the stream ended before readiness failed"
            assert readiness["draining"] is True and readiness["in_flight"]["runs"] == 1
            assert (await client.get("/healthz/live")).status_code == 200  # still alive, still serving
            await read_into(events, transcript)
    finished = transcript.finished
    assert finished is not None and finished.data["status"] == "succeeded", transcript.events[-3:]
    chunks = [e.data["seq"] for e in transcript.events if e.event == "message.chunk"]
    assert chunks == list(range(60))  # every chunk, none lost to the stop
    assert transcript.text() == finished.data["output"]["answer"]
    assert web1.process is not None
    await asyncio.to_thread(web1.process.wait, 60)
    assert "drain: nothing in flight" in web1.log()
    async with httpx.AsyncClient(base_url=started.url, headers=bearer(token), timeout=30.0) as client:
        stored = (await client.get(f"/api/runs/{transcript.run_id}")).json()  # web2 answers now
        assert stored["status"] == "succeeded" and stored["output"]["answer"] == transcript.text()


def wait_for_draining(url: str) -> dict:
    seen: dict = {}

    def draining() -> bool:
        response = httpx.get(url + "/healthz/ready", timeout=5.0)
        seen.update(response.json())
        return response.status_code == 503 and bool(seen.get("draining"))

    wait_until(draining, "readiness to fail after SIGTERM", 30.0, 0.05)
    return seen


async def test_sigterm_in_queue_mode_hands_the_stream_over_to_another_instance(cluster: MakeCluster) -> None:
    """The run executes on a worker; the web instance only relays it. Past the drain's bound the
    instance closes the stream and exits; the client resumes through haproxy on the other one."""
    started = cluster(web=2, workers=1, env={"AKIS_RUN_MODE": "queue", "AKIS_DRAIN_DELAY_S": "0.3",
                                             "AKIS_DRAIN_TIMEOUT_S": "1"}, worker_args=("--concurrency", "2"))
    token = create_token(started.database_url)
    web1 = started.web[0]
    flow_id = f"relayed-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=web1.url, headers=bearer(token), timeout=60.0) as client:
        await put_flow(client, chat_flow(flow_id, chunks=160, tokens_per_second=20))  # about 8 s on the worker
        transcript = Transcript()
        async with client.stream("POST", f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": "hi"}},
                                 headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            transcript.run_id = response.headers["x-akis-run-id"]
            events = sse_events(response)
            await read_into(events, transcript, stop_after_chunks=3)
            web1.terminate()
            await read_into(events, transcript)  # the instance ends it cleanly once its drain is over
    assert transcript.finished is None, "the run ended before the drain closed the relayed stream"
    assert web1.process is not None
    await asyncio.to_thread(web1.process.wait, 60)
    assert "still in flight after 1.0 s; stopping anyway" in web1.log()
    assert "Traceback" not in web1.log()
    async with httpx.AsyncClient(base_url=started.url, headers=bearer(token), timeout=60.0) as client, \
            client.stream("GET", f"/api/runs/{transcript.run_id}/events",
                          headers={"Last-Event-ID": str(transcript.last_id)}) as response:
        assert response.status_code == 200  # haproxy sends it to web2: web1 is gone
        await read_into(sse_events(response), transcript)
    finished = transcript.finished
    assert finished is not None and finished.data["status"] == "succeeded"
    chunks = [e.data["seq"] for e in transcript.events if e.event == "message.chunk"]
    assert chunks == list(range(160))  # nothing lost, nothing twice across the hand-over
    assert transcript.text() == " ".join(f"word{i}" for i in range(320))
