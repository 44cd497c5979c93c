"""The flows list (``FlowService.summaries``): each flow with its current version's description
and node count and its newest run, read in three queries however many flows there are (it read
two per flow before). SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from editor.services.flows import FlowService
from runtime.nodes.registry import default_registry
from storage.db import Database
from storage.repos import flows, runs
from storage.types import utcnow
from tests.integration.api.harness import trivial_flow

TENANT, OTHER = "2", "3"


def flow(flow_id: str, description: str, nodes: int = 3) -> dict[str, Any]:
    document = trivial_flow(flow_id)
    document["description"] = description
    if nodes > 3:
        document["nodes"] = [*document["nodes"], *({"id": f"x{n}", "type": "delay", "config": {"ms": 1}}
                                                   for n in range(nodes - 3))]
    return document


def seed(db: Database, count: int) -> None:
    now = utcnow()
    with db.session() as s:
        for n in range(count):
            flows.save_flow(s, TENANT, flow(f"f{n}", f"first of f{n}"))
        flows.save_flow(s, TENANT, flow("f0", "second of f0", nodes=5))  # f0 at version 2 ...
        flows.set_current_version(s, TENANT, "f0", 1)  # ... rolled back to 1: the list shows 1
        flows.save_flow(s, OTHER, flow("f1", "the other tenant's"))
        for minutes, status in ((3, "failed"), (1, "succeeded"), (2, "cancelled")):  # f1's newest: 1 min ago
            runs.record_run(s, TENANT, f"r{minutes}", "f1", status=status, started_at=now - timedelta(minutes=minutes))
        runs.record_run(s, OTHER, "r-other", "f2", status="failed", started_at=now)


async def test_each_flow_has_its_current_version_and_newest_run(db: Database) -> None:
    seed(db, 3)
    listed = {s.id: s for s in await FlowService(db, default_registry(), None).summaries(TENANT)}
    assert set(listed) == {"f0", "f1", "f2"}
    assert (listed["f0"].version, listed["f0"].description, listed["f0"].nodes) == (1, "first of f0", 3)
    assert (listed["f1"].description, listed["f1"].last_run_status) == ("first of f1", "succeeded")
    newest = listed["f1"].last_run_at
    assert newest is not None and utcnow() - newest < timedelta(minutes=1, seconds=30)
    assert listed["f2"].last_run_at is None and listed["f2"].last_run_status is None  # the other tenant's run


async def test_the_list_takes_three_queries_however_many_flows(db: Database) -> None:
    seed(db, 30)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        listed = await FlowService(db, default_registry(), None).summaries(TENANT)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(listed) == 30
    assert len(statements) == 3, statements
