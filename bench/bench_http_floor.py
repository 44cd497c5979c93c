"""What an HTTP JSON run costs at the least, beside what it costs in Akis: the floor under the
target "an HTTP JSON run of a trivial flow, with run recording and metrics on, at least 0.6 of
``engine.run`` in process".

    python bench/bench_http_floor.py [--runs N] [--tiny]

CPU per run of the trivial 3-node flow, each over N runs made one at a time (the cost of one
run, not queueing), in this order of work added:
- ``engine.run`` in this process (the target's baseline);
- the same run through the runs service in this process, as the HTTP route starts it: the
  stored flow read, the run and its node records written to SQLite, Prometheus metrics on;
- HTTP apps that do no work, on uvicorn with the app's defaults (uvloop, httptools): a bare
  ASGI function, and a FastAPI route with a validated body and a response model
  (bench/_floor_apps.py); the server's CPU per request, read from ``/proc``;
- the app's own ``POST /api/flows/echo/runs``, the same way.

The best ratio any HTTP run could reach by CPU is the engine's cost over (the runs service's
+ the HTTP floor's): every cost of the route beyond them taken as zero.
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import ROOT, cpu_seconds, database_with_token, emit, machine, table, wait_until_serving

TENANT = "1"
INPUTS = {"user_message": "hi"}


async def cpu_per_call(call: Callable[[], Awaitable[Any]], runs: int) -> float:
    """This process's CPU (every thread) per call, in ms, after a warm-up."""
    for _ in range(min(20, runs)):
        await call()
    start = time.process_time()
    for _ in range(runs):
        await call()
    return (time.process_time() - start) / runs * 1000


async def engine_cpu(flow: dict[str, Any], runs: int) -> float:
    from runtime import Engine

    engine = Engine()

    async def one() -> None:
        assert (await engine.run(flow, INPUTS)).status == "succeeded"
    return await cpu_per_call(one, runs)


async def service_cpu(flow: dict[str, Any], workdir: Path, runs: int) -> float:
    """The route's work without HTTP: ``RunService.start_stored`` and the run's result, its
    record written before the next run starts (the CPU of the writer's thread counted)."""
    from editor.context import create_context
    from runtime.settings import AkisSettings

    settings = AkisSettings(_env_file=None, database_url=f"sqlite:///{workdir / 'service.db'}",  # type: ignore[call-arg]
                            data_dir=workdir / ".akis", warmup_interval_s=0, metrics_token="bench")
    context = create_context(settings)
    await context.startup()
    try:
        await context.flows.create(TENANT, flow)

        async def one() -> None:
            started = await context.runs.start_stored(TENANT, str(flow["flow_id"]), INPUTS)
            assert (await started.handle.result()).status == "succeeded"
            await context.recorder.drain()
        ms = await cpu_per_call(one, runs)
        assert context.recorder.recorded >= runs, context.recorder.recorded
        return ms
    finally:
        await context.shutdown()


def server_cpu(command: list[str], url: str, token: str, flow: dict[str, Any] | None, runs: int,
               workdir: Path, env: dict[str, str]) -> float:
    """A server's CPU per ``POST /api/flows/echo/runs``, in ms, from ``/proc``."""
    import httpx

    from tests.processes import stop_process

    with open(workdir / "server.log", "ab") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        wait_until_serving(url, process)
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            if flow is not None:
                assert client.post("/api/flows", json=flow).status_code == 201

            def post() -> None:
                response = client.post("/api/flows/echo/runs", json={"inputs": INPUTS})
                assert response.status_code == 200 and response.json()["status"] == "succeeded", response.text
            for _ in range(min(20, runs)):
                post()
            before = cpu_seconds(process.pid)
            for _ in range(runs):
                post()
            return (cpu_seconds(process.pid) - before) / runs * 1000
    finally:
        stop_process(process, 15)


def measure(runs: int) -> dict[str, float]:
    from tests.integration.api import harness
    from tests.processes import free_port

    flow = harness.trivial_flow("echo")
    workdir = Path(tempfile.mkdtemp(prefix="akis-bench-floor-"))
    try:
        out = {"engine": asyncio.run(engine_cpu(flow, runs)),
               "service": asyncio.run(service_cpu(flow, workdir, runs))}
        env = harness.server_env({})
        for kind in ("asgi", "fastapi"):
            port = free_port()
            out[kind] = server_cpu([sys.executable, str(ROOT / "bench" / "_floor_apps.py"), kind, str(port)],
                                   f"http://127.0.0.1:{port}", "", None, runs, workdir, env)
        port, database_url = free_port(), f"sqlite:///{workdir / 'app.db'}"
        token = database_with_token(database_url, "floor")
        app_env = harness.server_env({"AKIS_HOST": "127.0.0.1", "AKIS_PORT": str(port),
                                      "AKIS_DATABASE_URL": database_url, "AKIS_METRICS_TOKEN": "bench"})
        out["app"] = server_cpu([sys.executable, str(ROOT / "app.py")], f"http://127.0.0.1:{port}", token, flow,
                                runs, workdir, app_env)
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tiny", action="store_true", help="50 runs each: checks that it works")
    args = parser.parse_args()
    runs = 50 if args.tiny else args.runs
    ms = measure(runs)
    engine, service = ms["engine"], ms["service"]
    rows = [
        ["engine.run in process (the baseline)", engine, 1.0],
        ["the runs service in process (recording, metrics)", service, engine / service],
        ["HTTP, a bare ASGI app (uvicorn)", ms["asgi"], None],
        ["HTTP, a FastAPI route (uvicorn)", ms["fastapi"], None],
        ["the runs service + the bare ASGI app", service + ms["asgi"], engine / (service + ms["asgi"])],
        ["the runs service + the FastAPI route", service + ms["fastapi"], engine / (service + ms["fastapi"])],
        ["the app: POST /api/flows/echo/runs", ms["app"], engine / ms["app"]],
    ]
    print(table(["CPU per run (one at a time)", "ms", "engine.run / this"], rows,
                f"the trivial flow, {runs} runs each"))
    emit({"benchmark": "http_floor", "tiny": args.tiny, "runs": runs, **machine(),
          **{f"{name}_ms": round(value, 4) for name, value in ms.items()},
          "best_ratio_fastapi": round(engine / (service + ms["fastapi"]), 4),
          "best_ratio_asgi": round(engine / (service + ms["asgi"]), 4), "app_ratio": round(engine / ms["app"], 4)})


if __name__ == "__main__":
    main()
