"""What the flows list and the editor ask of storage, in the editor's words.

Thin, synchronous helpers over ``storage.repos.flows`` and ``runs`` (call them through
``database.run`` from a page). Import validates before anything is written: a file with a problem
is refused with every problem named, and nothing is saved.
"""
from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from runtime.data import EXAMPLES_DIR
from runtime.errors import FlowLoadError, Problem
from runtime.flow.loader import load_flow
from runtime.flow.model import EdgeSpec, FlowDocument, NodeSpec
from runtime.flow.storable import check_storable
from runtime.nodes.registry import NodeRegistry
from storage.db import Database
from storage.errors import StorageError
from storage.repos import flows as repo
from storage.repos.runs import list_runs

T = TypeVar("T")


async def call(fn: Callable[..., T], database: Database, *args: Any, **kwargs: Any) -> T:
    """Run one of these helpers from a page, in a worker thread (the event loop never waits on I/O)."""
    return await asyncio.to_thread(fn, database, *args, **kwargs)


@dataclass
class FlowSummary:
    id: str
    name: str
    version: int
    updated_at: datetime
    description: str = ""
    nodes: int = 0
    last_run_at: datetime | None = None
    last_run_status: str | None = None


@dataclass
class ImportResult:
    """``flow_id`` when saved; otherwise ``problems`` says why nothing was saved."""

    flow_id: str | None = None
    version: int | None = None
    problems: list[Problem] = field(default_factory=list)
    exists: bool = False  # the file's flow id is taken: ask whether to add a version or copy
    document: FlowDocument | None = None


def list_summaries(database: Database, tenant: str) -> list[FlowSummary]:
    """The tenant's flows, most recently changed first, each with its last run."""
    def query(session: Any) -> list[FlowSummary]:
        out = []
        for flow in repo.list_flows(session, tenant):
            row = repo.get_version(session, tenant, flow.id)
            document = row.document if row else {}
            runs = list_runs(session, tenant, flow.id, limit=1)
            out.append(FlowSummary(
                id=flow.id, name=flow.name or flow.id, version=flow.current_version, updated_at=flow.updated_at,
                description=str(document.get("description", "")), nodes=len(document.get("nodes", [])),
                last_run_at=runs[0].started_at if runs else None, last_run_status=runs[0].status if runs else None,
            ))
        return out

    with database.session() as session:
        return query(session)


def load(database: Database, tenant: str, flow_id: str) -> tuple[FlowDocument, int] | None:
    """The current document and its version number, or None when the tenant has no such flow."""
    with database.session() as session:
        row = repo.get_version(session, tenant, flow_id)
        if row is None:
            return None
        return FlowDocument.model_validate(row.document), row.version


def save(database: Database, tenant: str, document: FlowDocument, comment: str | None = None) -> int:
    return database.call(repo.save_flow, tenant, document, comment).version


def current_version(database: Database, tenant: str, flow_id: str) -> int | None:
    flow = database.call(repo.get_flow, tenant, flow_id)
    return flow.current_version if flow else None


def flow_exists(database: Database, tenant: str, flow_id: str) -> bool:
    return database.call(repo.get_flow, tenant, flow_id) is not None


def slug(text: str) -> str:
    """A flow id from a name: lower case letters, digits and dashes (``"Pallet assistant"`` -> ``pallet-assistant``)."""
    value = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:48]
    return value or "flow"


def unique_id(database: Database, tenant: str, base: str) -> str:
    taken = {f.id for f in database.call(repo.list_flows, tenant)}
    base = slug(base)
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def blank_document(flow_id: str, name: str) -> FlowDocument:
    """A new flow that already runs: a user message straight to the output."""
    return FlowDocument(
        flow_id=flow_id, name=name,
        nodes=[NodeSpec(id="node_1", type="user_input", label="User message", ui={"x": 0, "y": 0}),
               NodeSpec(id="node_2", type="output", label="Output",
                        config={"fields": {"answer": "{{ user_message }}"}}, ui={"x": 320, "y": 0})],
        edges=[EdgeSpec(source="node_1", target="node_2")],
    )


def create_blank(database: Database, tenant: str, name: str) -> str:
    name = name.strip() or "Untitled flow"
    flow_id = unique_id(database, tenant, name)
    save(database, tenant, blank_document(flow_id, name), "created")
    return flow_id


