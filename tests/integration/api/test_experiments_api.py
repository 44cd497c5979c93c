"""A/B tests through the HTTP API (issue 17): runs follow the experiment per session, an explicit
version bypasses it, weights/pause/promote change who gets what, feedback lands on the right run,
another tenant gets 404, and the mock provider's delay shows up in the analysis."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx

from .conftest import Api
from .harness import AppServer, chat_flow


async def two_version_flow(client: httpx.AsyncClient, *, delays: tuple[float, float] = (0, 0)) -> str:
    flow_id = f"ab-{uuid.uuid4().hex[:8]}"
    one = chat_flow(flow_id, chunks=1, text="answer one", delay_ms=delays[0])
    two = chat_flow(flow_id, chunks=1, text="answer two", delay_ms=delays[1])
    assert (await client.post("/api/flows", json=one)).status_code == 201
    assert (await client.put(f"/api/flows/{flow_id}", json=two)).status_code == 200
    return flow_id


async def run(client: httpx.AsyncClient, flow_id: str, session: str, **extra: object) -> dict[str, object]:
    response = await client.post(f"/api/flows/{flow_id}/runs",
                                 json={"inputs": {"user_message": "hi"}, "session_id": session, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def version_of(client: httpx.AsyncClient, flow_id: str, session: str) -> int:
    return 1 if (await run(client, flow_id, session))["answer"] == "answer one" else 2


async def stored(client: httpx.AsyncClient, run_id: str) -> dict[str, object]:
    """The run's row (written just after the run ends)."""
    for _ in range(200):
        response = await client.get(f"/api/runs/{run_id}")
        if response.status_code == 200:
            return dict(response.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} was not recorded")


async def test_runs_follow_the_experiment_by_session_until_promoted(api: Api) -> None:
    async with api.client(api.token_a) as a:
        flow_id = await two_version_flow(a)
        created = await a.post("/api/experiments", json={
            "flow_id": flow_id, "name": "shorter prompt", "start": True, "min_runs": 10,
            "variants": [{"name": "control", "version": 1, "weight": 50},
                         {"name": "short", "version": 2, "weight": 50}]})
        assert created.status_code == 201, created.text
        experiment = created.json()
        assert experiment["status"] == "running" and [v["name"] for v in experiment["variants"]] == ["control", "short"]
        sessions = [f"s{n}-{uuid.uuid4().hex[:6]}" for n in range(16)]
        first = {s: await version_of(a, flow_id, s) for s in sessions}
        assert set(first.values()) == {1, 2}
        assert {s: await version_of(a, flow_id, s) for s in sessions} == first  # sticky per session
        result = await run(a, flow_id, sessions[0])
        row = await stored(a, str(result["run_id"]))
        assert row["experiment_id"] == experiment["id"]
        assert row["variant"] == ("control" if first[sessions[0]] == 1 else "short")
        assert row["flow_version"] == first[sessions[0]]
        pinned = await run(a, flow_id, sessions[0], version=3 - first[sessions[0]])  # explicit version: bypass
        assert (await stored(a, str(pinned["run_id"])))["experiment_id"] is None

        weights = await a.put(f"/api/experiments/{experiment['id']}/weights",
                              json={"weights": {"control": 0, "short": 100}})
        assert weights.status_code == 200
        assert {s: await version_of(a, flow_id, s) for s in sessions} == first  # assigned sessions keep theirs
        assert {await version_of(a, flow_id, f"new-{n}-{uuid.uuid4().hex[:6]}") for n in range(5)} == {2}
        assert (await a.post(f"/api/experiments/{experiment['id']}/pause")).json()["status"] == "paused"
        assert {await version_of(a, flow_id, f"late-{n}-{uuid.uuid4().hex[:6]}") for n in range(5)} == {1}

        listed = await a.get("/api/experiments", params={"flow_id": flow_id})
        assert [e["id"] for e in listed.json()] == [experiment["id"]]
        analysis = (await a.get(f"/api/experiments/{experiment['id']}/analysis")).json()
        assert sum(v["runs"] for v in analysis["variants"]) >= 2 * len(sessions) + 5
        assert analysis["winner"] is None and any("Peeking" in note for note in analysis["notes"])

        # the flow's current version is 2 (the last saved): promoting the control moves it back to 1
        promoted = await a.post(f"/api/experiments/{experiment['id']}/promote", json={"variant": "control"})
        assert promoted.status_code == 200 and promoted.json()["status"] == "promoted"
        assert promoted.json()["winner"] == "control"
        assert (await a.get(f"/api/flows/{flow_id}")).json()["current_version"] == 1
        fresh = await run(a, flow_id, f"after-{uuid.uuid4().hex[:6]}")
        assert fresh["answer"] == "answer one" and (await stored(a, str(fresh["run_id"])))["experiment_id"] is None
        assert await version_of(a, flow_id, sessions[0]) == 1  # every session: the experiment has ended
        again = await a.post(f"/api/experiments/{experiment['id']}/start")
        assert again.status_code == 409 and "ended" in again.json()["detail"]


async def test_bad_experiments_get_a_clear_422_or_404(api: Api) -> None:
    async with api.client(api.token_a) as a:
        flow_id = await two_version_flow(a)
        body = {"flow_id": flow_id, "variants": [{"name": "A", "version": 1, "weight": 60},
                                                 {"name": "B", "version": 2, "weight": 30}]}
        response = await a.post("/api/experiments", json=body)
        assert response.status_code == 422 and "add up to 90" in response.json()["detail"]
        body["variants"][1] = {"name": "B", "version": 7, "weight": 40}  # type: ignore[index]  # a list in the test's own dict
        response = await a.post("/api/experiments", json=body)
        assert response.status_code == 422 and "variant 'B'" in response.json()["detail"]
        missing = await a.post("/api/experiments", json={**body, "flow_id": "no-such-flow"})
        assert missing.status_code == 404
        tenant = await a.post("/api/experiments", json={**body, "tenant_id": "3"})
        assert tenant.status_code == 422


