"""``akis cache``: hit rates, events that clear tags, and warm-up (mounted by runtime.cli)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ..errors import AkisError
from ..flow.loader import load_flow
from ..flow.model import FlowDocument
from ..settings import AkisSettings
from .events import CacheEvents
from .factory import CacheConfigError, build_cache
from .keys import CacheKeyError
from .tiered import TieredCache
from .warmup import warm_up

T = TypeVar("T")

cache_app = typer.Typer(help="The tenant-aware cache: hit rates, events, warm-up.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

IN_PROCESS_NOTE = (
    "The cache is in-process only (no AKIS_REDIS_URL or memcached): the app's cache lives inside"
    " the app, out of reach of this command. Set AKIS_REDIS_URL (or AKIS_CACHE_TIERS with"
    " memcached) so that processes share invalidations and hit rates."
)


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _cache() -> TieredCache:
    try:
        return build_cache(AkisSettings())
    except CacheConfigError as exc:
        _fail(str(exc))


def _shared(cache: TieredCache) -> bool:
    """Do other processes see this cache's invalidations (versions in Redis or Memcached)?"""
    return cache.versions.store.shared


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except CacheKeyError as exc:
        _fail(str(exc))


def _load_flows(paths: list[Path]) -> list[FlowDocument]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.json")))
        elif path.exists():
            files.append(path)
        else:
            _fail(f"no such flow file or folder: {path}")
    flows = []
    for file in files:
        try:
            flows.append(load_flow(file))
        except AkisError as exc:  # a user's file: name it and say why, no traceback
            _fail(f"{file} is not a valid flow: {str(exc).splitlines()[0]}")
    return flows


@cache_app.command("stats")
def stats(
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="Only this tenant."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Hit rates per key and per node type (total, hits, rate %), and tier outages."""
    cache = _cache()

    async def main() -> dict[str, Any]:
        try:
            return await cache.stats(tenant)
        finally:
            await cache.close()

    data = _run(main())
    if as_json:
        out.print_json(json.dumps(data))
        return
    if not _shared(cache):
        err.print(f"[yellow]note:[/yellow] {IN_PROCESS_NOTE}", soft_wrap=True)
    types = Table(title=f"Hit rate per node type ({data['source']})")
    for column in ("tenant", "node type", "total", "hits", "rate %"):
        types.add_column(column, justify="right" if column in ("total", "hits", "rate %") else "left")
    for owner, by_type in data["node_types"].items():
        for node_type, c in by_type.items():
            types.add_row(owner, node_type, str(c["total"]), str(c["hits"]), f"{c['rate']:.2f}")
    keys = Table(title="Hit rate per key")
    for column in ("key", "total", "hits", "rate %"):
        keys.add_column(column, justify="left" if column == "key" else "right", overflow="fold")
    for key, c in data["keys"].items():
        keys.add_row(key, str(c["total"]), str(c["hits"]), f"{c['rate']:.2f}")
    out.print(types)
    out.print(keys)
    outages = ", ".join(f"{tier}: {n}" for tier, n in data["outages"].items()) or "none"
    out.print(f"Tier outages: {outages}")


@cache_app.command("event")
def event(
    name: str = typer.Argument(..., help="Event name, e.g. product.updated"),
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant whose entries to clear."),
    flow: list[Path] = typer.Option([], "--flow", help="Flow JSON whose settings.cache_events extend the mapping."),
) -> None:
    """Emit an event: clears the tags it maps to (product.updated -> products) for one tenant."""
    cache = _cache()
    if not _shared(cache):
        _fail(IN_PROCESS_NOTE, 1)
    events = CacheEvents(cache)
    events.add_flows(tenant, _load_flows(flow))
    if not events.tags_for(tenant, name):
        known = ", ".join(events.events_for(tenant)) or "none"
        _fail(f"event {name!r} maps to no cache tags (known events: {known})", 1)

    async def main() -> list[str]:
        try:
            return await events.emit(tenant, name)
        finally:
            await cache.close()

    tags = _run(main())
    if not tags:
        _fail("the cache's version store is unavailable: nothing was cleared", 1)
    out.print(f"tenant {tenant}: cleared tag(s) {', '.join(tags)}")


@cache_app.command("invalidate")
def invalidate(
    tenant: str = typer.Option(..., "--tenant", "-t"),
    tag: list[str] = typer.Option(..., "--tag", help="Tag to clear (repeatable)."),
) -> None:
    """Clear tags directly for one tenant."""
    cache = _cache()
    if not _shared(cache):
        _fail(IN_PROCESS_NOTE, 1)

    async def main() -> bool:
        try:
            return await cache.invalidate(tenant, tag)
        finally:
            await cache.close()

    if not _run(main()):
        _fail("the cache's version store is unavailable: nothing was cleared", 1)
    out.print(f"tenant {tenant}: cleared tag(s) {', '.join(tag)}")


@cache_app.command("warmup")
def warmup(
    flows: list[Path] = typer.Argument(None, help="Flow JSON files or folders of them."),
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="Tenant for inputs without tenant_id."),
) -> None:
    """Run the flows' warm-up inputs through their cacheable nodes (never an AI node)."""
    if not flows:
        _fail("name at least one flow JSON file (or a folder of them) to warm up")
    documents = _load_flows(flows)
    cache = _cache()
    if not _shared(cache):
        err.print(f"[yellow]note:[/yellow] {IN_PROCESS_NOTE}", soft_wrap=True)

    async def main() -> Any:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err) as bar:
            task = bar.add_task("warming", total=None)

            def step(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, description=label)

            try:
                return await warm_up(documents, cache, default_tenant=tenant, on_progress=step)
            finally:
                await cache.close()

    try:
        report = _run(main())
    except RuntimeError as exc:
        _fail(str(exc), 1)
    for line in report.errors:
        err.print(f"[red]failed:[/red] {escape(line)}", soft_wrap=True)
    out.print(f"warmed {report.runs} run(s) over {report.flows} flow(s); {report.failed} failed")
    if report.failed:
        raise typer.Exit(1)
