"""Knowledge bases in the database (SQLite and PostgreSQL), through the knowledge service: upload,
replace, delete, search, tenants apart, limits, embeddings from the fake OpenAI server, and a
cached retrieval cleared by a document change."""
from __future__ import annotations

import asyncio
import json

import pytest

from editor.services.errors import Conflict, Invalid, NotFound
from editor.services.knowledge import KnowledgeService
from runtime import Engine, load_flow
from runtime.cache import build_cache
from runtime.cache.tiered import TieredCache
from runtime.data import EXAMPLES_DIR
from runtime.knowledge.embeddings import OpenAIEmbedder
from runtime.knowledge.memory import EXAMPLE_BASE
from runtime.knowledge.retriever import StoredChunk
from runtime.services import Services
from runtime.settings import AkisSettings
from storage.db import Database, init_db
from storage.knowledge import SqlKnowledge
from storage.repos import knowledge as repo
from tests.fakes.llm_server import FakeLLMServer
from tests.unit.knowledge.pdfs import make_pdf


def service(db: Database, embedder: OpenAIEmbedder | None = None, cache: TieredCache | None = None,
            max_bytes: int = 5 * 1024 * 1024) -> KnowledgeService:
    return KnowledgeService(db, SqlKnowledge(db, embedder), cache, max_bytes)


async def test_upload_search_replace_and_delete(db: Database) -> None:
    kb = service(db)
    await kb.create("2", "help", "Help centre", chunk_size=200, chunk_overlap=20)
    pdf = make_pdf([["Returns are accepted within 30 days.", "A restocking fee of 10% applies."]])
    first = await kb.upload("2", "help", "returns.pdf", pdf)
    assert (first.kind, first.chunks, first.replaced) == ("pdf", 1, False)
    html = b"<h1>Shipping</h1><p>Delivery takes 2 to 4 working days.</p><script>x()</script>"
    await kb.upload("2", "help", "shipping.html", html)
    found = await kb.search("2", ["help"], "restocking fee for a return")
    assert found[0].document == "returns.pdf" and "restocking fee of 10%" in found[0].text
    summary = await kb.base("2", "help")
    assert (summary.documents, summary.chunks, summary.revision) == (2, 2, 2)

    again = await kb.upload("2", "help", "returns.pdf", make_pdf([["Returns: 14 days, no fee."]]))
    assert again.replaced and again.id == first.id
    assert [d.filename for d in await kb.documents("2", "help")] == ["returns.pdf", "shipping.html"]
    found = await kb.search("2", ["help"], "returns fee")
    assert [p.text for p in found] == ["Returns: 14 days, no fee."]

    await kb.delete_document("2", "help", first.id)
    assert await kb.search("2", ["help"], "returns fee") == []
    assert (await kb.base("2", "help")).revision == 4
    await kb.delete("2", "help")
    assert await kb.bases("2") == []
    assert db.call(repo.chunk_counts, "2") == {}


async def test_other_tenants_bases_and_documents_answer_not_found(db: Database) -> None:
    kb = service(db)
    await kb.create("2", "private")
    doc = await kb.upload("2", "private", "secret.md", b"The discount code is FORK50.")
    with pytest.raises(NotFound, match="knowledge base 'private'"):
        await kb.search("3", ["private"], "discount code")
    for call in (kb.base("3", "private"), kb.documents("3", "private"), kb.delete("3", "private"),
                 kb.upload("3", "private", "x.md", b"words"), kb.delete_document("3", "private", doc.id)):
        with pytest.raises(NotFound):
            await call
    assert await kb.bases("3") == []
    assert [d.filename for d in await kb.documents("2", "private")] == ["secret.md"]  # nothing changed
    await kb.create("3", "private")  # the same id in another tenant is another base
    assert await kb.search("3", ["private"], "discount code") == []


async def test_refusals_name_the_problem_and_store_nothing(db: Database) -> None:
    kb = service(db, max_bytes=1000)
    with pytest.raises(Invalid, match="knowledge base id 'bad id!'"):
        await kb.create("2", "bad id!")
    with pytest.raises(Invalid, match="chunk overlap 90: must be 0 to half the chunk size"):
        await kb.create("2", "x", chunk_size=100, chunk_overlap=90)
    await kb.create("2", "docs")
    with pytest.raises(Conflict, match="knowledge base 'docs' already exists"):
        await kb.create("2", "docs")
    with pytest.raises(Invalid, match=r"file 'big.txt' is 1,001 bytes: the limit is 1,000 bytes"):
        await kb.upload("2", "docs", "big.txt", b"x" * 1001)
    with pytest.raises(Invalid, match=r"file 'slides.pptx': unsupported type"):
        await kb.upload("2", "docs", "slides.pptx", b"PK")
    with pytest.raises(NotFound, match="knowledge base 'nope'"):
        await kb.upload("2", "nope", "a.md", b"words")
    assert await kb.documents("2", "docs") == [] and (await kb.base("2", "docs")).revision == 0


