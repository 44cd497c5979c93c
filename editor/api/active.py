"""Runs started over HTTP in this process: where their events went, so a client can resume a
run's stream and cancel it. Bounded in count and time; older runs are read from storage."""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ActiveRun:
    run_id: str
    tenant_id: str
    flow_id: str
    channel: str
    start_cursor: int
    handle: Any = None
    local: Any = None  # the in-process hub holding its events when the relay was down at its start
    created: float = field(default_factory=time.monotonic)


class ActiveRuns:
    def __init__(self, max_runs: int = 10_000, keep_s: float = 600.0) -> None:
        self.max_runs = max_runs
        self.keep_s = keep_s
        self._runs: OrderedDict[str, ActiveRun] = OrderedDict()

    def add(self, run: ActiveRun) -> None:
        self._runs[run.run_id] = run
        self._trim()

    def get(self, tenant_id: str, run_id: str) -> ActiveRun | None:
        """The run when it belongs to ``tenant_id``; another tenant's run is simply not there."""
        run = self._runs.get(run_id)
        if run is None or run.tenant_id != tenant_id:
            return None
        return run

    def _trim(self) -> None:
        now = time.monotonic()
        while self._runs:
            oldest = next(iter(self._runs.values()))
            if len(self._runs) > self.max_runs or (now - oldest.created > self.keep_s and _finished(oldest)):
                self._runs.popitem(last=False)
            else:
                break


def _finished(run: ActiveRun) -> bool:
    return run.handle is None or run.handle.done()