def duplicate(database: Database, tenant: str, flow_id: str) -> str:
    found = load(database, tenant, flow_id)
    if found is None:
        raise LookupError(f"flow {flow_id!r} not found")
    document = found[0]
    name = f"{document.name or flow_id} (copy)"
    new_id = unique_id(database, tenant, f"{flow_id}-copy")
    copy = FlowDocument.model_validate({**document.dump(), "flow_id": new_id, "name": name})
    save(database, tenant, copy, f"duplicated from {flow_id} v{found[1]}")
    return new_id


def delete(database: Database, tenant: str, flow_id: str) -> bool:
    return database.call(repo.delete_flow, tenant, flow_id)


def versions(database: Database, tenant: str, flow_id: str) -> list[dict[str, Any]]:
    """Newest first: ``{version, comment, created_at, document}``."""
    rows = database.call(repo.list_versions, tenant, flow_id)
    return [{"version": r.version, "comment": r.comment or "", "created_at": r.created_at, "document": r.document}
            for r in rows]


def document_version(database: Database, tenant: str, flow_id: str, version: int) -> FlowDocument | None:
    return database.call(repo.get_document, tenant, flow_id, version)


# ---------- import and examples ----------
def check_import(
    text: str | bytes, registry: NodeRegistry | None, tenant: str,
) -> tuple[FlowDocument | None, list[Problem]]:
    """Parse strictly, validate and read back a flow file (as the API's save does); the problems
    name the node and field of each mistake."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None, [Problem("file", "the file is not UTF-8 text (is it a flow JSON file?)")]
    text = text.lstrip("\ufeff")
    if not text.lstrip().startswith(("{", "[")):
        return None, [Problem("json", "not a flow file: expected the JSON object that export writes")]
    return check_storable(text, registry, tenant)


def import_flow(
    database: Database, registry: NodeRegistry | None, tenant: str, text: str | bytes, *, mode: str = "new",
) -> ImportResult:
    """Validate, then save. ``mode``: ``new`` (refuse a taken id), ``version`` (add a version to
    the existing flow of that id) or ``copy`` (save under a fresh id)."""
    document, problems = check_import(text, registry, tenant)
    if document is None or problems:
        return ImportResult(problems=problems, document=document)
    flow_id = str(document.flow_id)
    try:
        flow_id = repo.flow_key(flow_id)
    except StorageError as exc:  # an id storage refuses (spaces, too long): only a copy gets a new one
        if mode != "copy":
            return ImportResult(problems=[Problem("flow_id", str(exc), field="flow_id")], document=document)
    if mode == "new" and flow_exists(database, tenant, flow_id):
        return ImportResult(exists=True, document=document)
    if mode == "copy":
        flow_id = unique_id(database, tenant, flow_id)
        document = FlowDocument.model_validate({**document.dump(), "flow_id": flow_id})
    version = save(database, tenant, document, "imported")
    return ImportResult(flow_id=flow_id, version=version, document=document)


def examples() -> list[dict[str, Any]]:
    """The example flows shipped in the package (``runtime/data/examples``, linked from the
    checkout's ``examples/``): ``{path, name, description, flow_id}``."""
    out = []
    for path in sorted(EXAMPLES_DIR.glob("*.json")) if EXAMPLES_DIR.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append({"path": path, "name": data.get("name") or path.stem, "description": data.get("description", ""),
                    "flow_id": str(data.get("flow_id", path.stem))})
    return out


def add_example(database: Database, tenant: str, path: Path) -> str:
    """Save an example as a new flow of the tenant (a fresh id when its own is taken)."""
    document = load_flow(path)
    flow_id = str(document.flow_id)
    if flow_exists(database, tenant, flow_id):
        flow_id = unique_id(database, tenant, flow_id)
        document = FlowDocument.model_validate({**document.dump(), "flow_id": flow_id})
    save(database, tenant, document, "from the examples")
    return flow_id


def seed_examples(database: Database, tenant: str) -> list[str]:
    """First start: when the database holds no flow and no run, give the tenant the examples,
    the demo flow saved last so it heads the list (newest first)."""
    with database.session() as session:
        if repo.list_flows(session, tenant) or list_runs(session, tenant, limit=1):
            return []
    added = []
    for example in sorted(examples(), key=lambda e: e["flow_id"] == "pallet-assistant"):
        try:
            added.append(add_example(database, tenant, example["path"]))
        except (FlowLoadError, OSError, ValueError):
            continue
    return added
