"""The flows service: the one place where a tenant's flows are read, checked, saved, imported,
exported and deleted. The editor's pages, the HTTP API and start-up all call it, so a rule
(strict parsing, read-back, cache-event registration) holds for every path at once.

Every save goes through :meth:`FlowService._save`: the document is parsed strictly, validated,
serialised and read back unchanged (``runtime.flow.storable``), stored as the flow's next
version, and its ``settings.cache_events`` registered for its tenant. Storage is synchronous;
each public method runs it in a worker thread (``Database.run``), so the event loop never waits
on the database.
"""
from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from cachetools import LRUCache
from sqlalchemy import Connection
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from runtime.agents.references import cycle_problems, flow_references
from runtime.cache.events import CacheEvents
from runtime.errors import Problem
from runtime.flow.model import FlowDocument
from runtime.flow.storable import check_storable
from runtime.flow.strict_json import show
from runtime.nodes.registry import NodeRegistry
from storage import errors as storage_errors
from storage.db import Database
from storage.models import Flow
from storage.repos import flows as repo
from storage.repos.runs import list_runs, newest_runs
from storage.repos.tenants import list_tenant_ids

from . import flow_files
from .errors import Conflict, FlowProblems, NotFound

log = logging.getLogger("akis.flows")

ImportMode = Literal["new", "version", "copy"]
# Problems that forbid storing even a work-in-progress draft: what is stored must read back, its
# event mapping must be usable, and it must not close a cycle of flows calling each other (the
# flows it calls run now, and would call it back at run time). A draft may keep other problems
# (a node not wired yet).
BLOCKING_DRAFT_PROBLEMS = frozenset({"cache_events", "round_trip", "subflow_cycle"})


@dataclass(frozen=True, slots=True)
class FlowSummary:
    id: str
    name: str
    version: int
    created_at: datetime
    updated_at: datetime
    description: str = ""
    nodes: int = 0
    last_run_at: datetime | None = None
    last_run_status: str | None = None


@dataclass(frozen=True, slots=True)
class StoredFlow:
    """One stored version, parsed and validated: ``problems`` empty means it may run.

    ``document`` is shared by every reader of that version (so the engine reuses its compiled
    plan): never change it; an editor works on ``document.model_copy(deep=True)``."""

    flow_id: str
    name: str
    version: int
    current_version: int
    created_at: datetime
    updated_at: datetime
    document: FlowDocument
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    comment: str
    created_at: datetime
    document: dict[str, object]


@dataclass
class ImportResult:
    """``flow_id`` when saved; otherwise ``problems`` says why nothing was saved, or ``exists``
    that the file's flow id is taken (ask whether to add a version or save a copy)."""

    flow_id: str | None = None
    version: int | None = None
    problems: list[Problem] = field(default_factory=list)
    exists: bool = False
    document: FlowDocument | None = None


