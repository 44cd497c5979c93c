"""``GET /api/runs/{id}`` and ``GET /api/runs`` carry the run's trace id (null when it was not traced)."""
from __future__ import annotations

import uuid

from .conftest import TENANT_A, Api

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def record(api: Api, run_id: str, trace_id: str | None) -> None:
    """A finished run as the recorder writes it (the app's database, from the test process)."""
    from storage.db import Database
    from storage.repos.runs import record_run

    database = Database(api.database_url)
    try:
        database.call(record_run, TENANT_A, run_id, "traced-flow", status="succeeded", duration_ms=42.0,
                      trace_id=trace_id)
    finally:
        database.dispose()


async def test_a_stored_run_returns_its_trace_id(api: Api) -> None:
    traced, untraced = f"traced-{uuid.uuid4().hex[:8]}", f"untraced-{uuid.uuid4().hex[:8]}"
    record(api, traced, TRACE)
    record(api, untraced, None)
    async with api.client(api.token_a) as a:
        one = await a.get(f"/api/runs/{traced}")
        assert one.status_code == 200 and one.json()["trace_id"] == TRACE
        assert (await a.get(f"/api/runs/{untraced}")).json()["trace_id"] is None
        listed = {r["run_id"]: r["trace_id"] for r in (await a.get("/api/runs?flow_id=traced-flow")).json()}
        assert listed[traced] == TRACE and listed[untraced] is None
        schema = (await a.get("/openapi.json")).json()["components"]["schemas"]["StoredRun"]["properties"]
        assert "trace_id" in schema
    async with api.client(api.token_b) as b:  # another tenant: not found, the id not shown
        response = await b.get(f"/api/runs/{traced}")
        assert response.status_code == 404 and TRACE not in response.text
