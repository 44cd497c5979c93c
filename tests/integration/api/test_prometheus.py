"""Prometheus ``/metrics`` and JSON logs on the real app (a subprocess, docs/observability.md).

Runs a few flows, scrapes before and after, parses both with ``prometheus_client``'s own
parser and checks that counters and histogram counts moved by exactly what ran. The same app
logs JSON (``AKIS_LOG_FORMAT=json``); a tenant plugin logs during runs (once from a task of
its own, once with the app's secret key in the message) and every line must parse, carry its
run's ids, and never hold a secret.
"""
from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .harness import AppServer, chat_flow, search_flow, trivial_flow

TENANT = "2"
PLUGIN = '''
import asyncio
import logging
import os

from runtime.nodes.base import NodeConfig, NodeType

log = logging.getLogger("tests.noisy")


class Noisy(NodeType):
    type_id = "noisy_log"
    title = "Noisy"
    description = "Logs during a run (tests)."
    category = "integration"
    Config = NodeConfig

    async def run(self, config, ctx):
        log.info("noisy node %s ran", ctx.node_id)
        await asyncio.create_task(self.aside())
        log.warning("careless: the secret key is %s", os.environ.get("AKIS_SECRET_KEY"))
        return {"noisy": True}

    async def aside(self):
        log.info("from a task of its own")
'''

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class App:
    server: AppServer
    token: str
    metrics_token: str
    canaries: list[str]

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=30.0)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    from storage.db import init_db
    from storage.repos import tokens

    workdir: Path = tmp_path_factory.mktemp("akis-prometheus")
    (workdir / "plugins" / f"tenant_{TENANT}").mkdir(parents=True)
    (workdir / "plugins" / f"tenant_{TENANT}" / "noisy.py").write_text(PLUGIN, encoding="utf-8")
    database_url = f"sqlite:///{workdir / 'akis.db'}"
    database = init_db(database_url, seed_demo=False)
    _, token = database.call(tokens.create_token, TENANT, "prometheus tests")
    database.dispose()
    canaries = [f"canary{n}-{secrets.token_hex(12)}" for n in range(2)]
    metrics_token = secrets.token_hex(16)
    server = AppServer(workdir, env={
        "AKIS_DATABASE_URL": database_url,
        "AKIS_PLUGINS_DIR": str(workdir / "plugins"),
        "AKIS_LOG_FORMAT": "json",
        "AKIS_METRICS_TOKEN": metrics_token,
        "AKIS_SECRET_KEY": canaries[0],
        "OPENAI_API_KEY": canaries[1],  # the OpenAI provider is not used by these flows
    }).start()
    try:
        yield App(server, token, metrics_token, canaries)
    finally:
        server.stop()


def failing_flow(flow_id: str = "failing") -> dict:
    """An HTTP call to loopback, which the SSRF guard refuses: the node and the run fail."""
    return {
        "akis": 1, "flow_id": flow_id,
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "call", "type": "http_request", "config": {"url": "http://127.0.0.1:9/", "timeout_s": 2}},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "call"}, {"source": "call", "target": "out"}],
    }


def noisy_flow(flow_id: str = "noisy") -> dict:
    return {
        "akis": 1, "flow_id": flow_id,
        "nodes": [{"id": "in", "type": "user_input"}, {"id": "noise", "type": "noisy_log"},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "noise"}, {"source": "noise", "target": "out"}],
    }


