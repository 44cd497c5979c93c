"""Saving flows: nothing is stored that cannot be read back and validated, every error is the
documented JSON, and rows stored before these checks answer a clear JSON error, never a 500."""
from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import TENANT_A, Api
from .harness import trivial_flow

JSON = {"content-type": "application/json"}


def documented_error(response: httpx.Response) -> dict[str, Any]:
    """An API error: JSON ``{"detail": ...}`` (plus ``problems`` for a flow), no traceback."""
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.status_code,
        response.text[:200],
    )
    body = response.json()
    assert isinstance(body, dict) and "detail" in body, body
    assert isinstance(body["detail"], (str, list)) and "Traceback" not in response.text
    for problem in body.get("problems", []):
        assert isinstance(problem["code"], str) and isinstance(problem["message"], str), problem
    return body


def new_log(api: Api, since: int) -> str:
    return api.server.log()[since:]


def bomb_flow(flow_id: str) -> dict[str, Any]:
    flow = trivial_flow(flow_id)
    flow["nodes"][1]["config"]["template"] = "{{ (9**5000)|string }}"
    return flow


def surrogate_flow_text(flow_id: str) -> str:
    flow = trivial_flow(flow_id)
    flow["nodes"][0]["label"] = "\ud800"
    return json.dumps(flow)  # ensure_ascii: the JSON text holds the escape "\ud800"


async def refused_and_not_stored(client: httpx.AsyncClient, flow_id: str, body: str | bytes) -> dict[str, Any]:
    response = await client.post("/api/flows", content=body, headers=JSON)
    assert response.status_code == 422, (response.status_code, response.text[:300])
    error = documented_error(response)
    gone = await client.get(f"/api/flows/{flow_id}")
    assert gone.status_code == 404 and documented_error(gone)
    return error


async def test_a_template_bomb_is_refused_naming_node_and_field_and_not_stored(api: Api) -> None:
    since = len(api.server.log())
    async with api.client(api.token_a) as a:
        error = await refused_and_not_stored(a, "bomb", json.dumps(bomb_flow("bomb")))
        assert any(p.get("node_id") == "t" and p.get("field") == "config.template" for p in error["problems"]), error
        imported = await a.post("/api/flows/import", content=json.dumps(bomb_flow("bomb")), headers=JSON)
        assert imported.status_code == 422 and documented_error(imported)["problems"]
        assert (await a.get("/api/flows/bomb")).status_code == 404
    assert "Traceback" not in new_log(api, since)


async def test_a_lone_surrogate_is_refused_naming_node_and_field_and_not_stored(api: Api) -> None:
    async with api.client(api.token_a) as a:
        error = await refused_and_not_stored(a, "surrogate", surrogate_flow_text("surrogate"))
        [problem] = error["problems"]
        assert problem["node_id"] == "in" and problem["field"] == "label" and "surrogate" in problem["message"]
        listing = await a.get("/api/flows")
        assert listing.status_code == 200 and "surrogate" not in [f["flow_id"] for f in listing.json()]


@pytest.mark.parametrize("body, key", [
    ('{"akis": 1, "flow_id": "dup-root", "flow_id": "dup-other", "nodes": []}', "flow_id"),
    ('{"akis": 1, "flow_id": "dup-root", "nodes": [{"id": "in", "type": "user_input", "type": "output"}]}', "type"),
    (('{"akis": 1, "flow_id": "dup-root", "nodes": [{"id": "t", "type": "template", '
      '"config": {"template": "a", "output_key": "answer", "template": "b"}}]}'), "template"),
    ('{"akis": 1, "flow_id": "dup-root", "settings": {"cache_events": {"e": ["a"], "e": ["b"]}}}', "e"),
])
async def test_duplicate_keys_are_refused_naming_the_key(api: Api, body: str, key: str) -> None:
    async with api.client(api.token_a) as a:
        error = await refused_and_not_stored(a, "dup-root", body)
        assert (await a.get("/api/flows/dup-other")).status_code == 404
        [problem] = error["problems"]
        assert f"duplicate key {key!r}" in problem["message"], problem


