"""The app with an embedding model configured, against the fake OpenAI server, on SQLite and
PostgreSQL: uploads are embedded in batches and stored, searches embed the query and fuse BM25
with vectors, a citing flow runs on them, and an embedding server's refusal is a clear 422."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.llm_server import FakeLLMServer, status
from tests.integration.storage.conftest import PgSchema

from .harness import AppServer
from .test_knowledge_api import citing_flow


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'akis.db'}"
        return
    schema = PgSchema(request.getfixturevalue("postgres_url"))
    try:
        yield schema.url
    finally:
        schema.drop()


async def test_embeddings_end_to_end(database_url: str, tmp_path: Path) -> None:
    from storage.db import init_db
    from storage.repos import tokens

    database = init_db(database_url, seed_demo=False)
    _, token = database.call(tokens.create_token, "4", "embeddings")
    database.dispose()
    async with FakeLLMServer() as fake:
        app = AppServer(tmp_path, env={
            "AKIS_DATABASE_URL": database_url, "AKIS_EMBEDDING_MODEL": "text-embedding-3-small",
            "AKIS_EMBEDDING_BASE_URL": fake.openai_url, "AKIS_EMBEDDING_API_KEY": "k", "AKIS_EMBEDDING_BATCH_SIZE": "4",
        }).start()
        try:
            async with httpx.AsyncClient(base_url=app.url, headers={"Authorization": f"Bearer {token}"},
                                         timeout=30) as client:
                assert (await client.post("/api/knowledge", json={"id": "docs", "chunk_size": 200,
                                                                  "chunk_overlap": 0})).status_code == 201
                long_text = " ".join(f"Line {i} talks about pallets, forks and wheels." for i in range(40))
                up = await client.put("/api/knowledge/docs/documents/long.txt", content=long_text.encode())
                assert up.status_code == 201 and up.json()["embedding_model"] == "text-embedding-3-small", up.text
                water = await client.put("/api/knowledge/docs/documents/water.md",
                                         content=b"Top up the battery with distilled water after charging.")
                assert water.status_code == 201
                sizes = [len(r.body["input"]) for r in fake.requests]
                assert max(sizes) == 4 and sum(sizes) == up.json()["chunks"] + 1  # batched, every chunk once
                assert all(r.headers.get("authorization") == "Bearer k" for r in fake.requests)

                before = len(fake.requests)
                found = await client.post("/api/knowledge/docs/search", json={"query": "distilled water battery"})
                assert found.status_code == 200 and found.json()[0]["document"] == "water.md"
                assert found.json()[0]["score"] == pytest.approx(2 / 61, rel=1e-3)  # hybrid: first in both
                assert [r.body["input"] for r in fake.requests[before:]] == [["distilled water battery"]]

                flow = citing_flow("cite-embedded", "docs")
                assert (await client.post("/api/flows", json=flow)).status_code == 201
                run = await client.post("/api/flows/cite-embedded/runs",
                                        json={"inputs": {"user_message": "distilled water battery"}})
                assert run.json()["status"] == "succeeded", run.text
                assert run.json()["output"]["citations"][0]["document"] == "water.md"

                reindexed = await client.post("/api/knowledge/docs/reindex")
                assert reindexed.status_code == 200 and reindexed.json() == {"chunks": up.json()["chunks"] + 1}

                fake.script(*[status(500, "embedding backend down")] * 3)
                refused = await client.put("/api/knowledge/docs/documents/new.md", content=b"Some new words.")
                assert refused.status_code == 422
                assert refused.json()["detail"].startswith("embedding model 'text-embedding-3-small': HTTP 500")
                listed = (await client.get("/api/knowledge/docs/documents")).json()
                assert "new.md" not in [d["filename"] for d in listed]
        finally:
            app.stop()
    assert "Traceback" not in app.log(), app.log()[-3000:]
