"""Publishable keys over HTTP: a key runs its own flow only, from an allowed Origin, within its
rate, until revoked; it is stored hashed, it is no API token, and another tenant cannot see or
revoke it. What the widget's route streams is the answer only."""
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
