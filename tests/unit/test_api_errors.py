"""The API's last line of defence: an exception in a route answers JSON 500 with an id, and the
log gets one line naming it (no traceback); errors of pages are left to NiceGUI."""
from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from editor.api import errors


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/boom")
    async def boom() -> dict[str, str]:
        raise ValueError("Exceeds the limit (4300 digits) for integer string conversion\nsecond line")

    @app.get("/page/boom")
    async def page_boom() -> dict[str, str]:
        raise ValueError("page failure")

    errors.install(app)
    return app


def test_an_exception_in_an_api_route_is_a_json_500_and_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="akis.api"):
        response = client.get("/api/boom")
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert detail.startswith("internal error ") and "4300" not in detail and "Traceback" not in response.text
    [record] = [r for r in caplog.records if r.name == "akis.api"]
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert detail.split()[2].rstrip(":") in record.getMessage() and "ValueError" in record.getMessage()
    assert "test_api_errors.py" in record.getMessage()  # where it happened
    missing = client.get("/api/nothing/here")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}


def test_page_errors_are_not_turned_into_api_answers() -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    response = client.get("/page/boom")
    assert response.status_code == 500 and not response.headers["content-type"].startswith("application/json")
