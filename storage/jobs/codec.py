"""Jobs as JSON: what crosses Redis between the app and ``akis worker``.

JSON, not arq's default pickle: a queue entry is data, and a worker never unpickles what
another machine wrote.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from runtime.ports import BackgroundJob, BackgroundOutcome

JOB_FUNCTION = "akis.background"
QUEUE_NAME = "akis:jobs"
# A background job (a save) is short: cancelled after JOB_TIMEOUT_S. arq keeps a job's
# in-progress mark for its timeout + 10 s, so a job whose worker died is run again by another
# worker within ORPHAN_RETRY_S; the app waits for a result long enough to see that retry end.
JOB_TIMEOUT_S = 20.0
ORPHAN_RETRY_S = JOB_TIMEOUT_S + 10.0
RESULT_WAIT_S = ORPHAN_RETRY_S + JOB_TIMEOUT_S + 5.0


def job_id(job: BackgroundJob) -> str:
    """One id per (run, node): enqueueing the same job twice is a no-op."""
    return f"akis:{job.tenant_id}:{job.run_id}:{job.node_id}"


def job_to_dict(job: BackgroundJob) -> dict[str, Any]:
    return dataclasses.asdict(job)


def job_from_dict(data: dict[str, Any]) -> BackgroundJob:
    names = {f.name for f in dataclasses.fields(BackgroundJob)}
    return BackgroundJob(**{k: v for k, v in data.items() if k in names})


def outcome_to_dict(outcome: BackgroundOutcome) -> dict[str, Any]:
    return dataclasses.asdict(outcome)


def outcome_from_dict(data: dict[str, Any]) -> BackgroundOutcome:
    names = {f.name for f in dataclasses.fields(BackgroundOutcome)}
    return BackgroundOutcome(**{k: v for k, v in data.items() if k in names})


def serialize(value: Any) -> bytes:
    return json.dumps(value, default=str, ensure_ascii=False).encode("utf-8")


def deserialize(data: bytes) -> Any:
    return json.loads(data)