class FlowService:
    def __init__(self, database: Database, registry: NodeRegistry, cache_events: CacheEvents | None,
                 parsed_versions: int = 512) -> None:
        self.database = database
        self.registry = registry
        self.cache_events = cache_events
        # Versions are immutable: a parsed document keyed by (tenant, flow, the flow's creation
        # time, version) never goes stale, and handing out the same object lets the engine reuse
        # its compiled plan. A deleted and re-created flow has a new creation time.
        self._parsed: LRUCache[tuple[str, str, datetime, int], tuple[FlowDocument | None, tuple[Problem, ...]]] = \
            LRUCache(maxsize=parsed_versions)

    # ---------- reading ----------
    async def summaries(self, tenant: str) -> list[FlowSummary]:
        """The tenant's flows, most recently changed first, each with its last run."""
        return await self.database.run(self._summaries, tenant)

    async def read(self, tenant: str, flow_id: str, version: int | None = None) -> StoredFlow:
        """A version (the current one by default), parsed and validated once per version.

        :class:`NotFound` when the tenant has no such flow or version; :class:`FlowProblems`
        when the stored row cannot be read at all (stored before the checks existed)."""
        flow = await self.database.run_statement(self._head, tenant, flow_id)
        wanted = version or flow.current_version
        key = (tenant, flow.id, flow.created_at, wanted)
        parsed = self._parsed.get(key)  # on the event loop only: the LRU is not shared with threads
        if parsed is None:  # the version's document is read (and parsed) once, not on every run
            data = await self.database.run(self._document, tenant, flow.id, wanted)
            checked, found = await run_in_threadpool(check_storable, data, self.registry, tenant)
            parsed = (checked, tuple(found))
            self._parsed[key] = parsed
        document, problems = parsed
        if document is None:
            raise FlowProblems(f"stored flow {show(flow.id)} version {wanted} cannot be read: save a new version "
                               "or delete it", list(problems))
        return StoredFlow(flow.id, flow.name or flow.id, wanted, flow.current_version, flow.created_at,
                          flow.updated_at, document, problems)

    async def versions(self, tenant: str, flow_id: str) -> list[VersionInfo]:
        """Newest first; :class:`NotFound` when there is no such flow."""
        rows = await self.database.run(self._versions, tenant, flow_id)
        if not rows:
            raise NotFound(f"flow {flow_id!r}")
        return rows

    async def export_json(self, tenant: str, flow_id: str, version: int | None = None) -> str:
        """The document as export writes it (what import reads back)."""
        return (await self.read(tenant, flow_id, version)).document.dump_json() + "\n"

    async def exists(self, tenant: str, flow_id: str) -> bool:
        return await self.database.run(self._flow_or_none, tenant, flow_id) is not None

    # ---------- checking and saving ----------
    async def check(self, source: str | bytes | FlowDocument, tenant: str) -> tuple[FlowDocument | None, list[Problem]]:
        """Parse strictly and validate; the problems name the node and field of each mistake.
        Calls of other flows (sub-flows, iterations, flow tools) must not lead back to this one,
        also through a stored draft that cannot run yet: its calls count once it is fixed."""
        document, problems = await run_in_threadpool(flow_files.check_source, source, self.registry, tenant)
        if document is not None and flow_references(document):
            from .flow_source import StoredFlowSource  # it imports this module

            stored = StoredFlowSource(self, runnable_only=False)
            problems = [*problems, *await cycle_problems(document, stored, tenant)]
        return document, problems

    async def create(self, tenant: str, source: str | bytes | FlowDocument, comment: str | None = None) -> StoredFlow:
        """A new flow (its version 1). :class:`Conflict` when the id is taken."""
        document = await self._checked(source, tenant, "was not saved")
        await self._save(tenant, document, comment, "create")
        return await self.read(tenant, str(document.flow_id))

    async def save_version(self, tenant: str, flow_id: str, source: str | bytes | FlowDocument,
                           comment: str | None = None, *, draft: bool = False) -> StoredFlow:
        """The flow's next version. A ``draft`` (the editor's save) may keep validation problems
        that do not stop it reading back; an API save may not."""
        document = await self._checked(source, tenant, "was not saved", draft=draft)
        if str(document.flow_id) != flow_id:
            raise FlowProblems("the document is for another flow", [Problem(
                "flow_id", f"the document's flow_id {str(document.flow_id)!r} is not {flow_id!r}", field="flow_id")])
        await self._save(tenant, document, comment, "version")
        return await self.read(tenant, flow_id)

    async def make_current(self, tenant: str, flow_id: str, version: int) -> StoredFlow:
        """Point the flow at one of its saved versions (an experiment's promoted variant); its
        cache events apply from now on. :class:`NotFound` for an unknown flow or version."""
        try:
            await self.database.run(repo.set_current_version, tenant, flow_id, version)
        except storage_errors.NotFound:
            raise NotFound(f"flow {flow_id!r} version {version}") from None
        stored = await self.read(tenant, flow_id)
        self._learn(tenant, stored.document)
        return stored

    async def import_text(self, tenant: str, text: str | bytes, mode: ImportMode = "new") -> ImportResult:
        """Check a flow file, then save it: ``new`` (refuse a taken id), ``version`` (add a
        version to the flow of that id) or ``copy`` (save under a fresh id)."""
        document, problems = await self.check(text, tenant)
        if document is None or problems:
            return ImportResult(problems=problems, document=document)
        try:
            flow_id = repo.flow_key(document.flow_id)
        except storage_errors.StorageError as exc:  # an id storage refuses: only a copy gets a new one
            if mode != "copy":
                return ImportResult(problems=[Problem("flow_id", str(exc), field="flow_id")], document=document)
            flow_id = flow_files.slug(str(document.flow_id))
        if mode == "new" and await self.exists(tenant, flow_id):
            return ImportResult(exists=True, document=document)
        if mode == "copy" or flow_id != str(document.flow_id):
            original = flow_id
            flow_id = await self.database.run(self._unique_id, tenant, flow_id)
            renamed = {"name": copy_name(document, original, await self._names(tenant))} if mode == "copy" else {}
            document = FlowDocument.model_validate({**document.dump(), "flow_id": flow_id, **renamed})
        version = await self._save(tenant, document, "imported", "any")
        return ImportResult(flow_id=flow_id, version=version, document=document)

    async def delete(self, tenant: str, flow_id: str) -> None:
        """Delete a flow with all its versions; :class:`NotFound` when there is none."""
        try:
            deleted = await self.database.run(repo.delete_flow, tenant, flow_id)
        except storage_errors.StorageError:
            deleted = False
        if not deleted:
            raise NotFound(f"flow {flow_id!r}")
        if self.cache_events is not None:
            self.cache_events.drop_flow(tenant, flow_id)

    # ---------- the editor's conveniences ----------
    async def create_blank(self, tenant: str, name: str) -> str:
        name = name.strip() or "Untitled flow"
        flow_id = await self.database.run(self._unique_id, tenant, name)
        await self._save(tenant, flow_files.blank_document(flow_id, name), "created", "create")
        return flow_id

    async def duplicate(self, tenant: str, flow_id: str) -> str:
        found = await self.read(tenant, flow_id)
        new_id = await self.database.run(self._unique_id, tenant, f"{flow_id}-copy")
        copy = FlowDocument.model_validate({**found.document.dump(), "flow_id": new_id,
                                           "name": copy_name(found.document, flow_id, await self._names(tenant))})
        await self._save(tenant, copy, f"duplicated from {flow_id} v{found.version}", "create")
        return new_id

    async def _names(self, tenant: str) -> set[str]:
        return {summary.name for summary in await self.summaries(tenant)}

    async def add_example(self, tenant: str, path: Path) -> str:
        """Save an example as a new flow of the tenant (a fresh id when its own is taken)."""
        document = await self.database.run(self._add_example, tenant, path)
        self._learn(tenant, document)
        return str(document.flow_id)

    def seed_examples(self, tenant: str) -> list[str]:
        """First start: when the database holds no flow and no run, give the tenant the examples,
        the demo flow saved last so it heads the list (newest first)."""
        with self.database.session() as session:
            if repo.list_flows(session, tenant) or list_runs(session, tenant, limit=1):
                return []
        added = []
        for example in sorted(flow_files.examples(), key=lambda e: e.flow_id == "pallet-assistant"):
            try:
                document = self.database.call(self._add_example, tenant, example.path)
                self._learn(tenant, document)
                added.append(str(document.flow_id))
            except (FlowProblems, OSError, ValueError) as exc:
                log.warning("example %s not added: %s", example.path.name, exc)
        return added

    async def learn_stored_events(self) -> None:
        """Every tenant's stored flows' ``settings.cache_events`` count for ``POST /api/events``
        after a restart, each for its own tenant. An unreadable row is skipped, never fatal."""
        if self.cache_events is None:
            return
        for tenant in await self.database.run(list_tenant_ids):
            for flow in await self.database.run(repo.list_flows, tenant):
                try:
                    stored = await self.read(tenant, flow.id)
                    self.cache_events.set_flow(tenant, flow.id, stored.document.settings.cache_events)
                except (FlowProblems, NotFound, ValueError) as exc:
                    log.warning("cache events of flow %s (tenant %s) not loaded: %s", show(flow.id), tenant, exc)

    # ---------- the one save path ----------
    async def _save(self, tenant: str, document: FlowDocument, comment: str | None,
                    mode: Literal["create", "version", "any"]) -> int:
        version = await self.database.run(self._store, tenant, document, comment, mode)
        self._learn(tenant, document)
        return version

    def _learn(self, tenant: str, document: FlowDocument) -> None:
        """A saved flow's ``settings.cache_events`` clear tags for its tenant from now on
        (checked before the save, so this cannot fail on a tag)."""
        if self.cache_events is not None:
            self.cache_events.set_flow(tenant, str(document.flow_id), document.settings.cache_events)

    async def _checked(self, source: str | bytes | FlowDocument, tenant: str, outcome: str, *,
                       draft: bool = False) -> FlowDocument:
        document, problems = await self.check(source, tenant)
        if draft and document is not None:
            problems = [p for p in problems if p.code in BLOCKING_DRAFT_PROBLEMS]
        if document is None or problems:
            raise FlowProblems(f"the flow has {len(problems)} problem(s) and {outcome}", problems)
        return document

    def _store(self, session: Session, tenant: str, document: FlowDocument, comment: str | None,
               mode: Literal["create", "version", "any"]) -> int:
        """Store the next version of a document the caller checked."""
        flow_id = str(document.flow_id)
        try:
            existing = repo.get_flow(session, tenant, flow_id)
            if mode == "create" and existing is not None:
                raise Conflict(f"flow {flow_id!r} already exists: save a new version instead")
            if mode == "version" and existing is None:
                raise NotFound(f"flow {flow_id!r}")
            version = repo.save_flow(session, tenant, document, comment).version
        except storage_errors.Conflict as exc:
            raise Conflict(str(exc)) from None
        except storage_errors.StorageError as exc:
            raise FlowProblems("the flow cannot be stored", [Problem("flow_id", str(exc), field="flow_id")]) from None
        return version

    @staticmethod
    def _head(connection: Connection, tenant: str, flow_id: str) -> repo.FlowHead:
        try:
            head = repo.flow_head(connection, tenant, flow_id)
        except storage_errors.StorageError:  # an id storage would refuse cannot name a stored flow
            head = None
        if head is None:
            raise NotFound(f"flow {flow_id!r}")
        return head

    @staticmethod
    def _document(session: Session, tenant: str, flow_id: str, version: int) -> dict[str, object]:
        row = repo.get_version(session, tenant, flow_id, version)
        if row is None:
            raise NotFound(f"flow {flow_id!r} version {version}")
        return row.document

    @staticmethod
    def _flow_or_none(session: Session, tenant: str, flow_id: str) -> Flow | None:
        try:
            return repo.get_flow(session, tenant, flow_id)
        except storage_errors.StorageError:  # an id storage would refuse cannot name a stored flow
            return None

    @staticmethod
    def _summaries(session: Session, tenant: str) -> list[FlowSummary]:
        documents = repo.current_documents(session, tenant)  # three queries, however many flows
        newest = newest_runs(session, tenant)
        out = []
        for flow in repo.list_flows(session, tenant):
            document = documents.get(flow.id, {})
            nodes = document.get("nodes", [])
            last = newest.get(flow.id)
            out.append(FlowSummary(
                id=flow.id, name=flow.name or flow.id, version=flow.current_version, created_at=flow.created_at,
                updated_at=flow.updated_at, description=str(document.get("description", "")),
                nodes=len(nodes) if isinstance(nodes, list) else 0,
                last_run_at=last[0] if last else None, last_run_status=last[1] if last else None,
            ))
        return out

    def _versions(self, session: Session, tenant: str, flow_id: str) -> list[VersionInfo]:
        if self._flow_or_none(session, tenant, flow_id) is None:
            return []
        return [VersionInfo(r.version, r.comment or "", r.created_at, r.document)
                for r in repo.list_versions(session, tenant, flow_id)]

    @staticmethod
    def _unique_id(session: Session, tenant: str, base: str) -> str:
        return flow_files.unique_id({f.id for f in repo.list_flows(session, tenant)}, base)

    def _add_example(self, session: Session, tenant: str, path: Path) -> FlowDocument:
        document, problems = flow_files.check_source(path.read_bytes(), self.registry, tenant)
        if document is None or problems:
            raise FlowProblems(f"example {path.name} has {len(problems)} problem(s)", problems)
        flow_id = str(document.flow_id)
        if repo.get_flow(session, tenant, flow_id) is not None:
            flow_id = self._unique_id(session, tenant, flow_id)
            document = FlowDocument.model_validate({**document.dump(), "flow_id": flow_id})
        self._store(session, tenant, document, "from the examples", "create")
        return document


def copy_name(document: FlowDocument, flow_id: str, taken: Collection[str] = ()) -> str:
    """A copy's name, so the flows list tells it from the original and from earlier copies
    (``taken``: the names the tenant's flows have) at a glance."""
    base = document.name or flow_id
    name, n = f"{base} (copy)", 2
    while name in taken:
        name, n = f"{base} (copy {n})", n + 1
    return name
