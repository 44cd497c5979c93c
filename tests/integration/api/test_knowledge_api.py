"""Knowledge bases over HTTP against the real app: upload, replace, search, a flow that cites,
the cache cleared by a document change, tenants apart, and refusals with clear messages."""
from __future__ import annotations

import json
import uuid

from runtime.data import EXAMPLES_DIR
from tests.unit.knowledge.pdfs import make_pdf

from .conftest import Api


def citing_flow(flow_id: str, base: str) -> dict[str, object]:
    document = json.loads((EXAMPLES_DIR / "support_assistant.json").read_text(encoding="utf-8"))
    document["flow_id"] = flow_id
    document["nodes"][1]["config"]["knowledge_bases"] = [base]
    answer = document["nodes"][3]["config"]
    answer.update(provider="mock", model="mock-1", provider_options={"delay_ms": 0, "tokens_per_second": 0})
    return document


async def test_upload_replace_search_and_delete(api: Api) -> None:
    base = "kb-" + uuid.uuid4().hex[:8]
    async with api.client(api.token_a) as a:
        created = await a.post("/api/knowledge", json={"id": base, "name": "Help", "chunk_size": 300,
                                                        "chunk_overlap": 30})
        assert created.status_code == 201 and created.json()["revision"] == 0, created.text
        pdf = make_pdf([["Returns are accepted within 30 days.", "A restocking fee of 10% applies."]])
        up = await a.put(f"/api/knowledge/{base}/documents/returns.pdf", content=pdf,
                         headers={"content-type": "application/pdf"})
        assert up.status_code == 201 and up.json()["kind"] == "pdf" and up.json()["chunks"] == 1, up.text
        md = await a.put(f"/api/knowledge/{base}/documents/shipping.md", content=b"# Shipping\n\nTwo to four days.")
        assert md.status_code == 201
        again = await a.put(f"/api/knowledge/{base}/documents/shipping.md", content=b"# Shipping\n\nOne day.")
        assert again.status_code == 200 and again.json()["replaced"] is True
        listed = (await a.get(f"/api/knowledge/{base}/documents")).json()
        assert [d["filename"] for d in listed] == ["returns.pdf", "shipping.md"]
        found = await a.post(f"/api/knowledge/{base}/search", json={"query": "restocking fee", "top_k": 3})
        assert found.status_code == 200 and found.json()[0]["document"] == "returns.pdf"
        assert "restocking fee of 10%" in found.json()[0]["text"]
        read = (await a.get(f"/api/knowledge/{base}")).json()
        assert (read["documents"], read["chunks"], read["revision"]) == (2, 2, 3)
        gone = await a.delete(f"/api/knowledge/{base}/documents/{up.json()['id']}")
        assert gone.status_code == 204
        assert (await a.post(f"/api/knowledge/{base}/search", json={"query": "restocking fee"})).json() == []
        assert (await a.delete(f"/api/knowledge/{base}")).status_code == 204
        assert (await a.get(f"/api/knowledge/{base}")).status_code == 404


async def test_another_tenant_cannot_see_or_change_a_base(api: Api) -> None:
    base = "private-" + uuid.uuid4().hex[:8]
    async with api.client(api.token_a) as a, api.client(api.token_b) as b:
        assert (await a.post("/api/knowledge", json={"id": base})).status_code == 201
        doc = (await a.put(f"/api/knowledge/{base}/documents/secret.md", content=b"Code FORK50.")).json()
        assert base not in [k["id"] for k in (await b.get("/api/knowledge")).json()]
        for response in (await b.get(f"/api/knowledge/{base}"), await b.get(f"/api/knowledge/{base}/documents"),
                         await b.put(f"/api/knowledge/{base}/documents/x.md", content=b"words"),
                         await b.delete(f"/api/knowledge/{base}/documents/{doc['id']}"),
                         await b.post(f"/api/knowledge/{base}/search", json={"query": "code"}),
                         await b.post(f"/api/knowledge/{base}/reindex"),
                         await b.delete(f"/api/knowledge/{base}")):
            assert response.status_code == 404, response.text
            assert response.json()["detail"] == f"knowledge base {base!r} not found"
        flow = citing_flow("steal-" + base, base)
        assert (await b.post("/api/flows", json=flow)).status_code == 201
        run = await b.post(f"/api/flows/{flow['flow_id']}/runs", json={"inputs": {"user_message": "code"}})
        assert run.json()["status"] == "failed" and f"knowledge base {base!r} not found" in run.text
        assert [d["filename"] for d in (await a.get(f"/api/knowledge/{base}/documents")).json()] == ["secret.md"]


async def test_limits_and_bad_files_are_refused_with_the_reason(api: Api) -> None:
    base = "limits-" + uuid.uuid4().hex[:8]
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/knowledge", json={"id": base})).status_code == 201
        big = await a.put(f"/api/knowledge/{base}/documents/big.txt", content=b"x" * (5 * 1024 * 1024 + 1))
        assert big.status_code == 422
        assert big.json()["detail"] == ("file 'big.txt' is 5,242,881 bytes: the limit is 5,242,880 bytes "
                                        "(AKIS_KNOWLEDGE_MAX_FILE_BYTES)")
        odd = await a.put(f"/api/knowledge/{base}/documents/sheet.xlsx", content=b"PK\x03\x04")
        assert odd.status_code == 422 and odd.json()["detail"].startswith("file 'sheet.xlsx': unsupported type")
        broken = await a.put(f"/api/knowledge/{base}/documents/scan.pdf", content=b"%PDF-1.4 nothing")
        assert broken.status_code == 422 and "not a readable PDF" in broken.json()["detail"]
        no_model = await a.post(f"/api/knowledge/{base}/reindex")
        assert no_model.status_code == 422 and "AKIS_EMBEDDING_MODEL" in no_model.json()["detail"]
        bad_id = await a.post("/api/knowledge", json={"id": "has space"})
        assert bad_id.status_code == 422
        assert (await a.post("/api/knowledge", json={"id": base})).status_code == 409
        assert (await a.get(f"/api/knowledge/{base}/documents")).json() == []


async def test_a_flow_cites_and_a_document_change_clears_its_cached_retrieval(api: Api) -> None:
    base = "faq-" + uuid.uuid4().hex[:8]
    flow = citing_flow("cite-" + base, base)
    async with api.client(api.token_a) as a:
        assert (await a.post("/api/knowledge", json={"id": base})).status_code == 201
        await a.put(f"/api/knowledge/{base}/documents/delivery.md", content=b"Delivery takes five working days.")
        assert (await a.post("/api/flows", json=flow)).status_code == 201

        async def ask() -> tuple[str, dict[str, object]]:
            run = await a.post(f"/api/flows/{flow['flow_id']}/runs",
                               json={"inputs": {"user_message": "How long does delivery take?"}})
            body = run.json()
            assert run.status_code == 200 and body["status"] == "succeeded", run.text
            return body["nodes"]["node_2"]["cache"], body["output"]

        cache, output = await ask()
        assert cache == "miss" and output["citations"][0]["text"] == "Delivery takes five working days."
        assert "[1]" in str(output["answer"]) and output["citations"][0]["n"] == 1
        assert (await ask())[0] == "hit"
        await a.put(f"/api/knowledge/{base}/documents/delivery.md", content=b"Delivery takes two working days.")
        cache, output = await ask()
        assert cache == "miss" and output["citations"][0]["text"] == "Delivery takes two working days."
        cleared = await a.post("/api/events", json={"event": "knowledge.updated"})
        assert cleared.json()["tags_cleared"] == ["knowledge"]
        assert (await ask())[0] == "miss"
