"""Background jobs: in-process by default, an arq queue on Redis when ``AKIS_REDIS_URL`` is set."""
from __future__ import annotations

from runtime.engine.background import Executor
from runtime.engine.background import InProcessBackgroundRunner as InProcessRunner
from runtime.redis_clients import RedisTimeouts

from .arq_runner import ArqRunner
from .codec import job_id


def make_runner(execute: Executor, redis_url: str = "", *,
                timeouts: RedisTimeouts | None = None) -> InProcessRunner | ArqRunner:
    """The runner for this deployment. ``execute`` is only used in-process; with Redis the
    workers run the jobs with their own executor (``timeouts``: the queue's Redis timeouts,
    by default the settings' defaults)."""
    if redis_url:
        return ArqRunner(redis_url, timeouts=timeouts)
    return InProcessRunner(execute)


__all__ = ["ArqRunner", "Executor", "InProcessRunner", "job_id", "make_runner"]