@pytest.mark.parametrize("value, words", [
    ("NaN", "NaN is not a JSON number"), ("-Infinity", "-Infinity is not a JSON number"),
    ("1e999", "too large for a float"), ("9" * 5000, "5000 digits"), ('"a\\u0000b"', "NUL"),
])
async def test_values_that_cannot_be_kept_are_refused_naming_node_and_field(api: Api, value: str, words: str) -> None:
    text = json.dumps(trivial_flow("odd-value")).replace(
        '"output_key": "answer"', f'"output_key": "answer", "x": {value}'
    )
    async with api.client(api.token_a) as a:
        error = await refused_and_not_stored(a, "odd-value", text)
        [problem] = error["problems"]
        assert words in problem["message"] and problem["node_id"] == "t" and problem["field"] == "config.x", problem


async def test_every_api_error_is_the_documented_json(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client() as anonymous:
        assert (await a.post("/api/flows", json=trivial_flow("json-errors"))).status_code == 201
        answers = {
            "401": await anonymous.get("/api/flows"),
            "404 flow": await a.get("/api/flows/no-such-flow"),
            "404 route": await a.get("/api/no/such/route"),
            "405": await a.patch("/api/flows"),
            "409": await a.post("/api/flows", json=trivial_flow("json-errors")),
            "413": await a.post("/api/flows", content=b"{" + b" " * (7 * 1024 * 1024) + b"}", headers=JSON),
            "415": await a.post(
                "/api/flows", content=json.dumps(trivial_flow("x")), headers={"content-type": "text/plain"}
            ),
            "422 not json": await a.post("/api/flows", content=b"{not json", headers=JSON),
            "422 not utf-8": await a.post("/api/flows", content=b'{"flow_id": "\xff"}', headers=JSON),
            "422 query": await a.get("/api/flows/json-errors/export?version=0"),
            "422 other flow": await a.put("/api/flows/json-errors", json=trivial_flow("not-this-one")),
            "422 events": await a.post("/api/events", json={"event": ""}),
        }
    expected = {name: int(name.split()[0]) for name in answers}
    assert {name: r.status_code for name, r in answers.items()} == expected
    for response in answers.values():
        documented_error(response)


def store_unchecked(api: Api, flow_id: str, document: dict[str, Any]) -> None:
    """Write a version the way an older Akis did: no strict parse, no validation."""
    from storage.db import Database
    from storage.models import Flow, FlowVersion
    from storage.repos.tenants import ensure_tenant
    from storage.types import utcnow

    def write(session: Any) -> None:
        ensure_tenant(session, TENANT_A)
        now = utcnow()
        session.add(Flow(tenant_id=TENANT_A, id=flow_id, name=str(document.get("name", "")), current_version=1,
                         created_at=now, updated_at=now))
        session.add(FlowVersion(tenant_id=TENANT_A, flow_id=flow_id, version=1, document=document, created_at=now))

    database = Database(api.database_url)
    try:
        database.call(write)
    finally:
        database.dispose()


async def test_rows_stored_before_the_checks_answer_json_not_500(api: Api) -> None:
    surrogate = trivial_flow("old-surrogate")
    surrogate["nodes"][0]["label"] = "\ud800"
    shapeless = {"akis": 1, "flow_id": "old-shapeless", "nodes": "not a list"}
    store_unchecked(api, "old-surrogate", surrogate)
    store_unchecked(api, "old-shapeless", shapeless)
    store_unchecked(api, "old-bomb", bomb_flow("old-bomb"))
    since = len(api.server.log())
    async with api.client(api.token_a) as a:
        listing = await a.get("/api/flows")
        assert listing.status_code == 200 and {"old-surrogate", "old-shapeless", "old-bomb"} <= {
            f["flow_id"] for f in listing.json()
        }
        for flow_id in ("old-surrogate", "old-shapeless"):
            for path in (f"/api/flows/{flow_id}", f"/api/flows/{flow_id}/export"):
                response = await a.get(path)
                assert response.status_code == 422, (path, response.status_code, response.text[:200])
                assert "cannot be read" in documented_error(response)["detail"]
        bomb = await a.get("/api/flows/old-bomb")
        assert bomb.status_code == 200 and any(p.get("field") == "config.template" for p in bomb.json()["problems"])
        for flow_id in ("old-surrogate", "old-shapeless", "old-bomb"):
            run = await a.post(f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": "hi"}})
            assert run.status_code == 422, (flow_id, run.status_code, run.text[:200])
            documented_error(run)
        # the way out: save a good version over it, or delete it
        fixed = await a.put("/api/flows/old-surrogate", json=trivial_flow("old-surrogate"))
        assert fixed.status_code == 200 and fixed.json()["current_version"] == 2
        assert (await a.delete("/api/flows/old-shapeless")).status_code == 204
    assert "Traceback" not in new_log(api, since)
