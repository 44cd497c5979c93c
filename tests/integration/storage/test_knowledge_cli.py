"""``akis kb`` end to end on each database: create, upload (new and replaced), list, search,
refusals as one error line, tenants apart, delete."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import build_cli
from runtime.settings import get_settings
from storage.db import Database
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
