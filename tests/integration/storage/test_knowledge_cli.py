"""``akis kb`` end to end on each database: create, upload (new and replaced), list, search,
refusals as one error line, tenants apart, delete, and a running server's cached retrieval
cleared through the shared cache."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import build_cli
from runtime import Engine, load_flow
from runtime.cache import build_cache
from runtime.data import EXAMPLES_DIR
from runtime.flow.model import FlowDocument
from runtime.services import Services
from runtime.settings import get_settings
from storage.db import Database
from storage.knowledge import SqlKnowledge
from tests.redis_keys import delete_prefix
from tests.unit.knowledge.pdfs import make_pdf

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def akis(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Invoke]:
    monkeypatch.setenv("AKIS_DATABASE_URL", db.url)
    monkeypatch.delenv("AKIS_EMBEDDING_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    runner, cli = CliRunner(), build_cli()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, list(args))
        return result.exit_code, result.stdout, result.stderr

    yield invoke
    get_settings.cache_clear()


def test_create_upload_search_and_delete(akis: Invoke, tmp_path: Path) -> None:
    (tmp_path / "faq.md").write_text("# FAQ\n\nDelivery takes two to four working days.", encoding="utf-8")
    (tmp_path / "manual.pdf").write_bytes(make_pdf([["Top up the battery with distilled water."]]))
    assert akis("kb", "create", "help", "--tenant", "7", "--name", "Help centre", "--chunk-size", "400")[:2] == (
        0, "created knowledge base help (chunks of 400, overlap 100)\n")
    code, out, _ = akis("kb", "upload", "help", str(tmp_path / "faq.md"), str(tmp_path / "manual.pdf"), "-t", "7")
    assert code == 0 and out.splitlines() == ["added faq.md: markdown, 1 chunks", "added manual.pdf: pdf, 1 chunks"]
    code, out, _ = akis("kb", "upload", "help", str(tmp_path / "faq.md"), "-t", "7")
    assert out == "replaced faq.md: markdown, 1 chunks\n"
    assert akis("kb", "list", "-t", "7")[1] == "help\t2 documents\t2 chunks\tHelp centre\n"
    code, out, _ = akis("kb", "search", "help", "distilled water", "-t", "7")
    assert code == 0 and out.split("\t")[1] == "manual.pdf#1" and "distilled water" in out
    docs = akis("kb", "docs", "help", "-t", "7")[1].splitlines()
    assert [line.split("\t")[1] for line in docs] == ["faq.md", "manual.pdf"]
    assert akis("kb", "rm-doc", "help", docs[0].split("\t")[0], "-t", "7")[0] == 0
    assert akis("kb", "delete", "help", "-t", "7")[1] == "deleted knowledge base help\n"
    assert akis("kb", "list", "-t", "7")[1] == ""


def test_refusals_are_one_error_line(akis: Invoke, tmp_path: Path) -> None:
    (tmp_path / "deck.pptx").write_bytes(b"PK\x03\x04")
    assert akis("kb", "create", "docs", "-t", "7")[0] == 0
    code, _, err = akis("kb", "upload", "docs", str(tmp_path / "deck.pptx"), "-t", "7")
    assert code == 1 and err.startswith("error: file 'deck.pptx': unsupported type") and err.count("\n") == 1
    code, _, err = akis("kb", "upload", "docs", str(tmp_path / "missing.md"), "-t", "7")
    assert (code, err) == (1, f"error: {tmp_path / 'missing.md'}: no such file\n")
    assert akis("kb", "search", "docs", "anything", "-t", "8")[2] == "error: knowledge base 'docs' not found\n"
    assert akis("kb", "create", "docs", "-t", "7")[2] == "error: knowledge base 'docs' already exists\n"


def _support_flow(base_id: str) -> FlowDocument:
    """The shipped support assistant (its retrieval cached for 600 s) reading ``base_id``."""
    document = json.loads((EXAMPLES_DIR / "support_assistant.json").read_text(encoding="utf-8"))
    document["nodes"][1]["config"]["knowledge_bases"] = [base_id]
    document["nodes"][3]["config"]["provider_options"] = {"delay_ms": 0, "tokens_per_second": 0}
    return load_flow(document)


def test_a_replaced_document_clears_a_servers_cached_retrieval_through_redis(
        akis: Invoke, db: Database, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server keeps one cache (memory in front of Redis, this test's own prefix) across runs;
    ``akis kb upload`` replacing the document must make its next retrieval a miss."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    monkeypatch.setenv("AKIS_CACHE_TIERS", "memory,redis")
    monkeypatch.setenv("AKIS_REDIS_URL", redis_url)
    monkeypatch.setenv("AKIS_CACHE_PREFIX", prefix)
    get_settings.cache_clear()
    faq = tmp_path / "delivery.md"
    faq.write_text("Delivery takes five working days.", encoding="utf-8")
    assert akis("kb", "create", "faq", "-t", "2")[0] == 0
    assert akis("kb", "upload", "faq", str(faq), "-t", "2")[0] == 0
    loop = asyncio.new_event_loop()  # the server's: its cache outlives each run, as in a process
    cache = build_cache(get_settings())
    engine, flow = Engine(services=Services(knowledge=SqlKnowledge(db)), cache=cache), _support_flow("faq")

    def ask() -> tuple[str, str]:
        inputs = {"user_message": "How long does delivery take?", "tenant_id": "2"}
        result = loop.run_until_complete(engine.run(flow, inputs))
        assert result.status == "succeeded", result.error
        return result.nodes["node_2"].cache, result.output["citations"][0]["text"]

    try:
        assert ask() == ("miss", "Delivery takes five working days.")
        assert ask() == ("hit", "Delivery takes five working days.")
        faq.write_text("Delivery takes two working days.", encoding="utf-8")
        assert akis("kb", "upload", "faq", str(faq), "-t", "2") == (0, "replaced delivery.md: markdown, 1 chunks\n", "")
        assert ask() == ("miss", "Delivery takes two working days.")
        assert ask() == ("hit", "Delivery takes two working days.")
    finally:
        loop.run_until_complete(cache.close())
        loop.run_until_complete(delete_prefix(redis_url, prefix))
        loop.close()


def test_an_in_process_cache_is_named_as_out_of_reach(akis: Invoke, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AKIS_CACHE_TIERS": "memory", "AKIS_REDIS_URL": "", "AKIS_MEMCACHED": ""}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    (tmp_path / "a.md").write_text("Words.", encoding="utf-8")
    (tmp_path / "b.md").write_text("More words.", encoding="utf-8")
    assert akis("kb", "create", "notes", "-t", "7")[0] == 0
    code, out, err = akis("kb", "upload", "notes", str(tmp_path / "a.md"), str(tmp_path / "b.md"), "-t", "7")
    assert (code, out.count("\n")) == (0, 2)
    assert err == ("note: the cache is in-process only (no AKIS_REDIS_URL or memcached), so a running server's "
                   "cached retrievals of notes stay until their TTL ends\n")
