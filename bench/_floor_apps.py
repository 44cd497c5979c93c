"""Two HTTP apps that do no work, for bench/bench_http_floor.py: what serving a JSON run costs
before any of it is Akis's. Both answer ``POST /api/flows/{flow_id}/runs`` with a body shaped
like a run's result, on uvicorn with the same defaults as the app (uvloop, httptools).

    python bench/_floor_apps.py asgi|fastapi PORT
"""
from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

ANSWER: dict[str, Any] = {"run_id": "0" * 32, "flow_id": "echo", "status": "succeeded",
                          "output": {"answer": "echo: hi"}, "error": None, "duration_ms": 0.1,
                          "channel": "tenant:1:session:" + "0" * 32, "relay": "ok"}


async def raw_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The least a Python ASGI app can do: read the body, parse it, answer JSON."""
    if scope["type"] != "http":
        while scope["type"] == "lifespan":  # startup, then shutdown: each acknowledged
            kind = (await receive())["type"]
            await send({"type": f"{kind}.complete"})
            if kind == "lifespan.shutdown":
                return
        return
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    if body:
        json.loads(body)
    payload = json.dumps(ANSWER).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class RunRequest(BaseModel):
    inputs: dict[str, Any] = {}
    session_id: str | None = None


class RunOut(BaseModel):
    run_id: str
    flow_id: str
    status: str
    output: dict[str, Any] | None = None
    error: str | None = None
    duration_ms: float | None = None
    channel: str
    relay: str


fastapi_app = FastAPI()


@fastapi_app.post("/api/flows/{flow_id}/runs", response_model=RunOut)
async def run_flow(flow_id: str, body: RunRequest) -> RunOut:
    """A FastAPI route as the app's: a path parameter, a validated body, a response model."""
    return RunOut(**{**ANSWER, "flow_id": flow_id})


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(raw_asgi if kind == "asgi" else fastapi_app, host="127.0.0.1", port=port, log_level="warning")
