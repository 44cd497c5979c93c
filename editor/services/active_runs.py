"""Runs started in this process: where their events went, so a client can resume a run's
stream and cancel it. A running run is kept until it ends; an ended one for ``keep_s``
seconds (bounded in count), after which it is read from storage."""
from __future__ import annotations

from dataclasses import dataclass

from cachetools import TTLCache

from runtime.channels import ChannelHub
from runtime.engine.engine import RunHandle


@dataclass(slots=True)
class ActiveRun:
    run_id: str
    tenant_id: str
    flow_id: str
    channel: str
    start_cursor: int
    handle: RunHandle | None = None
    # Events of a run started while the cross-process relay was down, kept in this process
    # so the run's own stream can still be resumed.
    local: ChannelHub | None = None
    # queue mode: a worker executes the run; this process only follows its events
    remote: bool = False


class ActiveRuns:
    def __init__(self, max_runs: int = 10_000, keep_s: float = 600.0) -> None:
        self._running: dict[str, ActiveRun] = {}
        self._ended: TTLCache[str, ActiveRun] = TTLCache(maxsize=max_runs, ttl=keep_s)

    def add(self, run: ActiveRun) -> None:
        self._running[run.run_id] = run
        if run.handle is not None:
            run.handle.add_done_callback(lambda: self._end(run.run_id))

    def running_count(self) -> int:
        """Runs of this process not yet ended (the in-flight gauge of /metrics)."""
        return len(self._running)

    def executing_count(self) -> int:
        """Runs executing in this process (what a drain waits for): not the queued runs it
        follows, which a worker executes whether this process stops or not."""
        return sum(1 for run in self._running.values() if not run.remote)

    def get(self, tenant_id: str, run_id: str) -> ActiveRun | None:
        """The run when it belongs to ``tenant_id``; another tenant's run is simply not there."""
        run = self._running.get(run_id) or self._ended.get(run_id)
        if run is None or run.tenant_id != tenant_id:
            return None
        return run

    def _end(self, run_id: str) -> None:
        run = self._running.pop(run_id, None)
        if run is not None:
            run.handle = None  # keep only where its events went, not the run itself
            self._ended[run_id] = run
