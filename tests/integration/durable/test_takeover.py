"""A worker SIGKILLed mid-run: another worker takes the run over after its lease and goes on from
the checkpoints. The side effect that finished is not made again, the client is told the
streaming node restarts (``run.resumed``, ``node.restarted``) and then reads the whole answer,
and the run's row and saved messages exist once."""
from __future__ import annotations

import httpx

from tests.cluster.counting import CountingEndpoint as Counting
from tests.integration.api.harness import sse_events

from .stack import Stack, durable_flow, messages, stored_run, wait_for

ANSWER = " ".join(f"w{i}" for i in range(40))


def apply(frames: list[tuple[str, str, dict]]) -> str:
    """What a client shows: the chunks of each node, a node's text dropped when it restarts."""
    texts: dict[str, list[str]] = {}
    for _, event, data in frames:
        if event == "message.chunk":
            texts.setdefault(data["node_id"], []).append(data["text"])
        elif event == "node.restarted":
            texts.pop(data["node_id"], None)
    return "".join("".join(parts) for parts in texts.values())


async def test_a_killed_workers_run_is_resumed_from_its_checkpoints(stack: Stack, counting: Counting) -> None:
    app = stack.start_app()
    first = stack.start_worker(concurrency=1)
    headers = {"Authorization": f"Bearer {stack.token}"}
    frames: list[tuple[str, str, dict]] = []
    async with httpx.AsyncClient(base_url=app.url, headers=headers, timeout=120.0) as client:
        flow = durable_flow("takeover", counting.url, chunks=40, tokens_per_second=20, text=ANSWER)
        assert (await client.post("/api/flows", json=flow)).status_code == 201
        body = {"inputs": {"user_message": "hi"}, "session_id": "s-takeover"}
        async with client.stream("POST", "/api/flows/takeover/runs", json=body,
                                 headers={"Accept": "text/event-stream"}) as response:
            run_id = response.headers["x-akis-run-id"]
            chunks = 0
            async for event in sse_events(response):
                frames.append((event.id or "", event.event, event.data))
                if event.event == "message.chunk":
                    chunks += 1
                    if chunks == 8:  # mid-answer: the worker dies, a new one comes
                        stack.kill(first)
                        stack.start_worker(concurrency=1)
                if event.event == "run.finished":
                    break
    names = [event for _, event, _ in frames]
    assert names.count("run.resumed") == 1 and names.index("run.resumed") > names.index("message.chunk")
    restarted = [data for _, event, data in frames if event == "node.restarted"]
    assert [r["node_id"] for r in restarted] == ["ai"]
    resumed = next(data for _, event, data in frames if event == "run.resumed")
    assert resumed["attempt"] == 2 and "effect" in resumed["skipped"] and resumed["restarted"] == ["ai"]
    assert frames[-1][1] == "run.finished" and frames[-1][2]["status"] == "succeeded"
    assert apply(frames) == ANSWER
    ids = [int(i) for i, _, _ in frames]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # one stream: Last-Event-ID stays meaningful
    assert counting.keys[f"{run_id}:effect"] == 1  # the finished side effect was not made again
    row = stored_run(stack, run_id)
    assert row.status == "succeeded" and row.attempts == 2 and row.lease_until is None
    assert frames[-1][2]["answer"] == ANSWER
    assert ANSWER in row.output.values(), row.output  # the stored answer: the whole text, once
    wait_for(lambda: len(messages(stack, "s-takeover")) >= 2, "the saved exchange")
    assert messages(stack, "s-takeover") == [("user", "hi"), ("assistant", ANSWER)]


async def test_after_its_last_attempt_a_run_ends_failed_with_the_reason(stack: Stack, counting: Counting) -> None:
    stack.extra_env["AKIS_RUN_MAX_ATTEMPTS"] = "1"
    app = stack.start_app()
    first = stack.start_worker(concurrency=1)
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with httpx.AsyncClient(base_url=app.url, headers=headers, timeout=120.0) as client:
        flow = durable_flow("fragile", counting.url, chunks=40, tokens_per_second=20, text=ANSWER)
        assert (await client.post("/api/flows", json=flow)).status_code == 201
        async with client.stream("POST", "/api/flows/fragile/runs", json={"inputs": {"user_message": "hi"}},
                                 headers={"Accept": "text/event-stream"}) as response:
            run_id = response.headers["x-akis-run-id"]
            async for event in sse_events(response):
                if event.event == "message.chunk" and event.data["seq"] == 3:
                    stack.kill(first)
                    stack.start_worker(concurrency=1)
                final = event
                if event.event == "run.finished":
                    break
    assert final.event == "run.finished" and final.data["status"] == "failed"
    assert "interrupted 1 time(s)" in final.data["error"] and "AKIS_RUN_MAX_ATTEMPTS=1" in final.data["error"]
    row = stored_run(stack, run_id)
    assert row.status == "failed" and row.error == final.data["error"] and row.lease_until is None
    assert messages(stack, "s-fragile") == []