async def test_feedback_lands_on_the_run_and_other_tenants_get_404(api: Api) -> None:
    async with api.client(api.token_a) as a, api.client(api.token_b) as b:
        flow_id = await two_version_flow(a)
        experiment = (await a.post("/api/experiments", json={
            "flow_id": flow_id, "start": True, "min_runs": 10, "primary_metric": "positive_feedback",
            "variants": [{"name": "A", "version": 1, "weight": 50}, {"name": "B", "version": 2, "weight": 50}]})).json()
        result = await run(a, flow_id, f"fb-{uuid.uuid4().hex[:6]}")
        run_id = str(result["run_id"])
        given = await a.post(f"/api/runs/{run_id}/feedback", json={"rating": "up", "comment": "helpful"})
        assert given.status_code == 200 and given.json()["rating"] == "up"
        assert (await a.get(f"/api/runs/{run_id}/feedback")).json()["comment"] == "helpful"
        assert (await b.post(f"/api/runs/{run_id}/feedback", json={"rating": "down"})).status_code == 404
        assert (await b.get(f"/api/runs/{run_id}/feedback")).status_code == 404
        assert (await b.get(f"/api/experiments/{experiment['id']}")).status_code == 404
        assert (await b.get(f"/api/experiments/{experiment['id']}/analysis")).status_code == 404
        assert (await b.post(f"/api/experiments/{experiment['id']}/stop")).status_code == 404
        assert (await b.get("/api/experiments")).json() == []
        assert (await a.post(f"/api/runs/{run_id}/feedback", json={"rating": "meh"})).status_code == 422
        await stored(a, run_id)
        analysis = (await a.get(f"/api/experiments/{experiment['id']}/analysis")).json()
        assert sum(v["feedback_count"] for v in analysis["variants"]) == 1
        assert (await a.post(f"/api/experiments/{experiment['id']}/stop")).json()["status"] == "stopped"


async def test_the_mock_providers_delay_shows_in_the_analysis(api: Api) -> None:
    """30 ms against 80 ms before the first chunk: the slower variant is called worse once both
    have the planned 12 runs, and not before."""
    async with api.client(api.token_a) as a:
        flow_id = await two_version_flow(a, delays=(30, 80))
        experiment = (await a.post("/api/experiments", json={
            "flow_id": flow_id, "start": True, "min_runs": 12,
            "variants": [{"name": "fast", "version": 1, "weight": 50},
                         {"name": "slow", "version": 2, "weight": 50}]})).json()
        counts = {1: 0, 2: 0}
        ids: list[str] = []
        n = 0
        while min(counts.values()) < 12:
            result = await run(a, flow_id, f"lat-{n}-{uuid.uuid4().hex[:6]}")
            counts[1 if result["answer"] == "answer one" else 2] += 1
            ids.append(str(result["run_id"]))
            n += 1
        for run_id in ids:
            await stored(a, run_id)
        analysis = (await a.get(f"/api/experiments/{experiment['id']}/analysis")).json()
        fast, slow = analysis["variants"]
        assert fast["first_chunk_p50"] < slow["first_chunk_p50"] and analysis["ready"]
        assert slow["verdict"] == "worse" and analysis["winner"] == "fast"
        difference = slow["comparisons"]["first_chunk_ms"]["difference"]
        assert 20 < difference["estimate"] < 80 and difference["low"] > 0
        await a.post(f"/api/experiments/{experiment['id']}/stop")


async def test_sessions_keep_their_variant_on_a_second_instance_and_after_its_restart(
        api: Api, tmp_path: Path) -> None:
    """A second app process over the same database routes every session as the first did, and so
    does it again once restarted (the variant comes from the stored assignment or the same hash)."""
    async with api.client(api.token_a) as a:
        flow_id = await two_version_flow(a)
        created = await a.post("/api/experiments", json={
            "flow_id": flow_id, "start": True,
            "variants": [{"name": "A", "version": 1, "weight": 50}, {"name": "B", "version": 2, "weight": 50}]})
        assert created.status_code == 201
        sessions = [f"multi-{n}-{uuid.uuid4().hex[:6]}" for n in range(12)]
        first = {s: await version_of(a, flow_id, s) for s in sessions[:6]}
    second = AppServer(tmp_path, env={"AKIS_DATABASE_URL": api.database_url}).start()
    try:
        async with httpx.AsyncClient(base_url=second.url, headers=api.headers(api.token_a), timeout=30.0) as b:
            assert {s: await version_of(b, flow_id, s) for s in sessions[:6]} == first  # assigned on instance 1
            first.update({s: await version_of(b, flow_id, s) for s in sessions[6:]})  # new ones, on instance 2
        assert set(first.values()) == {1, 2}
        second.stop()
        second.start()  # a restart: nothing in memory
        async with httpx.AsyncClient(base_url=second.url, headers=api.headers(api.token_a), timeout=30.0) as b:
            assert {s: await version_of(b, flow_id, s) for s in sessions} == first
    finally:
        second.stop()
    async with api.client(api.token_a) as a:
        assert {s: await version_of(a, flow_id, s) for s in sessions[6:]} == {s: first[s] for s in sessions[6:]}
    assert "Traceback" not in second.log()
