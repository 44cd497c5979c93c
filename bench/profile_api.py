"""Where the app's CPU goes for one ``POST /api/flows/{id}/runs`` (JSON, a trivial 3-node flow).

    python bench/profile_api.py [--runs N] [--tiny] [--postgres URL]

The app runs as a subprocess (fresh SQLite file, or a private schema on a PostgreSQL server;
run recording as configured by default) and
gets N runs one at a time (no concurrency: the time of one request, not queueing), twice: once
unprofiled for its CPU time, once under ``cProfile`` (bench/_profiled_app.py, switched on and
off by signals so start-up stays out; every thread the app starts while it is on is profiled).
Printed: the app's CPU per request (``time.process_time`` of the whole process over the N
requests, read from ``/proc``), its share by layer (each function's own time, grouped by the
package it lives in), and the cumulative time of the steps a run takes (auth, reading the
flow, starting and recording the run, the engine, the JSON answer).
"""
from __future__ import annotations

import argparse
import asyncio
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, cpu_seconds, database_with_token, emit, machine, private_schema, table, wait_until_serving

LAYERS = [  # (label, path fragment): the first that matches a function's file wins
    ("engine (runtime/engine)", "/runtime/engine/"),
    ("runtime (nodes, templating, flow)", "/runtime/"),
    ("storage (recorder, repos)", "/storage/"),
    ("editor: API routes, services, auth", "/editor/"),
    ("SQLAlchemy + sqlite3", "sqlalchemy"),
    ("pydantic", "pydantic"),
    ("FastAPI", "/fastapi/"),
    ("Starlette (its BaseHTTPMiddleware: NiceGUI's three)", "starlette/middleware/base.py"),
    ("Starlette", "/starlette/"),
    ("anyio + sniffio (task groups, streams of BaseHTTPMiddleware)", "/anyio/"),
    ("anyio + sniffio (task groups, streams of BaseHTTPMiddleware)", "/sniffio/"),
    ("uvicorn + httptools (HTTP)", "uvicorn"),
    ("uvicorn + httptools (HTTP)", "/h11/"),
    ("json", "/json/"),
    ("asyncio", "/asyncio/"),
    ("NiceGUI", "nicegui"),
]
STEPS = [  # (label, function name, file fragment): cumulative time per request
    ("the whole request (ASGI app)", "__call__", "fastapi/applications.py"),
    ("auth (principal from the token)", "require_principal", "editor/api/deps.py"),
    ("the run route", "run_flow", "editor/api/runs.py"),
    ("reading the flow (FlowService.read)", "read", "editor/services/flows.py"),
    ("RunService.start", "start", "editor/services/runs.py"),
    ("the engine (Run.execute)", "execute", "runtime/engine/run.py"),
    ("recording (recorder)", "observe", "storage/recorder.py"),
    ("JSON answer (serialize_response)", "serialize_response", "fastapi/routing.py"),
]


def layer_of(path: str) -> str:
    for label, fragment in LAYERS:
        if fragment in path:
            return label
    return "other (stdlib, C calls)"


async def post_runs(url: str, token: str, flow: dict[str, Any], runs: int) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        assert (await client.post("/api/flows", json=flow)).status_code in (201, 409)
        for _ in range(runs):
            response = await client.post(f"/api/flows/{flow['flow_id']}/runs", json={"inputs": {"user_message": "hi"}})
            assert response.status_code == 200 and response.json()["status"] == "succeeded", response.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--tiny", action="store_true", help="5 runs: checks that it works")
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL (a private schema is used); default SQLite")
    parser.add_argument("--keep-profile", default="", help="also copy the app's cProfile output here")
    args = parser.parse_args()
    if args.tiny:
        args.runs = 5
    sys.path.insert(0, str(ROOT))
    from tests.integration.api import harness
    from tests.processes import free_port

    workdir = Path(tempfile.mkdtemp(prefix="akis-profile-api-"))
    profile = workdir / "app.prof"
    database_url, drop_schema = f"sqlite:///{workdir / 'akis.db'}", None
    if args.postgres:
        database_url, drop_schema = private_schema(args.postgres)
    token = database_with_token(database_url, "profile")
    port = free_port()
    env = harness.server_env({"AKIS_HOST": "127.0.0.1", "AKIS_PORT": str(port), "AKIS_DATABASE_URL": database_url})
    log = (workdir / "server.log").open("ab")
    env["AKIS_PROFILE_OUT"] = str(profile)
    app = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_profiled_app.py")],
                           cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, app)
        flow = harness.trivial_flow("echo")
        asyncio.run(post_runs(url, token, flow, 20))  # warm-up: plans, caches, first imports
        cpu0 = cpu_seconds(app.pid)
        asyncio.run(post_runs(url, token, flow, args.runs))
        cpu_ms = (cpu_seconds(app.pid) - cpu0) / args.runs * 1000
        app.send_signal(signal.SIGUSR1)  # profile only these requests
        time.sleep(0.5)
        asyncio.run(post_runs(url, token, flow, args.runs))
        app.send_signal(signal.SIGUSR2)
        for _ in range(100):
            if profile.exists():
                break
            time.sleep(0.1)
    finally:
        app.send_signal(signal.SIGINT)
        try:
            app.wait(60)
        except subprocess.TimeoutExpired:
            app.kill()
        if drop_schema is not None:
            drop_schema()
    if args.keep_profile:
        shutil.copy(profile, args.keep_profile)
    stats = pstats.Stats(str(profile))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table here
    total = sum(entry[2] for entry in raw.values())
    layers: dict[str, float] = {}
    for (path, _, _), entry in raw.items():
        layers[layer_of(path)] = layers.get(layer_of(path), 0.0) + entry[2]
    requests = args.runs + 1  # profiled: the flow's creation (a 409) too
    steps = []
    for label, name, fragment in STEPS:
        cumulative = sum(entry[3] for (path, _, func), entry in raw.items() if func == name and fragment in path)
        steps.append([label, cumulative / requests * 1000])
    shutil.rmtree(workdir, ignore_errors=True)
    top = sorted(raw.items(), key=lambda kv: -kv[1][2])[:15]
    profiled_ms = total / requests * 1000
    print(table(["function (own CPU time)", "ms per request"],
                [[f"{Path(path).name}:{line} {func}", entry[2] / requests * 1000] for (path, line, func), entry in top],
                f"profiled CPU per request {profiled_ms:.2f} ms (main thread and threads started while profiling)"))
    print()
    print(f"app CPU per request (no profiler counted: /proc, {args.runs} requests): {cpu_ms:.2f} ms\n")
    print(table(["layer (own time)", "share %"],
                [[name, 100 * t / total] for name, t in sorted(layers.items(), key=lambda kv: -kv[1])],
                "own time by layer while profiled"))
    print()
    print(table(["step (cumulative, profiled)", "ms per request"], steps))
    emit({"benchmark": "profile_api", "tiny": args.tiny, "runs": args.runs,
          "database": "postgresql" if args.postgres else "sqlite", "cpu_ms_per_request": round(cpu_ms, 3),
          "profiled_cpu_ms_per_request": round(profiled_ms, 3),
          "layers_pct": {k: round(100 * v / total, 1) for k, v in layers.items()},
          "steps_ms": {label: round(ms, 3) for label, ms in steps}, **machine()})


if __name__ == "__main__":
    main()
