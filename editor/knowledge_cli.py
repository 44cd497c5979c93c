"""``akis kb``: knowledge bases from the command line, through the same service and cache as the
editor and the API (a change clears the base's cached retrievals). Every refusal prints one
``error:`` line and exits 1.

    akis kb create support --tenant 2 --name "Support" --chunk-size 800 --chunk-overlap 100
    akis kb upload support docs/*.md docs/faq.pdf --tenant 2
    akis kb list --tenant 2 | akis kb docs support --tenant 2 | akis kb search support "battery warranty"
    akis kb rm-doc support DOCUMENT_ID | akis kb reindex support | akis kb delete support
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from runtime.cache import CacheConfigError, TieredCache
from runtime.knowledge.settings import KnowledgeSettings
from runtime.settings import get_settings
from runtime.wiring import build_cache
from storage.db import init_db
from storage.errors import StorageError
from storage.knowledge import sql_knowledge

from .services.errors import ServiceError
from .services.knowledge import KnowledgeService

T = TypeVar("T")
app = typer.Typer(help="Knowledge bases: documents the knowledge_retrieval node searches.", no_args_is_help=True)
TENANT = typer.Option("1", "--tenant", "-t", help="The tenant id.")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _service(cache: TieredCache | None = None) -> KnowledgeService:
    settings = KnowledgeSettings()
    database = init_db(get_settings().sqlalchemy_url)
    return KnowledgeService(database, sql_knowledge(database), cache, settings.knowledge_max_file_bytes, warm=False)


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except (ServiceError, StorageError) as exc:
        _fail(getattr(exc, "detail", None) or str(exc))


class _Change:
    """A command that changes a base goes through the app's cache, built from the same settings,
    so the base's tag ``knowledge:<base>`` is cleared for every process sharing it (Redis or
    Memcached). An in-process cache is this process's alone: one line says so, once."""

    def __init__(self, base_id: str) -> None:
        try:
            self.cache = build_cache(get_settings())
        except CacheConfigError as exc:
            _fail(str(exc))
        self.service = _service(self.cache)
        self.base_id = base_id
        self.noted = False

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        async def closing() -> T:  # the cache's clients belong to this event loop
            try:
                return await work
            finally:
                await self.cache.close()

        return _run(closing())

    def changed(self) -> None:
        """After a change: say when a running server's cached retrievals were out of reach."""
        if not self.noted and not self.cache.versions.store.shared:
            self.noted = True
            typer.echo(f"note: the cache is in-process only (no AKIS_REDIS_URL or memcached), so a running "
                       f"server's cached retrievals of {self.base_id} stay until their TTL ends", err=True)


@app.command("create")
def create(base_id: str, tenant: str = TENANT, name: str = typer.Option("", "--name"),
           description: str = typer.Option("", "--description"),
           chunk_size: int = typer.Option(800, "--chunk-size", help="Characters per chunk (100-8000)."),
           chunk_overlap: int = typer.Option(100, "--chunk-overlap", help="Characters neighbours share.")) -> None:
    """Create a knowledge base."""
    base = _run(_service().create(tenant, base_id, name, description, chunk_size, chunk_overlap))
    typer.echo(f"created knowledge base {base.id} (chunks of {base.chunk_size}, overlap {base.chunk_overlap})")


@app.command("list")
def list_bases(tenant: str = TENANT) -> None:
    """The tenant's knowledge bases: id, documents, chunks, name."""
    for base in _run(_service().bases(tenant)):
        typer.echo(f"{base.id}\t{base.documents} documents\t{base.chunks} chunks\t{base.name}")


@app.command("upload")
def upload(base_id: str, files: list[Path], tenant: str = TENANT) -> None:
    """Upload files (.txt, .md, .html, .pdf); a file of the same name is replaced. Stops at the
    first refusal, after saying which files went in."""
    change = _Change(base_id)

    async def work() -> None:
        for path in files:
            if not path.is_file():
                _fail(f"{path}: no such file")
            document = await change.service.upload(tenant, base_id, path.name, path.read_bytes())
            verb = "replaced" if document.replaced else "added"
            typer.echo(f"{verb} {document.filename}: {document.kind}, {document.chunks} chunks")
            change.changed()

    change.run(work())


@app.command("docs")
def documents(base_id: str, tenant: str = TENANT) -> None:
    """A knowledge base's documents: id, file name, kind, chunks, bytes."""
    for doc in _run(_service().documents(tenant, base_id)):
        typer.echo(f"{doc.id}\t{doc.filename}\t{doc.kind}\t{doc.chunks} chunks\t{doc.size_bytes} bytes")


@app.command("rm-doc")
def remove_document(base_id: str, document_id: str, tenant: str = TENANT) -> None:
    """Delete one document (and its chunks)."""
    change = _Change(base_id)
    change.run(change.service.delete_document(tenant, base_id, document_id))
    typer.echo(f"deleted document {document_id}")
    change.changed()


@app.command("delete")
def delete(base_id: str, tenant: str = TENANT) -> None:
    """Delete a knowledge base with all its documents."""
    change = _Change(base_id)
    change.run(change.service.delete(tenant, base_id))
    typer.echo(f"deleted knowledge base {base_id}")
    change.changed()


@app.command("reindex")
def reindex(base_id: str, tenant: str = TENANT) -> None:
    """Embed every chunk again with AKIS_EMBEDDING_MODEL (after turning embeddings on or changing model)."""
    change = _Change(base_id)
    count = change.run(change.service.reindex(tenant, base_id))
    typer.echo(f"embedded {count} chunks of {base_id}")
    change.changed()


@app.command("search")
def search(base_id: str, query: str, tenant: str = TENANT, top_k: int = typer.Option(5, "--top-k", min=1, max=50),
           as_json: bool = typer.Option(False, "--json", help="One JSON object per passage.")) -> None:
    """What knowledge_retrieval would find: passages with document, position and score."""
    for p in _run(_service().search(tenant, [base_id], query, top_k)):
        if as_json:
            typer.echo(json.dumps(p.to_dict(), ensure_ascii=False))
        else:
            typer.echo(f"{p.score:.3f}\t{p.document}#{p.position + 1}\t{' '.join(p.text.split())[:100]}")
