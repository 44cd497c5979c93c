"""API requests skip BaseHTTPMiddleware layers (NiceGUI's page-only ones) and keep everything
else: pure-ASGI middleware in its order, exception handlers, JSON errors, streams."""
from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from editor.api import dispatch, errors


class PageOnly(BaseHTTPMiddleware):
    """Stands for NiceGUI's layers: marks every answer it sees."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-page-layer"] = "seen"
        return response


class Order:
    """Pure ASGI: appends its name to ``x-order``, so the test sees which ran, outermost last."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message["headers"])
                headers[b"x-order"] = headers.get(b"x-order", b"") + self.name
                message = {**message, "headers": list(headers.items())}
            await send(message)

        await self.app(scope, receive, marked)


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/ok")
    async def ok(request: Request) -> dict[str, str]:
        return {"traceparent": request.headers.get("traceparent", "")}

    @app.get("/api/denied")
    async def denied() -> dict[str, str]:
        raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/api/boom")
    async def boom() -> dict[str, str]:
        raise ValueError("broken")

    @app.get("/api/stream")
    async def stream() -> StreamingResponse:
        async def frames():
            for i in range(3):
                yield f"data: {i}\n\n".encode()
        return StreamingResponse(frames(), media_type="text/event-stream")

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/page")
    async def page() -> dict[str, str]:
        return {"page": "yes"}

    errors.install(app)
    app.add_middleware(Order, name="a")
    app.add_middleware(Order, name="b")
    app.add_middleware(PageOnly)  # added last, as ui.run adds NiceGUI's: the outermost
    dispatch.install(app)
    return app


def test_api_requests_skip_the_basehttp_layers_and_keep_the_pure_asgi_ones() -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    api, health, page = client.get("/api/ok"), client.get("/healthz"), client.get("/page")
    assert "x-page-layer" not in api.headers and "x-page-layer" not in health.headers
    assert page.headers["x-page-layer"] == "seen"  # pages still pass every layer
    assert api.headers["x-order"] == health.headers["x-order"] == page.headers["x-order"] == "ab"
    assert api.json() == {"traceparent": ""}
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert client.get("/api/ok", headers={"traceparent": parent}).json() == {"traceparent": parent}


def test_api_errors_keep_their_json_bodies_and_headers(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    denied = client.get("/api/denied")
    assert denied.status_code == 401 and denied.json() == {"detail": "authentication required"}
    assert denied.headers["www-authenticate"] == "Bearer"
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    with caplog.at_level(logging.ERROR, logger="akis.api"):
        boom = client.get("/api/boom")
    assert boom.status_code == 500 and boom.json()["detail"].startswith("internal error ")
    assert [r for r in caplog.records if r.name == "akis.api" and "ValueError" in r.getMessage()]


def test_an_api_stream_passes_whole() -> None:
    client = TestClient(make_app())
    response = client.get("/api/stream")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
