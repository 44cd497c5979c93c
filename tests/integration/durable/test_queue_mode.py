"""Queue mode end to end: the web process stores and queues the run, an ``akis worker`` process
executes it, the events come back through Redis; cancel and resume from another instance."""
from __future__ import annotations

import httpx

from tests.cluster.counting import CountingEndpoint as Counting
from tests.integration.api.harness import sse_events

from .stack import Stack, durable_flow, messages, stored_run, wait_for


def client(url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60.0)


async def stream_run(url: str, token: str, flow_id: str, session: str) -> tuple[str, list[tuple[str, str, dict]]]:
    """POST a run with Accept: text/event-stream; its id and every (id, event, data) frame."""
    body = {"inputs": {"user_message": "hi"}, "session_id": session}
    async with client(url, token) as c, c.stream("POST", f"/api/flows/{flow_id}/runs", json=body,
                                                 headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200, await response.aread()
        frames = [(e.id or "", e.event, e.data) async for e in sse_events(response)]
        return response.headers["x-akis-run-id"], frames


async def test_a_queued_run_executes_in_a_worker_and_streams_back(stack: Stack, counting: Counting) -> None:
    app = stack.start_app()
    stack.start_worker()
    async with client(app.url, stack.token) as c:
        assert (await c.post("/api/flows", json=durable_flow("queued", counting.url, chunks=12))).status_code == 201
        run_id, frames = await stream_run(app.url, stack.token, "queued", "s-queued")
        text = "".join(d["text"] for _, e, d in frames if e == "message.chunk")
        assert frames[-1][1] == "run.finished" and frames[-1][2]["status"] == "succeeded"
        assert text == " ".join(f"w{i}" for i in range(12))
        assert [int(i) for i, _, _ in frames] == list(range(len(frames)))  # one stream, numbered from 0
        plain = await c.post("/api/flows/queued/runs", json={"inputs": {"user_message": "again"}})
        assert plain.status_code == 200 and plain.json()["status"] == "succeeded" and plain.json()["answer"] == text

        def recorded() -> bool:
            row = httpx.get(f"{app.url}/api/runs/{run_id}", headers={"Authorization": f"Bearer {stack.token}"})
            return row.json()["status"] == "succeeded"

        wait_for(recorded, "the run row")
        row = (await c.get(f"/api/runs/{run_id}")).json()
        assert row["output"] and row["status"] == "succeeded"
        # the worker recorded each node with the row's end (node inspection, as for inline runs)
        nodes = (await c.get(f"/api/runs/{run_id}/nodes")).json()["nodes"]
        assert [n["node_id"] for n in nodes] == ["in", "effect", "ai", "out"]
        ai = (await c.get(f"/api/runs/{run_id}/nodes/ai")).json()
        assert ai["status"] == "succeeded" and ai["text"] == text and ai["attempts"] == 1
    assert counting.keys[f"{run_id}:effect"] == 1
    run = stored_run(stack, run_id)
    assert run.worker and run.attempts == 1 and run.lease_until is None  # a worker held it, once
    wait_for(lambda: len(messages(stack, "s-queued")) == 2, "the saved exchange")
    assert messages(stack, "s-queued") == [("user", "hi"), ("assistant", text)]


async def test_a_queued_experiment_run_tags_its_node_metric_rows(stack: Stack, counting: Counting) -> None:
    """The worker writes the node metric rows of a queued run: an experiment's carry its variant."""
    from sqlalchemy import text

    from storage.db import Database

    app = stack.start_app()
    stack.start_worker()
    async with client(app.url, stack.token) as c:
        assert (await c.post("/api/flows", json=durable_flow("tagged", counting.url, chunks=3))).status_code == 201
        created = await c.post("/api/experiments", json={
            "flow_id": "tagged", "name": "all on control", "start": True,
            "variants": [{"name": "control", "version": 1, "weight": 100},
                         {"name": "idle", "version": 1, "weight": 0}]})
        assert created.status_code == 201, created.text
        experiment_id = created.json()["id"]
        ran = await c.post("/api/flows/tagged/runs", json={"inputs": {"user_message": "hi"}, "session_id": "s-tag"})
        assert ran.status_code == 200 and ran.json()["status"] == "succeeded", ran.text
        run_id = ran.json()["run_id"]
    database = Database(stack.database_url)

    def tags() -> set[tuple[str | None, str | None]]:
        with database.engine.connect() as connection:
            rows = connection.execute(text("SELECT experiment_id, variant FROM tenant_flow_metrics "
                                           "WHERE run_id = :run AND node_id = 'ai'"), {"run": run_id})
            return {(r[0], r[1]) for r in rows}

    try:
        wait_for(lambda: bool(tags()), "the worker's metric rows")
        assert tags() == {(experiment_id, "control")}
        row = stored_run(stack, run_id)
        assert (row.experiment_id, row.variant) == (experiment_id, "control")
    finally:
        database.dispose()


async def test_a_worker_answers_with_the_tenants_stored_credentials(stack: Stack) -> None:
    """A key and base URL saved in Settings reach the worker that executes the run (same secret key)."""
    from tests.fakes.llm_server import DEFAULT_TEXT, FakeLLMServer

    app = stack.start_app()
    stack.start_worker()
    flow = {"akis": 1, "flow_id": "keyed", "name": "Keyed",
            "nodes": [{"id": "in", "type": "user_input"},
                      {"id": "ai", "type": "ai_response", "config": {"provider": "openai", "model": "gpt-4o-mini"}},
                      {"id": "out", "type": "output"}],
            "edges": [{"source": "in", "target": "ai"}, {"source": "ai", "target": "out"}]}
    async with FakeLLMServer() as llm, client(app.url, stack.token) as c:
        saved = await c.put("/api/credentials/openai", json={"api_key": "sk-stored-7f3e", "base_url": llm.openai_url})
        assert saved.status_code == 200, saved.text
        assert (await c.post("/api/flows", json=flow)).status_code == 201
        ran = await c.post("/api/flows/keyed/runs", json={"inputs": {"user_message": "hi"}})
        assert ran.status_code == 200 and ran.json()["status"] == "succeeded", ran.text
        assert ran.json()["answer"] == "".join(DEFAULT_TEXT)
    assert [r.headers.get("authorization") for r in llm.requests] == ["Bearer sk-stored-7f3e"]
    assert stored_run(stack, ran.json()["run_id"]).worker  # executed by the worker, not the web process


async def test_a_worker_serves_the_metrics_of_the_runs_it_executed(stack: Stack, counting: Counting) -> None:
    """``akis worker --metrics-port``: the runs a worker executes are counted there (queue mode), read
    with the metrics token like the app's /metrics; parsed with prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    from tests.processes import free_port

    port = free_port()
    stack.extra_env["AKIS_METRICS_TOKEN"] = "worker-scrape-5d1"
    app = stack.start_app()
    stack.start_worker(2, "--metrics-port", str(port), cli="app")
    wait_for(lambda: "worker metrics at" in stack.worker_logs(), "the worker's metrics server")
    async with client(app.url, stack.token) as c:
        assert (await c.post("/api/flows", json=durable_flow("counted", counting.url, chunks=4))).status_code == 201
        for n in range(3):
            ran = await c.post("/api/flows/counted/runs", json={"inputs": {"user_message": f"m{n}"}})
            assert ran.status_code == 200 and ran.json()["status"] == "succeeded", ran.text
    url = f"http://127.0.0.1:{port}/metrics"
    async with httpx.AsyncClient(timeout=10.0) as scraper:
        assert (await scraper.get(url)).status_code == 401
        assert (await scraper.get(url, headers={"Authorization": "Bearer nope"})).status_code == 403
    saved = ("akis_background_node_duration_seconds_count", (("node_type", "save_message"), ("status", "succeeded")))

    def scrape() -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
        page = httpx.get(url, headers={"Authorization": "Bearer worker-scrape-5d1"}, timeout=10.0)
        assert page.status_code == 200
        return page.text, {(s.name, tuple(sorted(s.labels.items()))): s.value
                           for family in text_string_to_metric_families(page.text) for s in family.samples}

    wait_for(lambda: scrape()[1].get(saved) == 3, "the three saves (background jobs) counted")
    text, samples = scrape()
    assert samples[("akis_runs_total", (("flow", "counted"), ("status", "succeeded")))] == 3
    assert samples[("akis_run_duration_seconds_count", (("flow", "counted"),))] == 3
    assert samples[("akis_run_first_chunk_seconds_count", (("flow", "counted"),))] == 3
    assert samples[("akis_node_duration_seconds_count", (("node_type", "http_request"),))] == 3
    assert ("akis_runs_in_flight", ()) in samples
    assert "worker-scrape-5d1" not in text
