"""A queued run's ticket: what a worker needs to start the run (its row's and its request's
fields), carried in Redis beside the run's id (``queue.TICKET_TTL_MS``), read and removed by
the claim that pops it.

Why: without it a worker reads the request from the database before it can start, and that
read (with taking the row) was the largest part of queue mode's added time to first chunk.
With it, the worker that pops a run takes the row with one prebuilt statement and starts it
(``RunExecutor``: taken before any node runs, so no side effect precedes the take).
Only a first attempt has a ticket: a run queued again (a lost claim, a row never queued, a
takeover) is read from the database, which alone knows its attempts and checkpoints.
"""
from __future__ import annotations

import json
from typing import Any

from storage.models import Run
from storage.tables.durable import RunRequest

from .rows import Claim


def make_ticket(run: Run, request: RunRequest) -> str:
    """The ticket of a run stored ``queued`` with ``request`` (see ``rows.create_queued``)."""
    return json.dumps({
        "flow_id": run.flow_id, "flow_version": run.flow_version, "session_id": run.session_id,
        "inputs": run.inputs, "experiment_id": run.experiment_id, "variant": run.variant,
        "evaluation_id": run.evaluation_id, "document": request.document, "start_cursor": request.start_cursor,
        "trace_parent": request.trace_parent,
    }, separators=(",", ":"))


def read_ticket(tenant_id: str, run_id: str, raw: bytes | str | None) -> Claim | None:
    """The claim a first attempt starts from (its row as the claim will make it); None without a
    ticket or with one this version cannot read (the row is read instead)."""
    if not raw:
        return None
    try:
        data: dict[str, Any] = json.loads(raw)
        run = Run(id=run_id, tenant_id=tenant_id, flow_id=str(data["flow_id"]), flow_version=data["flow_version"],
                  session_id=str(data["session_id"]), status="running", inputs=dict(data["inputs"]), attempts=1,
                  experiment_id=data["experiment_id"], variant=data["variant"], evaluation_id=data["evaluation_id"])
        request = RunRequest(run_id=run_id, tenant_id=tenant_id, document=dict(data["document"]),
                             start_cursor=int(data["start_cursor"]), trace_parent=dict(data["trace_parent"] or {}))
    except (ValueError, KeyError, TypeError):
        return None
    return Claim(run, request, {})