async def scrape(app: App) -> Samples:
    async with app.client(app.metrics_token) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def run(client: httpx.AsyncClient, flow_id: str, message: str = "pallet jack") -> dict:
    response = await client.post(f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": message}})
    assert response.status_code == 200, response.text
    return response.json()


async def test_metrics_move_by_what_ran(app: App) -> None:
    async with app.client(app.token) as client:
        saving = chat_flow("saving", chunks=2)
        saving["nodes"].append({"id": "save", "type": "save_message"})  # a background node
        saving["edges"].append({"source": "ai", "target": "save"})
        for flow in (trivial_flow("echo"), chat_flow("chat", chunks=5), search_flow("search"), failing_flow(), saving):
            assert (await client.post("/api/flows", json=flow)).status_code in (201, 409)
        before = await scrape(app)
        results = [await run(client, "echo") for _ in range(3)]
        results += [await run(client, "chat") for _ in range(2)]
        searches = [await run(client, "search", "forklift battery") for _ in range(3)]
        failed = await run(client, "failing")
        saved = [await run(client, "saving") for _ in range(2)]
        for _ in range(50):  # the background saves end after the answer
            after = await scrape(app)
            if moved(before, after, "akis_background_node_duration_seconds_count", node_type="save_message",
                     status="succeeded") >= 2:
                break
            await asyncio.sleep(0.1)
    assert failed["status"] == "failed", failed
    assert all(r["status"] == "succeeded" for r in [*results, *searches])
    assert [s["nodes"]["search"]["cache"] for s in searches] == ["miss", "hit", "hit"]

    assert moved(before, after, "akis_runs_total", flow="echo", status="succeeded") == 3
    assert moved(before, after, "akis_runs_total", flow="chat", status="succeeded") == 2
    assert moved(before, after, "akis_runs_total", flow="search", status="succeeded") == 3
    assert moved(before, after, "akis_runs_total", flow="failing", status="failed") == 1
    assert moved(before, after, "akis_node_failures_total", node_type="http_request") == 1
    assert moved(before, after, "akis_node_duration_seconds_count", node_type="http_request") == 1
    assert moved(before, after, "akis_run_duration_seconds_count", flow="echo") == 3
    assert moved(before, after, "akis_run_duration_seconds_bucket", flow="echo", le="+Inf") == 3
    assert moved(before, after, "akis_run_duration_seconds_sum", flow="echo") > 0
    assert moved(before, after, "akis_run_first_chunk_seconds_count", flow="chat") == 2
    assert moved(before, after, "akis_run_first_chunk_seconds_count", flow="echo") == 0
    assert moved(before, after, "akis_node_duration_seconds_count", node_type="user_input") == 11
    assert moved(before, after, "akis_node_duration_seconds_count", node_type="output") == 10
    assert moved(before, after, "akis_node_duration_seconds_count", node_type="template") == 3
    assert moved(before, after, "akis_node_duration_seconds_count", node_type="ai_response") == 4
    assert moved(before, after, "akis_node_duration_seconds_count", node_type="product_search") == 3
    assert moved(before, after, "akis_cache_lookups_total", node_type="product_search", outcome="miss") == 1
    assert moved(before, after, "akis_cache_lookups_total", node_type="product_search", outcome="hit") == 2
    assert value(after, "akis_cache_lookups_total", node_type="template", outcome="miss") == 0  # never cached
    tokens_out = sum(r.get("usage", {}).get("tokens_out", 0) for r in results)
    assert moved(before, after, "akis_model_tokens_total", flow="chat", direction="out") == tokens_out
    assert value(after, "akis_runs_in_flight") == 0
    assert value(after, "akis_background_jobs_pending") == 0
    assert value(after, "akis_cache_tier_available", tier="memory") == 1
    lookups = "akis_cache_tier_lookups_total"
    assert moved(before, after, lookups, tier="memory", node_type="product_search", outcome="miss") == 1
    assert moved(before, after, lookups, tier="memory", node_type="product_search", outcome="hit") == 2
    assert all(r["status"] == "succeeded" for r in saved)
    background = "akis_background_node_duration_seconds"
    assert moved(before, after, f"{background}_count", node_type="save_message", status="succeeded") == 2
    assert moved(before, after, f"{background}_bucket", node_type="save_message", status="succeeded", le="+Inf") == 2
    labels = {name for (_, pairs) in after for name, _ in pairs}
    assert labels <= {"flow", "status", "node_type", "outcome", "direction", "tier", "le", "generation"}, labels
    # the in-process channel hub keeps these runs' events (for resumes), under its bound
    assert moved(before, after, "akis_channel_events_kept") >= 11 * 4  # each run: started, nodes, finished
    assert value(after, "akis_channel_events_kept_max") == 100_000
    assert value(after, "akis_channels_forgotten_total") == 0


async def test_start_up_froze_what_it_made_in_one_timed_collection(app: App) -> None:
    samples = await scrape(app)
    assert value(samples, "akis_gc_frozen_objects") > 100_000  # the modules, pages, routes and pools
    assert value(samples, "akis_gc_pause_seconds_count", generation="2") >= 1  # the freeze's own collection
    assert value(samples, "akis_gc_pause_seconds_sum", generation="2") > 0
    assert value(samples, "akis_gc_pause_seconds_count", generation="0") >= 1  # young ones since, as it served
    assert value(samples, "akis_gc_pause_seconds_bucket", generation="2", le="+Inf") == value(
        samples, "akis_gc_pause_seconds_count", generation="2")


async def test_metrics_need_the_metrics_token(app: App) -> None:
    async with app.client() as anonymous:
        refused = await anonymous.get("/metrics")
        assert refused.status_code == 401 and refused.headers.get("www-authenticate") == "Bearer"
        assert "akis_runs" not in refused.text
    for wrong in ("not-the-token", app.token):  # a tenant's API token does not read every tenant's metrics
        async with app.client(wrong) as client:
            assert (await client.get("/metrics")).status_code == 403
    async with app.client(app.token) as client:  # the JSON aggregate keeps its own path and auth
        aggregate = await client.get("/api/metrics")
        assert aggregate.status_code == 200 and "rows" in aggregate.json()


async def test_json_log_lines_carry_the_run_and_no_secret(app: App) -> None:
    async with app.client(app.token) as client:
        assert (await client.post("/api/flows", json=noisy_flow())).status_code in (201, 409)
        result = await run(client, "noisy")
    assert result["status"] == "succeeded", result
    log = app.server.log()
    lines = [line for line in log.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert {"time", "level", "logger", "message", "run_id", "tenant_id", "trace_id", "span_id"} <= record.keys()
    noisy = [r for r in records if r["logger"] == "tests.noisy"]
    assert len(noisy) == 3, noisy
    assert all(r["run_id"] == result["run_id"] and r["tenant_id"] == TENANT for r in noisy), noisy
    assert any("[secret]" in r["message"] for r in noisy)
    assert not any(canary in log for canary in app.canaries), "a secret reached the log"
    assert not any(app.metrics_token in line for line in lines)
    assert any(r["message"].startswith("listening on") and r["run_id"] is None for r in records)  # not a print
