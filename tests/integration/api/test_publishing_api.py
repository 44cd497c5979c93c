"""Publishable keys over HTTP: a key runs its own flow only, from an allowed Origin, within its
rate, until revoked; it is stored hashed, it is no API token, and another tenant cannot see or
revoke it. What the widget's route streams is the answer only; a visitor rates the runs of their
own widget session only."""
from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx

from .conftest import TENANT_A, Api
from .harness import chat_flow, sse_events

SHOP = "https://shop.example"
WIDGET = "/api/widget/flows/{}/runs"


async def make_flow(a: httpx.AsyncClient, prefix: str) -> str:
    flow_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    created = await a.post("/api/flows", json=chat_flow(flow_id, chunks=3, text="hello from the shop"))
    assert created.status_code == 201, created.text
    return flow_id


async def make_key(a: httpx.AsyncClient, flow_id: str, rate: int = 20) -> dict[str, Any]:
    created = await a.post(f"/api/flows/{flow_id}/keys",
                           json={"name": "shop site", "allowed_origins": [SHOP + "/"], "rate_per_minute": rate})
    assert created.status_code == 201, created.text
    return dict(created.json())


async def recorded_runs(a: httpx.AsyncClient, flow_id: str) -> list[dict[str, Any]]:
    """The flow's recorded runs, once the recorder wrote the first (it records after the stream ends)."""
    for _ in range(100):
        runs = (await a.get(f"/api/runs?flow_id={flow_id}")).json()
        if runs:
            return list(runs)
        await asyncio.sleep(0.05)
    return []


def widget_call(client: httpx.AsyncClient, flow_id: str, key: str, origin: str | None = SHOP,
                session: str = "visitor1") -> Any:
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    if origin is not None:
        headers["Origin"] = origin
    return client.stream("POST", WIDGET.format(flow_id), headers=headers,
                         json={"message": "hi", "session_id": session})


async def refused(client: httpx.AsyncClient, flow_id: str, key: str, origin: str | None = SHOP) -> httpx.Response:
    async with widget_call(client, flow_id, key, origin) as response:
        await response.aread()
        return response


