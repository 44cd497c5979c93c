"""Secret canaries (the app's secret key and provider API keys, set in the server's
environment) never appear in an API response, an export, an event, or a log line."""
from __future__ import annotations

import asyncio

from .conftest import TENANT_A, Api
from .harness import sse_events


def provider_flow(flow_id: str, provider: str, credential: str | None = None) -> dict:
    config = {"provider": provider, "model": "m-1"}
    if credential:
        config["credential"] = credential
    return {
        "akis": 1, "flow_id": flow_id,
        "nodes": [{"id": "in", "type": "user_input"}, {"id": "ai", "type": "ai_response", "config": config},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}],
    }


async def test_no_canary_in_responses_exports_events_or_logs(api: Api) -> None:
    seen: list[str] = []
    session = "canary-session"
    async with api.client(api.token_a) as client:
        for flow_id, provider, credential in (("canary-anthropic", "anthropic", None),
                                              ("canary-openai", "openai", None),
                                              ("canary-shop", "openai_compatible", "shop")):
            created = await client.post("/api/flows", json=provider_flow(flow_id, provider, credential))
            seen.append(created.text)
            run = await client.post(f"/api/flows/{flow_id}/runs",
                                    json={"inputs": {"user_message": "hi"}, "session_id": session})
            seen.append(run.text)
            assert run.status_code == 200 and run.json()["status"] == "failed", run.text  # nothing listens there
            assert run.json()["failed_node"] == "ai" and run.json()["error"]
            async with client.stream("POST", f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": "hi"}},
                                     headers={"Accept": "text/event-stream"}) as streamed:
                seen.extend(repr(e) for e in [e async for e in sse_events(streamed)])
            seen.append((await client.get(f"/api/flows/{flow_id}/export")).text)
            seen.append((await client.get(f"/api/flows/{flow_id}")).text)
        async with client.stream("GET", f"/api/channels/tenant.{TENANT_A}.conversation.{session}/events?after=0") as ch:
            async for event in sse_events(ch):
                seen.append(repr(event))
                if event.event == "run.finished" and event.data.get("flow_id") == "canary-shop":
                    break
        for path in ("/api/runs", "/api/metrics", "/api/cache/stats", "/api/flows", "/healthz", "/openapi.json"):
            response = await client.get(path)
            seen.append(response.text + repr(dict(response.headers)))
        seen.append((await client.post("/api/events", json={"event": "product.updated"})).text)
    await asyncio.sleep(0.5)  # let the server write what it logs about those runs
    log = api.server.log()
    assert "canary-shop" in "".join(seen)  # the checks did see real answers
    for token in (api.token_a, api.token_b):  # API tokens are credentials too: never logged
        assert token not in log
    for canary in api.canaries:
        assert canary not in log, "a secret reached the server log"
        for text in seen:
            assert canary not in text, f"a secret reached a response: {text[:200]}"
