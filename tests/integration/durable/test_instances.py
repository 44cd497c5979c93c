"""Two web instances, one worker: a run started on one is resumed (``Last-Event-ID``) and
cancelled from the other; over the queue limit ``POST .../runs`` answers 429 with Retry-After."""
from __future__ import annotations

import httpx

from tests.cluster.counting import CountingEndpoint as Counting
from tests.integration.api.harness import sse_events

from .stack import Stack, durable_flow, stored_run, wait_for

ANSWER = " ".join(f"w{i}" for i in range(30))


def client(url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0)


async def queue_runs(c: httpx.AsyncClient, flow_id: str, count: int) -> list[str]:
    """Start ``count`` streamed runs and leave each stream at once: with no worker they stay queued."""
    run_ids = []
    for n in range(count):
        async with c.stream("POST", f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": f"m{n}"}},
                            headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            run_ids.append(response.headers["x-akis-run-id"])
    return run_ids


async def test_resume_and_cancel_from_the_instance_that_did_not_start_the_run(stack: Stack,
                                                                              counting: Counting) -> None:
    one, two = stack.start_app(), stack.start_app()
    stack.start_worker(concurrency=2)
    async with client(one.url, stack.token) as first, client(two.url, stack.token) as second:
        flow = durable_flow("slow", counting.url, chunks=30, tokens_per_second=15, text=ANSWER)
        assert (await first.post("/api/flows", json=flow)).status_code == 201
        body = {"inputs": {"user_message": "hi"}, "session_id": "s-resume"}
        seen: list[tuple[int, str]] = []
        async with first.stream("POST", "/api/flows/slow/runs", json=body,
                                headers={"Accept": "text/event-stream"}) as response:
            run_id = response.headers["x-akis-run-id"]
            async for event in sse_events(response):
                if event.event == "message.chunk":
                    seen.append((int(event.id or -1), event.data["text"]))
                    if len(seen) == 5:
                        break  # the client goes away (its instance may die): it kept the last id
        last_id = seen[-1][0]
        rest: list[str] = []
        async with second.stream("GET", f"/api/runs/{run_id}/events",
                                 headers={"Last-Event-ID": str(last_id)}) as response:
            assert response.status_code == 200
            async for event in sse_events(response):
                assert int(event.id or -1) > last_id
                if event.event == "message.chunk":
                    rest.append(event.data["text"])
                if event.event == "run.finished":
                    assert event.data["status"] == "succeeded"
                    break
        assert "".join(t for _, t in seen) + "".join(rest) == ANSWER

        body = {"inputs": {"user_message": "stop me"}, "session_id": "s-cancel"}
        async with first.stream("POST", "/api/flows/slow/runs", json=body,
                                headers={"Accept": "text/event-stream"}) as response:
            cancel_id = response.headers["x-akis-run-id"]
            async for event in sse_events(response):
                if event.event == "message.chunk" and event.data.get("seq") == 2:
                    answer = await second.post(f"/api/runs/{cancel_id}/cancel")
                    assert answer.json() == {"run_id": cancel_id, "cancelled": True}
                final = event
        assert final.event == "run.finished" and final.data["status"] == "cancelled"
        wait_for(lambda: stored_run(stack, cancel_id).status == "cancelled", "the cancelled row")
        assert (await second.post(f"/api/runs/{cancel_id}/cancel")).json()["cancelled"] is False
        other = await second.get(f"/api/runs/{cancel_id}/events",
                                 headers={"Authorization": f"Bearer {stack.other_token}"})
        assert other.status_code == 404  # another tenant's run is not there


async def test_over_the_queue_limit_a_run_is_refused_with_429(stack: Stack, counting: Counting) -> None:
    stack.extra_env["AKIS_RUN_QUEUE_TENANT_LIMIT"] = "2"
    app = stack.start_app()  # no worker: queued runs wait
    async with client(app.url, stack.token) as c, client(app.url, stack.other_token) as other:
        flow = durable_flow("limited", counting.url, chunks=3)
        assert (await c.post("/api/flows", json=flow)).status_code == 201
        assert (await other.post("/api/flows", json=flow)).status_code == 201
        queued = await queue_runs(c, "limited", 2)
        refused = await c.post("/api/flows/limited/runs", json={"inputs": {"user_message": "one too many"}})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1 and "2 runs waiting" in refused.json()["detail"]
        async with other.stream("POST", "/api/flows/limited/runs", json={"inputs": {"user_message": "b"}},
                                headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200  # the limit is per tenant: the other one still runs
        assert [stored_run(stack, run_id).status for run_id in queued] == ["queued", "queued"]
        assert len((await c.get("/api/runs", params={"flow_id": "limited"})).json()) == 2  # no row for the refused


async def test_queued_runs_do_not_hold_up_the_stop_of_the_web_instance_that_queued_them(stack: Stack,
                                                                                         counting: Counting) -> None:
    """A worker executes them, whether this instance stops or not: its drain waits for no run
    (before, it counted them and waited its whole timeout while they stayed queued)."""
    stack.extra_env["AKIS_DRAIN_TIMEOUT_S"] = "120"
    app = stack.start_app()  # no worker: the runs stay queued
    async with client(app.url, stack.token) as c:
        assert (await c.post("/api/flows", json=durable_flow("waits", counting.url, chunks=3))).status_code == 201
        queued = await queue_runs(c, "waits", 2)
        ready = (await c.get("/healthz/ready")).json()
        assert ready["in_flight"]["runs"] == 0 and ready["scaling"]["queue_depth"] == 2
    assert app.process is not None
    app.process.terminate()
    app.process.wait(60)  # bounds a hung test; the drain's own limit is 120 s
    log = app.log()
    assert "draining 0 in-flight runs and requests" in log and "drain: nothing in flight" in log, log[-2000:]
    assert [stored_run(stack, run_id).status for run_id in queued] == ["queued", "queued"]  # still there for a worker
