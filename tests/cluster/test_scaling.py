"""The scaling signal an autoscaler reads, on any instance: runs made through one web process
show in the other's readiness JSON and on its Prometheus /metrics (the figures come from the
runs table every instance shares), and this process's own in-flight count is there too."""
from __future__ import annotations

import asyncio
import re
import uuid

import httpx

from tests.integration.api.harness import chat_flow, trivial_flow

from .clients import bearer, create_token
from .cluster import wait_until
from .conftest import MakeCluster

METRICS_TOKEN = "cluster-metrics-token"
RUNS = 6


def sample(text: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_latency_and_queue_figures_are_readable_on_every_instance(cluster: MakeCluster) -> None:
    started = cluster(web=2, workers=0, env={"AKIS_RUN_MODE": "inline", "AKIS_METRICS_TOKEN": METRICS_TOKEN})
    token = create_token(started.database_url)
    web1, web2 = started.web
    flow_id = f"echo-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=web1.url, headers=bearer(token), timeout=30.0) as client:
        assert client.post("/api/flows", json=trivial_flow(flow_id)).status_code in (200, 201)
        for n in range(RUNS):
            response = client.post(f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": f"m{n}"}})
            assert response.status_code == 200, response.text

    def web2_counts_them() -> bool:
        return int(web2.readiness()["scaling"]["latency"]["runs"]) >= RUNS

    wait_until(web2_counts_them, "web2's scaling figures to include web1's runs", 30.0, 0.5)
    scaling = web2.readiness()["scaling"]
    assert scaling["queue_depth"] == 0 and scaling["running"] == 0 and scaling["lease_expired"] == 0
    assert scaling["in_process"] == 0 and scaling["job_queue"] == 0
    latency = scaling["latency"]
    assert 0 < latency["p50_ms"] <= latency["p99_ms"]
    with httpx.Client(timeout=10.0) as client:
        assert client.get(web2.url + "/metrics").status_code == 401  # the figures span tenants: token only
        text = client.get(web2.url + "/metrics", headers=bearer(METRICS_TOKEN)).text
    assert sample(text, "akis_runs_queued") == 0
    assert sample(text, "akis_runs_lease_expired") == 0
    assert "# TYPE akis_worker_runs_in_flight gauge" in text
    p50 = sample(text, "akis_recent_run_seconds", '{measure="duration",quantile="0.5"}')
    assert p50 is not None and abs(p50 - latency["p50_ms"] / 1000.0) < 1.0
    assert sample(text, "akis_runs_in_flight") == 0  # this process's own runs (the existing gauge)


async def test_queue_depth_and_runs_per_worker_in_queue_mode(cluster: MakeCluster) -> None:
    started = cluster(web=2, workers=0, env={"AKIS_RUN_MODE": "queue", "AKIS_METRICS_TOKEN": METRICS_TOKEN})
    token = create_token(started.database_url)
    web1, web2 = started.web
    flow_id = f"slow-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=web1.url, headers=bearer(token), timeout=30.0) as client:
        flow = chat_flow(flow_id, chunks=200, tokens_per_second=20)  # about 10 s a run
        assert (await client.post("/api/flows", json=flow)).status_code in (200, 201)
        for n in range(3):  # no worker yet: the runs wait in the queue (their clients leave)
            async with client.stream("POST", f"/api/flows/{flow_id}/runs", json={"inputs": {"user_message": f"{n}"}},
                                     headers={"Accept": "text/event-stream"}) as response:
                assert response.status_code == 200
    def three_queued() -> bool:  # a reading is reused for 2 s: the first may predate the runs
        return int(web2.readiness()["scaling"]["queue_depth"]) == 3

    await asyncio.to_thread(wait_until, three_queued, "web2 to count the three queued runs", 30.0, 0.25)
    scaling = (await asyncio.to_thread(web2.readiness))["scaling"]
    assert scaling["queue_depth"] == 3 and scaling["oldest_queued_s"] >= 0 and scaling["running"] == 0
    async with httpx.AsyncClient(timeout=10.0) as client:
        text = (await client.get(web2.url + "/metrics", headers=bearer(METRICS_TOKEN))).text
    assert sample(text, "akis_runs_queued") == 3
    assert sample(text, "akis_runs_oldest_queued_seconds") is not None

    worker = started.add_worker(("--concurrency", "2"))  # scaling out: it takes two at once
    holder = f":{worker.pid}"

    def two_held() -> bool:
        figures = web2.readiness()["scaling"]
        return any(name.endswith(holder) and count == 2 for name, count in figures["running_per_worker"].items())

    await asyncio.to_thread(wait_until, two_held, "the new worker to hold two runs", 60.0, 0.1)
    found: list[tuple[str, str]] = []

    def scraped() -> bool:  # web1's own reading (each instance reads the runs table itself)
        text = httpx.get(web1.url + "/metrics", headers=bearer(METRICS_TOKEN), timeout=10.0).text
        found[:] = re.findall(r'^akis_worker_runs_in_flight\{worker="([^"]+)"\} (\S+)$', text, re.MULTILINE)
        return bool(found)

    await asyncio.to_thread(wait_until, scraped, "web1's /metrics to show the worker's runs", 30.0, 0.25)
    assert [(name.endswith(holder), float(count)) for name, count in found] == [(True, 2.0)]
