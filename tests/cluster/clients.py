"""What a test does as a user of the cluster: a token, a stored flow, a streamed run."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from storage.db import init_db
from storage.repos import tokens
from tests.integration.api.harness import SseEvent, sse_events


def create_token(database_url: str, tenant_id: str = "2") -> str:
    """A bearer token of ``tenant_id``, written straight to the cluster's database."""
    database = init_db(database_url, seed_demo=False)
    try:
        _, token = database.call(tokens.create_token, tenant_id, "cluster tests")
        return token
    finally:
        database.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Transcript:
    """One client's view of a streamed run: every event, the run id, and the last event id."""

    run_id: str = ""
    events: list[SseEvent] = field(default_factory=list)

    @property
    def last_id(self) -> str | None:
        return self.events[-1].id if self.events else None

    @property
    def finished(self) -> SseEvent | None:
        return next((e for e in self.events if e.event == "run.finished"), None)

    def text(self) -> str:
        return "".join(e.data.get("text", "") for e in self.events if e.event == "message.chunk")


async def put_flow(client: httpx.AsyncClient, document: dict[str, Any]) -> None:
    response = await client.post("/api/flows", json=document)
    assert response.status_code in (200, 201), response.text


async def stream_run(client: httpx.AsyncClient, flow_id: str, inputs: dict[str, Any], transcript: Transcript,
                     session_id: str | None = None, stop_after_chunks: int | None = None) -> Transcript:
    """POST a streamed run and read it into ``transcript`` (to run.finished, or until
    ``stop_after_chunks`` chunks when given: the client goes away there)."""
    body: dict[str, Any] = {"inputs": inputs, **({"session_id": session_id} if session_id else {})}
    async with client.stream("POST", f"/api/flows/{flow_id}/runs", json=body,
                             headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        transcript.run_id = response.headers["x-akis-run-id"]
        await read_into(sse_events(response), transcript, stop_after_chunks)
    return transcript


async def read_into(events: AsyncIterator[SseEvent], transcript: Transcript,
                    stop_after_chunks: int | None = None) -> None:
    """Append ``events`` (one response's ``sse_events``, read on where it stopped) to ``transcript``."""
    chunks = 0
    async for event in events:
        transcript.events.append(event)
        if event.event == "message.chunk":
            chunks += 1
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                return
        if event.event == "run.finished":
            return