async def test_embeddings_are_batched_stored_and_used_for_hybrid_search(db: Database) -> None:
    async with FakeLLMServer() as server:
        embedder = OpenAIEmbedder("text-embedding-3-small", "k", server.openai_url, batch_size=3)
        kb = service(db, embedder)
        await kb.create("2", "docs", chunk_size=200, chunk_overlap=0)
        text = " ".join(f"Sentence {i} is about pallets and wheels." for i in range(30)).encode()
        info = await kb.upload("2", "docs", "long.txt", text)
        await kb.upload("2", "docs", "water.md", b"Top up the battery with distilled water after charging.")
        assert info.embedding_model == "text-embedding-3-small" and info.chunks > 3
        batches = [len(r.body["input"]) for r in server.requests]
        assert max(batches) == 3 and sum(batches) == info.chunks + 1
        stored = db.call(repo.load_chunks, "2", "docs")
        assert all(c.embedding is not None and len(c.embedding) == 64 * 4 for c in stored)
        found = await kb.search("2", ["docs"], "distilled water battery", top_k=2)  # auto: hybrid
        assert found[0].document == "water.md"
        vector = await kb.search("2", ["docs"], "distilled water battery", top_k=2, mode="vector")
        assert vector[0].document == "water.md" and vector[0].score > 0.5


async def test_a_cached_retrieval_is_cleared_by_a_document_change(db: Database) -> None:
    cache = build_cache(AkisSettings(cache_tiers="memory", redis_url="", memcached="", cache_prefix=""))
    kb = service(db, cache=cache)
    await kb.create("2", "faq")
    await kb.upload("2", "faq", "delivery.md", b"Delivery takes five working days.")
    document = json.loads((EXAMPLES_DIR / "support_assistant.json").read_text(encoding="utf-8"))
    document["nodes"][1]["config"]["knowledge_bases"] = ["faq"]
    document["nodes"][3]["config"]["provider_options"] = {"delay_ms": 0, "tokens_per_second": 0}
    flow = load_flow(document)
    engine = Engine(services=Services(knowledge=kb.knowledge), cache=cache)

    async def ask() -> tuple[str, str]:
        result = await engine.run(flow, {"user_message": "How long does delivery take?", "tenant_id": "2"})
        assert result.status == "succeeded", result.error
        return result.nodes["node_2"].cache, result.output["citations"][0]["text"]

    assert await ask() == ("miss", "Delivery takes five working days.")
    assert await ask() == ("hit", "Delivery takes five working days.")
    await kb.upload("2", "faq", "delivery.md", b"Delivery takes two working days.")  # the service clears the tag
    assert await ask() == ("miss", "Delivery takes two working days.")
    assert await ask() == ("hit", "Delivery takes two working days.")
    await cache.close()


def test_first_start_seeds_the_example_base_for_the_demo_tenants(database_url: str) -> None:
    database = init_db(database_url)
    try:
        names = [d.filename for d in database.call(repo.list_documents, "2", EXAMPLE_BASE)]
        assert names == ["battery_care.md", "maintenance.md", "returns.html", "shipping.txt", "warranty.md"]
        assert database.call(repo.base_infos, "1", [EXAMPLE_BASE])[0].revision == 5
    finally:
        database.dispose()


async def test_a_change_rebuilds_the_index_in_the_background(db: Database) -> None:
    kb = service(db)
    await kb.create("2", "docs")
    await kb.upload("2", "docs", "a.md", b"Forks and wheels.")
    await asyncio.gather(*kb._warming)
    revision = (await kb.base("2", "docs")).revision
    assert ("2", "docs", revision) in kb.knowledge.retriever._indexes  # built before any search asked
    loads: list[str] = []
    original = kb.knowledge.chunks

    async def counting(tenant_id: str, base_id: str) -> list[StoredChunk]:
        loads.append(base_id)
        return await original(tenant_id, base_id)

    kb.knowledge.chunks = counting  # type: ignore[method-assign]  # count what the search loads
    assert (await kb.search("2", ["docs"], "wheels"))[0].document == "a.md"
    assert loads == []  # the search found the index ready
    await kb.delete("2", "docs")
    await asyncio.gather(*kb._warming)  # a deleted base is nothing to warm: no error


async def test_reindex_embeds_a_base_stored_without_embeddings(db: Database) -> None:
    plain = service(db)
    await plain.create("2", "docs")
    await plain.upload("2", "docs", "water.md", b"Top up the battery with distilled water after charging.")
    await plain.upload("2", "docs", "wheels.md", b"Polyurethane wheels last about 2,000 km.")
    with pytest.raises(Invalid, match=r"no embedding model is configured \(AKIS_EMBEDDING_MODEL\)"):
        await plain.reindex("2", "docs")
    with pytest.raises(Invalid, match="hybrid search needs embeddings"):
        await plain.search("2", ["docs"], "distilled water", mode="hybrid")
    async with FakeLLMServer() as server:
        embedded = service(db, OpenAIEmbedder("emb-1", "k", server.openai_url))
        revision = (await embedded.base("2", "docs")).revision
        assert await embedded.reindex("2", "docs") == 2
        assert (await embedded.base("2", "docs")).revision == revision + 1
        assert {d.embedding_model for d in await embedded.documents("2", "docs")} == {"emb-1"}
        found = await embedded.search("2", ["docs"], "distilled water", mode="vector")
        assert found[0].document == "water.md"
        with pytest.raises(NotFound, match="knowledge base 'docs'"):
            await embedded.reindex("3", "docs")