async def test_a_key_runs_its_own_flow_from_an_allowed_origin_and_streams_the_answer_only(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client() as anyone:
        flow_id = await make_flow(a, "pub")
        created = await make_key(a, flow_id)
        key = created["key"]
        assert key.startswith("akispub_") and created["allowed_origins"] == [SHOP]
        listed = (await a.get(f"/api/flows/{flow_id}/keys")).json()
        assert [k["id"] for k in listed] == [created["id"]] and key not in str(listed)

        preflight = await anyone.options(WIDGET.format(flow_id), headers={
            "Origin": SHOP, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == SHOP
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

        async with widget_call(anyone, flow_id, key) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["access-control-allow-origin"] == SHOP
            events = [e async for e in sse_events(response)]
        names = {e.event for e in events}
        assert names == {"message.chunk", "run.finished"}, names  # no node's events, no internals
        assert "".join(e.data["text"] for e in events if e.event == "message.chunk") == "hello from the shop"
        finished = events[-1].data
        assert finished["status"] == "succeeded" and "tenant_id" not in finished
        # the visitor's session is kept apart from the tenant's others, and the run is the tenant's
        runs = await recorded_runs(a, flow_id)
        assert len(runs) == 1 and runs[0]["session_id"] == f"pub-{created['id']}-visitor1"


def draft_then_answer_flow(flow_id: str) -> dict[str, Any]:
    """in -> draft (AI) -> answer (AI, rewrites the draft) -> out: two nodes stream, one is the answer."""
    def ai(node_id: str, prompt: str, text: str) -> dict[str, Any]:
        return {"id": node_id, "type": "ai_response", "config": {
            "provider": "mock", "prompt": prompt, "provider_options": {"chunks": 3, "text": text}}}
    return {
        "akis": 1, "flow_id": flow_id, "name": "Draft then answer",
        "nodes": [{"id": "in", "type": "user_input"},
                  ai("draft", "{{ user_message }}", "private draft with internal notes"),
                  ai("answer", "Polish this: {{ answer }}", "the polished answer"),
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "draft"}, {"source": "draft", "target": "answer"},
                  {"source": "answer", "target": "out"}],
    }


async def test_the_visitor_sees_the_answer_nodes_chunks_only_not_an_intermediate_nodes(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client() as anyone:
        flow_id = f"pub-draft-{uuid.uuid4().hex[:8]}"
        created = await a.post("/api/flows", json=draft_then_answer_flow(flow_id))
        assert created.status_code == 201, created.text
        key = (await make_key(a, flow_id))["key"]
        async with widget_call(anyone, flow_id, key) as response:
            assert response.status_code == 200, await response.aread()
            events = [e async for e in sse_events(response)]
        streamed = "".join(e.data["text"] for e in events if e.event == "message.chunk")
        assert streamed == "the polished answer", streamed
        assert "draft" not in str([e.data for e in events])  # neither its text nor its id
        assert events[-1].event == "run.finished" and events[-1].data["status"] == "succeeded"


async def test_a_key_is_refused_for_another_flow_another_origin_and_every_other_route(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client() as anyone:
        flow_id, other_flow = await make_flow(a, "pub"), await make_flow(a, "other")
        key = (await make_key(a, flow_id))["key"]
        wrong_flow = await refused(anyone, other_flow, key)
        assert wrong_flow.status_code == 403 and wrong_flow.json()["code"] == "wrong_flow"
        evil = await refused(anyone, flow_id, key, origin="https://evil.example")
        assert evil.status_code == 403 and evil.json()["code"] == "origin_not_allowed"
        no_origin = await refused(anyone, flow_id, key, origin=None)
        assert no_origin.status_code == 403 and no_origin.json()["code"] == "origin_not_allowed"
        own_page = await refused(anyone, flow_id, "akispub_nope_nope", origin=api.url)
        assert own_page.status_code == 401 and own_page.json()["code"] == "key_invalid"
        token_there = await refused(anyone, flow_id, api.token_a)
        assert token_there.status_code == 401 and token_there.json()["code"] == "key_invalid"
        as_token = {"Authorization": f"Bearer {key}"}
        for method, path, body in (("POST", f"/api/flows/{flow_id}/runs", {"inputs": {"user_message": "hi"}}),
                                   ("GET", "/api/flows", None), ("GET", "/api/runs", None),
                                   ("GET", f"/api/flows/{flow_id}/keys", None),
                                   ("POST", f"/api/flows/{flow_id}/keys", {"allowed_origins": [SHOP]}),
                                   ("GET", f"/api/channels/tenant.{TENANT_A}.conversation.visitor1/events", None)):
            response = await anyone.request(method, path, json=body, headers=as_token)
            assert response.status_code == 401, (method, path, response.status_code)


async def test_the_rate_the_revocation_and_another_tenant(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client(api.token_b) as b, api.client() as anyone:
        flow_id = await make_flow(a, "pub")
        created = await make_key(a, flow_id, rate=2)
        key = created["key"]
        for _ in range(2):
            async with widget_call(anyone, flow_id, key) as response:
                assert response.status_code == 200
                assert [e async for e in sse_events(response)][-1].event == "run.finished"
        limited = await refused(anyone, flow_id, key)
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1 and limited.headers["access-control-allow-origin"] == SHOP
        # tenant B sees none of A's keys and cannot revoke one
        assert (await b.get(f"/api/flows/{flow_id}/keys")).status_code == 404
        assert (await b.delete(f"/api/keys/{created['id']}")).status_code == 404
        assert (await b.post(f"/api/flows/{flow_id}/keys", json={"allowed_origins": [SHOP]})).status_code == 404
        assert (await a.delete(f"/api/keys/{created['id']}")).status_code == 204
        revoked = await refused(anyone, flow_id, key)
        assert revoked.status_code == 401 and revoked.json()["code"] == "key_revoked"
        assert (await a.delete(f"/api/keys/{created['id']}")).status_code == 404
        assert (await a.get(f"/api/flows/{flow_id}/keys")).json()[0]["revoked_at"] is not None


async def widget_run_id(client: httpx.AsyncClient, flow_id: str, key: str, session: str) -> str:
    async with widget_call(client, flow_id, key, session=session) as response:
        assert response.status_code == 200, await response.aread()
        finished = [e async for e in sse_events(response)][-1]
    assert finished.event == "run.finished" and finished.data["status"] == "succeeded"
    return str(finished.data["run_id"])


async def rate(client: httpx.AsyncClient, flow_id: str, key: str, run_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"{WIDGET.format(flow_id)}/{run_id}/feedback", json=body,
                             headers={"Authorization": f"Bearer {key}", "Origin": SHOP})


async def test_a_visitor_rates_the_runs_of_their_own_session_only(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client(api.token_b) as b, api.client() as anyone:
        flow_id, other_flow = await make_flow(a, "pub"), await make_flow(a, "other")
        created = await make_key(a, flow_id)
        key, stored_session = created["key"], f"pub-{created['id']}-visitor1"
        own = await widget_run_id(anyone, flow_id, key, "visitor1")
        theirs = await widget_run_id(anyone, flow_id, key, "visitor2")

        preflight = await anyone.options(f"{WIDGET.format(flow_id)}/{own}/feedback", headers={
            "Origin": SHOP, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == SHOP
        given = await rate(anyone, flow_id, key, own, rating="up", session_id="visitor1")
        assert given.status_code == 200, given.text
        assert given.json()["rating"] == "up" and given.headers["access-control-allow-origin"] == SHOP
        again = await rate(anyone, flow_id, key, own, rating="down", comment=" too short ", session_id="visitor1")
        assert again.status_code == 200, again.text
        stored = (await a.get(f"/api/runs/{own}/feedback")).json()  # the tenant sees it on that run
        assert (stored["rating"], stored["comment"]) == ("down", "too short")  # one a run: the last counts

        # the tenant's other flow and tenant B's flow of the same id, each run in the visitor's stored session
        elsewhere = await a.post(f"/api/flows/{other_flow}/runs",
                                 json={"inputs": {"user_message": "hi"}, "session_id": stored_session})
        assert (await b.post("/api/flows", json=chat_flow(flow_id, chunks=2, text="b"))).status_code == 201
        tenant_b = await b.post(f"/api/flows/{flow_id}/runs",
                                json={"inputs": {"user_message": "hi"}, "session_id": stored_session})
        for run_id in (theirs, elsewhere.json()["run_id"], tenant_b.json()["run_id"], "no-such-run"):
            refused_run = await rate(anyone, flow_id, key, run_id, rating="up", session_id="visitor1")
            assert refused_run.status_code == 404, (run_id, refused_run.text)
            assert refused_run.json()["code"] == "run_not_found"
        assert (await a.get(f"/api/runs/{theirs}/feedback")).status_code == 404
        assert (await b.get(f"/api/runs/{tenant_b.json()['run_id']}/feedback")).status_code == 404

        for body, field in (({"rating": "meh", "session_id": "visitor1"}, "rating"),
                            ({"rating": "up", "comment": "x" * 2001, "session_id": "visitor1"}, "comment"),
                            ({"rating": "up"}, "session_id")):
            bad = await rate(anyone, flow_id, key, own, **body)
            assert bad.status_code == 422 and bad.json()["code"] == "bad_request", bad.text
            assert bad.json()["detail"].startswith(f"the request is not widget feedback: {field}"), bad.text
        no_key = await anyone.post(f"{WIDGET.format(flow_id)}/{own}/feedback", json={"rating": "up"})
        assert no_key.status_code == 401 and no_key.json()["code"] == "key_invalid"
        assert (await a.get(f"/api/runs/{own}/feedback")).json()["rating"] == "down"  # untouched by the refusals


async def test_bad_origins_are_named_and_keys_are_stored_hashed(api: Api) -> None:
    from storage.db import Database
    from storage.tables.publishing import PublishableKey

    async with api.client(api.token_a) as a:
        flow_id = await make_flow(a, "pub")
        bad = await a.post(f"/api/flows/{flow_id}/keys", json={"allowed_origins": ["shop.example/path"]})
        assert bad.status_code == 422 and "shop.example/path" in bad.json()["detail"]
        created = await make_key(a, flow_id)
    database = Database(api.database_url)
    try:
        with database.session() as session:
            row = session.get(PublishableKey, created["id"])
            assert row is not None and row.tenant_id == TENANT_A and row.flow_id == flow_id
            assert row.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
            assert created["key"] not in str(row.model_dump())
    finally:
        database.dispose()
